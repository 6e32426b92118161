// `cria pull` against a stand-in Hub on the loopback (fake_hub.h): a single file and a 3-shard split model
// fetched, checked and loadable; the same pull again from the cache with no file request (and offline with
// no request at all); resumed downloads after the connection drops at 30% and 80%; a corrupted byte (a
// checksum error, nothing left in the cache); unknown repository and quant; a gated repository without and
// with a token; a slow transfer's progress and a stalled one's timeout; cache listing and removal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fake_hub.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_split.h"
#include "hub/pull.h"

namespace cria::hub {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

test::FakeHub::File hub_file(const fs::path& p) {
  return {read_all(p), *sha256_file(p.string())};
}

class Pull : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cria_pull_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "src");
    const std::string kjv = CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf";
    auto file = gguf::File::open(kjv);
    ASSERT_TRUE(file.ok());
    gguf::SplitOptions so;
    so.max_tensors = 20;
    auto shards = gguf::split_gguf(*file, so, (dir_ / "src" / "kjv-F16").string());
    ASSERT_TRUE(shards.ok());
    test::FakeHub::Repo repo;
    repo.files["kjv.Q8_0.gguf"] = hub_file(kjv);
    repo.files["README.md"] = {"# KJV", ""};
    for (const auto& s : *shards) repo.files["f16/" + fs::path(s).filename().string()] = hub_file(s);
    hub_.add("cria/kjv-GGUF", repo);
    test::FakeHub::Repo gated;
    gated.gated = true;
    gated.files["kjv.Q8_0.gguf"] = repo.files["kjv.Q8_0.gguf"];
    hub_.add("cria/gated", gated);
    options_.endpoint = hub_.endpoint();
    options_.cache = dir_ / "cache";
    options_.download.backoff_s = 0.01;
    options_.download.stall_timeout_s = 2;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<std::string> pull_ref(const std::string& ref) {
    auto r = parse_hub_ref(ref);
    EXPECT_TRUE(r.ok());
    return pull(*r, options_);
  }

  fs::path dir_;
  test::FakeHub hub_;
  PullOptions options_;
};

TEST_F(Pull, SingleFileThenFromTheCache) {
  auto path = pull_ref("cria/kjv-GGUF");  // the only quant there is: Q8_0
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(*path, (options_.cache / "cria/kjv-GGUF/kjv.Q8_0.gguf").string());
  EXPECT_TRUE(gguf::File::open(*path).ok());
  EXPECT_EQ(hub_.file_requests, 1);
  auto again = pull_ref("cria/kjv-GGUF:q8_0");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(hub_.file_requests, 1) << "the cached file is not fetched again";
  const int listings = hub_.listing_requests;
  options_.offline = true;
  auto offline = pull_ref("cria/kjv-GGUF");
  ASSERT_TRUE(offline.ok()) << offline.error().message;
  EXPECT_EQ(hub_.listing_requests, listings) << "offline: no request at all";
  EXPECT_FALSE(pull_ref("cria/kjv-GGUF:Q4_0").ok()) << "offline, never fetched";
  // The Hub unreachable (nothing listens there): the cached copy, after one attempt, without waiting.
  options_.offline = false;
  options_.endpoint = "http://127.0.0.1:1";
  const auto start = std::chrono::steady_clock::now();
  auto unreachable = pull_ref("cria/kjv-GGUF");
  ASSERT_TRUE(unreachable.ok()) << unreachable.error().message;
  EXPECT_EQ(*unreachable, *path);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  const auto cached = list_cache(options_.cache);
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached[0].repo, "cria/kjv-GGUF");
  EXPECT_EQ(cached[0].quant, "Q8_0");
  EXPECT_EQ(cached[0].size, fs::file_size(*path));
  auto removed = remove_cached(options_.cache, {"cria/kjv-GGUF", "Q8_0"});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_TRUE(list_cache(options_.cache).empty());
  EXPECT_FALSE(remove_cached(options_.cache, {"cria/kjv-GGUF", ""}).ok());
}

TEST_F(Pull, SplitModelWhole) {
  auto path = pull_ref("cria/kjv-GGUF:F16");
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(fs::path(*path).filename(), "kjv-F16-00001-of-00003.gguf");
  auto f = gguf::File::open(*path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->n_shards(), 3);
  EXPECT_EQ(f->tensors().size(), 57u);
  EXPECT_EQ(hub_.file_requests, 3);
}

TEST_F(Pull, ResumesAfterTheConnectionDrops) {
  for (double at : {0.3, 0.8}) {
    hub_.drop_at = at;
    const int before = hub_.range_requests;
    auto path = pull_ref("cria/kjv-GGUF");
    ASSERT_TRUE(path.ok()) << path.error().message;
    EXPECT_EQ(hub_.range_requests, before + 1) << "resumed with a Range request after dropping at " << at;
    EXPECT_EQ(read_all(*path), read_all(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf"));
    ASSERT_TRUE(remove_cached(options_.cache, {"cria/kjv-GGUF", ""}).ok());
  }
}

TEST_F(Pull, CorruptedByteIsAChecksumErrorAndLeavesNothing) {
  hub_.corrupt = true;
  auto path = pull_ref("cria/kjv-GGUF");
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.error().message.find("checksum mismatch"), std::string::npos) << path.error().message;
  EXPECT_TRUE(list_cache(options_.cache).empty());
  EXPECT_FALSE(fs::exists(options_.cache / "cria/kjv-GGUF/kjv.Q8_0.gguf.part"));
}

TEST_F(Pull, UnknownRepositoryAndQuant) {
  auto repo = pull_ref("cria/nothing");
  ASSERT_FALSE(repo.ok());
  EXPECT_NE(repo.error().message.find("repository cria/nothing: not found (HTTP 404)"), std::string::npos) << repo.error().message;
  auto quant = pull_ref("cria/kjv-GGUF:Q4_K_M");
  ASSERT_FALSE(quant.ok());
  EXPECT_EQ(quant.error().message, "cria/kjv-GGUF has no Q4_K_M file; it has: F16, Q8_0");
}

TEST_F(Pull, GatedRepositoryWantsAToken) {
  auto denied = pull_ref("cria/gated");
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.error().message.find("set HF_TOKEN"), std::string::npos) << denied.error().message;
  options_.download.token = "good-token";
  auto allowed = pull_ref("cria/gated");
  ASSERT_TRUE(allowed.ok()) << allowed.error().message;  // the fake CDN refuses a request that carries the token
}

TEST_F(Pull, SlowTransfersReportProgressAndStalledOnesTimeOut) {
  hub_.slow_ms = 5;
  int calls = 0;
  uint64_t last = 0;
  options_.download.progress = [&](uint64_t done, uint64_t total, double) {
    ++calls;
    EXPECT_GE(done, last);
    EXPECT_EQ(total, fs::file_size(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf"));
    last = done;
  };
  ASSERT_TRUE(pull_ref("cria/kjv-GGUF").ok());
  EXPECT_GT(calls, 20);
  EXPECT_EQ(last, fs::file_size(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf"));
  hub_.slow_ms = 0;
  ASSERT_TRUE(remove_cached(options_.cache, {"cria/kjv-GGUF", ""}).ok());
  hub_.stall = true;
  options_.download.stall_timeout_s = 1;
  options_.download.retries = 0;
  options_.download.progress = nullptr;
  const auto start = std::chrono::steady_clock::now();
  auto stalled = pull_ref("cria/kjv-GGUF");
  ASSERT_FALSE(stalled.ok());
  EXPECT_NE(stalled.error().message.find("run the same command again to resume"), std::string::npos) << stalled.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

}  // namespace
}  // namespace cria::hub
