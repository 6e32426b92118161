// model::describe and describe_architecture: the one-line description of a model's architecture that
// `cria info` and the load banners print, on every architecture fixture, and on files cria cannot run
// (an unknown architecture, incomplete metadata, a vocabulary without weights), from the header alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "model/hparams.h"
#include "test_support.h"

namespace cria::model {
namespace {

namespace fs = std::filesystem;

struct Expected {
  const char* file;
  const char* description;
};

const Expected kArchFixtures[] = {
    {"kjv-qwen2-Q8_0.gguf", "qwen2 (NEOX rope, Q/K/V biases)"},
    {"kjv-qwen3-Q8_0.gguf", "qwen3 (NEOX rope, Q/K norms)"},
    {"kjv-gemma-Q8_0.gguf", "gemma (NEOX rope, GELU FFN, scaled embeddings, tied output)"},
    {"kjv-gemma2-Q8_0.gguf",
     "gemma2 (NEOX rope, GELU FFN, scaled embeddings, post-norms, soft-caps 50/30, sliding window 64 on even "
     "layers, tied output)"},
    {"kjv-gemma3-Q8_0.gguf",
     "gemma3 (NEOX rope, GELU FFN, scaled embeddings, Q/K norms, post-norms, sliding window 64 on 5 of 6 layers "
     "with rope base 10000, tied output)"},
    {"kjv-phi3-Q8_0.gguf", "phi3 (NEOX rope, fused QKV, fused gate/up)"},
    {"kjv-llama-moe-Q8_0.gguf", "llama (4 experts, 2 active)"},
    {"kjv-qwen2moe-Q8_0.gguf", "qwen2moe (NEOX rope, 4 experts, 2 active, shared expert, Q/K/V biases)"},
    {"kjv-qwen3moe-Q8_0.gguf", "qwen3moe (NEOX rope, Q/K norms, 4 experts, 2 active)"},
};

TEST(Describe, NamesEachFixturesArchitectureAndFeatures) {
  const fs::path dir = test::shared_dir() / "fixtures/models/arch";
  CRIA_REQUIRE_FIXTURE(dir);
  for (const Expected& e : kArchFixtures) {
    SCOPED_TRACE(e.file);
    const fs::path path = dir / e.file;
    CRIA_REQUIRE_FIXTURE(path);
    auto file = gguf::File::open(path.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto hp = ModelHparams::from_gguf(*file);
    ASSERT_TRUE(hp.ok()) << hp.error().message;
    EXPECT_EQ(describe(*hp, *file), e.description);
    EXPECT_EQ(describe_architecture(*file), e.description);
  }
}

TEST(Describe, PlainLlamaHasNoFeatureList) {
  const fs::path path = test::kjv_gguf_dir() / "kjv-Q8_0.gguf";
  CRIA_REQUIRE_FIXTURE(path);
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(describe_architecture(*file), "llama");
}

// Files written here with metadata only: what cria says of files it cannot run.
class DescribeHeader : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  gguf::File write(const std::vector<std::pair<std::string, gguf::Value>>& metadata, bool with_tensor) {
    gguf::Writer w;
    for (const auto& [key, value] : metadata) w.set(key, value);
    if (with_tensor) {
      EXPECT_TRUE(w.add_tensor("token_embd.weight", TensorType::F32, {4, 2}, bytes_).ok());
    }
    EXPECT_TRUE(w.write(path_.string()).ok());
    auto file = gguf::File::open(path_.string());
    EXPECT_TRUE(file.ok()) << file.error().message;
    return std::move(*file);
  }
  fs::path path_ = fs::temp_directory_path() / ("cria_describe_" + std::to_string(::getpid()) + ".gguf");
  std::vector<uint8_t> bytes_ = std::vector<uint8_t>(32, 0);
};

TEST_F(DescribeHeader, UnknownArchitectureIsNamedAsNotSupported) {
  auto file = write({{"general.architecture", gguf::Value(std::string("mamba"))}}, true);
  EXPECT_EQ(describe_architecture(file), "mamba (not supported by cria)");
}

TEST_F(DescribeHeader, IncompleteMetadataSaysWhatIsMissing) {
  auto file = write({{"general.architecture", gguf::Value(std::string("qwen2"))}}, true);
  const std::string text = describe_architecture(file);
  EXPECT_EQ(text.rfind("qwen2 (cannot run: ", 0), 0u) << text;
  EXPECT_NE(text.find("qwen2.context_length"), std::string::npos) << text;
  EXPECT_EQ(text.find(path_.string()), std::string::npos) << text;  // the path is not repeated
}

TEST_F(DescribeHeader, VocabularyFileAndFileWithoutArchitecture) {
  auto vocab = write({{"general.architecture", gguf::Value(std::string("llama"))}}, false);
  EXPECT_EQ(describe_architecture(vocab), "llama (no tensors: a vocabulary or metadata file)");
  auto bare = write({{"general.name", gguf::Value(std::string("x"))}}, true);
  EXPECT_EQ(describe_architecture(bare), "");
}

}  // namespace
}  // namespace cria::model
