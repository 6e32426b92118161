// Phi-3's LongRoPE factors (rope_factors_long / rope_factors_short, n_rot/2 divisors of the RoPE angles):
// the short ones apply while the context per sequence is within rope.scaling.original_context_length, the
// long ones past it, as llama.cpp chooses. Checked on the phi3 fixture rewritten with factors whose effect
// is known exactly: short factors of 1 change nothing, and long factors of 2 rotate exactly as linear
// RoPE scaling by 2 (theta / 2 and 0.5 * theta are the same float).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <unistd.h>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/session.h"
#include "test_support.h"

namespace cria::model {
namespace {

namespace fs = std::filesystem;

const fs::path kPhi3 = test::shared_dir() / "fixtures/models/arch/kjv-phi3-Q8_0.gguf";
constexpr int64_t kPairs = 16;  // the fixture's rope.dimension_count 32 / 2

// The phi3 fixture with its metadata changed by `meta` and F32 vectors `extra` added; returns its path.
fs::path rewrite(const std::string& tag, const std::function<void(gguf::Writer&)>& meta,
                 const std::vector<std::pair<std::string, std::vector<float>>>& extra) {
  auto file = gguf::File::open(kPhi3.string());
  EXPECT_TRUE(file.ok());
  gguf::Writer w;
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  meta(w);
  for (const auto& t : file->tensors()) {
    std::vector<int64_t> ne;
    for (size_t d = 0; d < static_cast<size_t>(t.n_dims); ++d) ne.push_back(t.ne[d]);
    EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, std::span(t.data, t.n_bytes)).ok());
  }
  for (const auto& [name, values] : extra) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
    EXPECT_TRUE(w.add_tensor(name, TensorType::F32, {static_cast<int64_t>(values.size())},
                             std::span(bytes, values.size() * sizeof(float)))
                    .ok());
  }
  const fs::path path = fs::temp_directory_path() / ("cria_rope_" + tag + "_" + std::to_string(::getpid()) + ".gguf");
  EXPECT_TRUE(w.write(path.string()).ok());
  return path;
}

// The logits after a 40-token prompt, with a context (per sequence) of n_ctx.
std::vector<float> logits(const fs::path& path, int n_ctx) {
  auto model = Model::load(path.string());
  EXPECT_TRUE(model.ok()) << model.error().message;
  auto session = Session::create(*model, {n_ctx, 64, 2}).value();
  std::vector<int32_t> prompt = {1};
  for (int i = 0; i < 39; ++i) prompt.push_back(100 + 37 * i % 3000);
  EXPECT_TRUE(session->decode(prompt).ok());
  return std::vector<float>(session->logits(), session->logits() + (*model)->n_vocab());
}

bool same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const auto kOriginalContext = [](gguf::Writer& w) {
  w.set("phi3.rope.scaling.original_context_length", gguf::Value(uint32_t{128}));
};

TEST(RopeFactors, ShortWithinTheOriginalContextLongPastIt) {
  CRIA_REQUIRE_FIXTURE(kPhi3);
  const fs::path factors = rewrite("factors", kOriginalContext,
                                   {{"rope_factors_long.weight", std::vector<float>(kPairs, 2.0f)},
                                    {"rope_factors_short.weight", std::vector<float>(kPairs, 1.0f)}});
  const fs::path linear = rewrite(
      "linear",
      [](gguf::Writer& w) {
        w.set("phi3.rope.scaling.type", gguf::Value(std::string("linear")));
        w.set("phi3.rope.scaling.factor", gguf::Value(2.0f));
      },
      {});
  const auto plain_64 = logits(kPhi3, 64), plain_256 = logits(kPhi3, 256);
  const auto factors_64 = logits(factors, 64), factors_128 = logits(factors, 128), factors_256 = logits(factors, 256);
  const auto linear_256 = logits(linear, 256);
  fs::remove(factors);
  fs::remove(linear);
  EXPECT_TRUE(same(plain_64, plain_256)) << "the context size alone changes nothing without factors";
  EXPECT_TRUE(same(factors_64, plain_64)) << "short factors of 1 within the original context";
  EXPECT_TRUE(same(factors_128, plain_64)) << "a context equal to the original one still uses the short factors";
  EXPECT_TRUE(same(factors_256, linear_256)) << "long factors of 2 past the original context";
  EXPECT_FALSE(same(factors_256, plain_256)) << "the long factors must change the logits";
}

TEST(RopeFactors, FactorsOfTheWrongLengthAreRefusedByName) {
  CRIA_REQUIRE_FIXTURE(kPhi3);
  const fs::path path = rewrite("short", kOriginalContext,
                                {{"rope_factors_long.weight", std::vector<float>(kPairs - 1, 2.0f)}});
  auto model = Model::load(path.string());
  fs::remove(path);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("rope_factors_long.weight"), std::string::npos) << model.error().message;
}

TEST(RopeFactors, DescribedWithTheOriginalContext) {
  CRIA_REQUIRE_FIXTURE(kPhi3);
  const fs::path path = rewrite("describe", kOriginalContext,
                                {{"rope_factors_long.weight", std::vector<float>(kPairs, 2.0f)},
                                 {"rope_factors_short.weight", std::vector<float>(kPairs, 1.0f)}});
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok());
  const std::string text = describe_architecture(*file);
  fs::remove(path);
  EXPECT_NE(text.find("long/short rope factors (long past 128 tokens)"), std::string::npos) << text;
}

}  // namespace
}  // namespace cria::model
