// `cria info` on every fixture, in text and JSON, and its errors on bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "test_support.h"

namespace cria::test {
namespace {

TEST(CliInfo, PrintsEveryFixture) {
  const auto files = gguf_files_under(shared_dir() / "fixtures");
  if (files.empty()) GTEST_SKIP() << "fixture absent: " << shared_dir() / "fixtures";
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    auto file = gguf::File::open(path.string());
    ASSERT_TRUE(file.ok());
    auto r = run_cria("info '" + path.string() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("version:     GGUF v" + std::to_string(file->version())), std::string::npos);
    EXPECT_NE(r.out.find("metadata: " + std::to_string(file->metadata().size()) + " keys"), std::string::npos);
    EXPECT_NE(r.out.find("tensors: " + std::to_string(file->tensors().size())), std::string::npos);
    EXPECT_NE(r.out.find("totals: "), std::string::npos);
    for (const auto& t : file->tensors()) {
      EXPECT_NE(r.out.find(t.name), std::string::npos) << t.name;
    }
  }
}

TEST(CliInfo, JsonMatchesTheFile) {
  const auto path = kjv_gguf_dir() / "kjv-Q4_K_M.gguf";
  CRIA_REQUIRE_FIXTURE(path);
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok());
  auto r = run_cria("info --json '" + path.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["version"], 3);
  EXPECT_EQ(doc["alignment"], 32);
  ASSERT_EQ(doc["tensors"].size(), file->tensors().size());
  uint64_t params = 0, bytes = 0;
  for (size_t i = 0; i < file->tensors().size(); ++i) {
    const auto& t = file->tensors()[i];
    EXPECT_EQ(doc["tensors"][i]["name"], t.name);
    EXPECT_EQ(doc["tensors"][i]["type"], std::string(t.traits().name));
    EXPECT_EQ(doc["tensors"][i]["offset"], t.offset);
    EXPECT_EQ(doc["tensors"][i]["bytes"], t.n_bytes);
    params += static_cast<uint64_t>(t.n_elements());
    bytes += t.n_bytes;
  }
  EXPECT_EQ(doc["totals"]["parameters"], params);
  EXPECT_EQ(doc["totals"]["bytes"], bytes);
  EXPECT_EQ(params, 6819072u);  // the KJV model's documented parameter count
  bool saw_tokens = false;
  for (const auto& kv : doc["metadata"]) {
    if (kv["key"] == "tokenizer.ggml.tokens") {
      saw_tokens = true;
      EXPECT_EQ(kv["value"]["length"], 4096);
      EXPECT_EQ(kv["value"]["first"].size(), 8u);  // long arrays abbreviated
      EXPECT_EQ(kv["value"]["first"][0], "<unk>");
    }
  }
  EXPECT_TRUE(saw_tokens);
}

TEST(CliInfo, CheckDecodesEveryTensor) {
  const auto path = kjv_gguf_dir() / "kjv-Q3_K_M.gguf";
  CRIA_REQUIRE_FIXTURE(path);
  auto r = run_cria("info --check '" + path.string() + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("check: all 57 tensors decode to finite values"), std::string::npos) << r.out;
}

// The architecture line: what cria runs, with its features, and for an architecture it does not run the
// name and "(not supported by cria)", the rest of the header shown as for any file.
TEST(CliInfo, NamesTheArchitectureEvenWhenCriaDoesNotRunIt) {
  const auto qwen2 = shared_dir() / "fixtures/models/arch/kjv-qwen2moe-Q8_0.gguf";
  CRIA_REQUIRE_FIXTURE(qwen2);
  auto r = run_cria("info '" + qwen2.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\narchitecture: qwen2moe (NEOX rope, 4 experts, 2 active, shared expert, Q/K/V biases)\n"),
            std::string::npos)
      << r.out;

  const auto path = std::filesystem::temp_directory_path() / ("cria_info_mamba_" + std::to_string(::getpid()) + ".gguf");
  gguf::Writer w;
  w.set("general.architecture", gguf::Value(std::string("mamba")));
  const std::vector<uint8_t> zeros(64, 0);
  ASSERT_TRUE(w.add_tensor("token_embd.weight", TensorType::F32, {4, 4}, zeros).ok());
  ASSERT_TRUE(w.write(path.string()).ok());
  auto text = run_cria("info '" + path.string() + "'");
  auto json = run_cria("info --json '" + path.string() + "'");
  std::filesystem::remove(path);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("\narchitecture: mamba (not supported by cria)\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("token_embd.weight"), std::string::npos) << text.out;
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["architecture"], "mamba (not supported by cria)");
}

TEST(CliInfo, BadInputGetsOneLineErrorAndNonZeroExit) {
  auto missing = run_cria("info /nonexistent/model.gguf");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(missing.err, "cria: error: /nonexistent/model.gguf: cannot open: No such file or directory\n");

  const std::string not_gguf = std::string(CRIA_SOURCE_DIR) + "/CMakeLists.txt";
  auto text = run_cria("info '" + not_gguf + "'");
  EXPECT_NE(text.exit_code, 0);
  EXPECT_NE(text.err.find("bad magic"), std::string::npos) << text.err;

  auto no_file = run_cria("info");
  EXPECT_NE(no_file.exit_code, 0);
  auto unknown = run_cria("frobnicate");
  EXPECT_NE(unknown.exit_code, 0);
}

}  // namespace
}  // namespace cria::test
