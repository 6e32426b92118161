// `cria pull`, `cria ls`, `cria rm` and -hf on run, against the stand-in Hub (tests/hub/fake_hub.h) through
// HF_ENDPOINT, with the cache in a temporary CRIA_CACHE: the pulled file runs as -m does, -hf with
// --offline runs without the Hub, and errors are one line with exit 1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/cli_support.h"
#include "hub/download.h"
#include "hub/fake_hub.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

TEST(CliPull, PullListRunRemove) {
  const fs::path cache = fs::temp_directory_path() / ("cria_cli_pull_" + std::to_string(::getpid()));
  fs::remove_all(cache);
  const std::string kjv = CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf";
  std::ifstream in(kjv, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  FakeHub hub;
  FakeHub::Repo repo;
  repo.files["kjv.Q8_0.gguf"] = {ss.str(), *hub::sha256_file(kjv)};
  hub.add("cria/kjv-GGUF", repo);
  const std::string env = "env HF_ENDPOINT=" + hub.endpoint() + " CRIA_CACHE=" + cache.string() + " HF_TOKEN=";

  auto pulled = run_cria("pull cria/kjv-GGUF", "", env);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  const std::string path = (cache / "cria/kjv-GGUF/kjv.Q8_0.gguf").string();
  EXPECT_EQ(pulled.out, path + "\n");
  EXPECT_NE(pulled.err.find("100.0%"), std::string::npos) << "progress reaches the end: " << pulled.err;
  auto ls = run_cria("ls", "", env);
  EXPECT_NE(ls.out.find("cria/kjv-GGUF"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("Q8_0"), std::string::npos) << ls.out;

  const std::string gen = " -p 'In the beginning' -n 8 --temp 0 --no-display-prompt";
  auto by_path = run_cria("run -m " + kjv + gen);
  ASSERT_EQ(by_path.exit_code, 0);
  auto by_hf = run_cria("-hf cria/kjv-GGUF:Q8_0" + gen, "", env);
  ASSERT_EQ(by_hf.exit_code, 0) << by_hf.err;
  EXPECT_EQ(by_hf.out, by_path.out);
  EXPECT_EQ(hub.file_requests, 1) << "the second use comes from the cache";
  const int listings = hub.listing_requests;
  auto offline = run_cria("-hf cria/kjv-GGUF:Q8_0 --offline" + gen, "", env);
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(hub.listing_requests, listings);

  auto missing = run_cria("pull cria/kjv-GGUF:Q4_K_M", "", env);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("has no Q4_K_M file; it has: Q8_0"), std::string::npos) << missing.err;
  // A plain URL (the stand-in CDN's address for the same file) lands under url/ in the cache.
  auto url = run_cria("pull " + hub.endpoint() + "/cdn/cria/kjv-GGUF/kjv.Q8_0.gguf", "", env);
  ASSERT_EQ(url.exit_code, 0) << url.err;
  EXPECT_EQ(url.out.rfind((cache / "url").string(), 0), 0u) << url.out;
  EXPECT_EQ(fs::file_size(url.out.substr(0, url.out.size() - 1)), fs::file_size(kjv));

  auto rm = run_cria("rm cria/kjv-GGUF", "", env);
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(run_cria("rm cria/kjv-GGUF", "", env).exit_code, 1);
  fs::remove_all(cache);
}

}  // namespace
}  // namespace cria::test
