// `cria quantize` against llama-quantize: the KJV F32 model quantized by cria to every mix that has a
// llama.cpp-made fixture must give the same tensor types, an error against the F32 weights no larger
// than llama.cpp's on every tensor (today every tensor is byte-identical), and for a few mixes a
// perplexity within 2% of llama.cpp's on its own file.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/perplexity.h"
#include "engine/quantize_model.h"
#include "engine/synth_model.h"
#include "engine/synth_test_support.h"
#include "model/model.h"
#include "model/session.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::engine {
namespace {

namespace fs = std::filesystem;

struct MixCase {
  const char* mix;
  bool pure;
  bool perplexity;  // also run the (slower) perplexity comparison
};

const MixCase kCases[] = {
    {"Q4_0", false, true},    {"Q4_1", false, false},   {"Q5_0", false, false},   {"Q5_1", false, false},
    {"Q8_0", false, true},    {"Q2_K", false, true},    {"Q3_K_S", false, false}, {"Q3_K_M", false, false},
    {"Q3_K_L", false, false}, {"Q4_K_S", false, false}, {"Q4_K_M", false, true},  {"Q5_K_S", false, false},
    {"Q5_K_M", false, false}, {"Q6_K", false, false},    {"IQ4_NL", false, false}, {"IQ4_XS", false, false},
    {"TQ1_0", false, false},  {"TQ2_0", false, false},   {"Q2_K", true, false},    {"Q3_K", true, false},
    {"Q4_K", true, false},    {"Q5_K", true, false},
};

std::string fixture_name(const MixCase& c) {
  return std::string("kjv-") + c.mix + (c.pure ? "-pure" : "") + ".gguf";
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("cria-quantize-test-" + std::to_string(::getpid()) + "-" + name);
}

std::vector<float> decode(const gguf::TensorInfo& t) {
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    t.traits().dequantize(t.data + static_cast<size_t>(r) * t.row_bytes(), out.data() + r * t.ne[0], t.ne[0]);
  }
  return out;
}

double squared_error(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return sum;
}

class LlamaQuantizeParity : public testing::TestWithParam<MixCase> {};

TEST_P(LlamaQuantizeParity, MatchesLlamaQuantize) {
  const MixCase c = GetParam();
  const fs::path f32_path = test::kjv_gguf_dir() / "kjv-F32.gguf";
  const fs::path theirs_path = test::kjv_gguf_dir() / fixture_name(c);
  CRIA_REQUIRE_FIXTURE(f32_path);
  CRIA_REQUIRE_FIXTURE(theirs_path);
  auto f32 = gguf::File::open(f32_path.string());
  auto theirs = gguf::File::open(theirs_path.string());
  ASSERT_TRUE(f32.ok() && theirs.ok());

  QuantizeOptions options;
  options.mix = *find_quant_mix(c.mix);
  options.pure = c.pure;
  options.n_threads = 1;
  const fs::path ours_path = temp_path(fixture_name(c));
  ASSERT_TRUE(quantize_model(*f32, ours_path.string(), options).ok());
  auto ours = gguf::File::open(ours_path.string());
  fs::remove(ours_path);
  ASSERT_TRUE(ours.ok()) << ours.error().message;

  EXPECT_EQ(*ours->get_u32("general.file_type"), *theirs->get_u32("general.file_type"));
  ASSERT_EQ(ours->tensors().size(), theirs->tensors().size());
  int identical = 0;
  for (const auto& mine : ours->tensors()) {
    const gguf::TensorInfo* other = theirs->find_tensor(mine.name);
    const gguf::TensorInfo* original = f32->find_tensor(mine.name);
    ASSERT_NE(other, nullptr) << mine.name;
    ASSERT_EQ(traits(mine.type).name, traits(other->type).name) << mine.name;
    ASSERT_EQ(mine.ne, other->ne) << mine.name;
    ASSERT_EQ(mine.n_bytes, other->n_bytes) << mine.name;
    identical += std::equal(mine.data, mine.data + mine.n_bytes, other->data);
    const auto reference = decode(*original);
    const double error_ours = squared_error(decode(mine), reference);
    const double error_theirs = squared_error(decode(*other), reference);
    EXPECT_LE(error_ours, error_theirs * (1 + 1e-9)) << mine.name << " (" << traits(mine.type).name << ")";
  }
  std::printf("  %s: %d of %zu tensors byte-identical to llama-quantize's\n", fixture_name(c).c_str(), identical,
              ours->tensors().size());

  if (!c.perplexity) return;
  const fs::path reference_dir = test::shared_dir() / "fixtures/models/kjv/reference";
  CRIA_REQUIRE_FIXTURE(reference_dir / "llama_cpp_outputs.json");
  std::ifstream in(reference_dir / "llama_cpp_outputs.json");
  const double expected = nlohmann::json::parse(in)[fixture_name(c)]["perplexity"][0].get<double>();
  auto tok = tokenizer::Tokenizer::load(*ours);
  auto model = model::Model::from_file(std::move(*ours));
  ASSERT_TRUE(tok.ok() && model.ok());
  auto session = model::Session::create(*model, {256, 256, 1});
  ASSERT_TRUE(session.ok());
  const auto tokens = tok->encode(test::read_file(reference_dir / "heldout-visible.txt"), true, false);
  auto result = perplexity(**session, tokens, tok->bos());
  ASSERT_TRUE(result.ok()) << result.error().message;
  std::printf("  %s: PPL %.4f, llama.cpp's file %.4f (%+.3f%%)\n", fixture_name(c).c_str(), result->ppl, expected,
              100.0 * (result->ppl / expected - 1.0));
  EXPECT_NEAR(result->ppl / expected, 1.0, 0.02);
}

INSTANTIATE_TEST_SUITE_P(Mixes, LlamaQuantizeParity, testing::ValuesIn(kCases), [](const auto& info) {
  return std::string(info.param.mix) + (info.param.pure ? "_pure" : "");
});

class QuantizePlan : public testing::Test {
 protected:
  void SetUp() override {
    path_ = test::kjv_gguf_dir() / "kjv-F32.gguf";
    CRIA_REQUIRE_FIXTURE(path_);
    auto file = gguf::File::open(path_.string());
    ASSERT_TRUE(file.ok());
    file_ = std::make_unique<gguf::File>(std::move(*file));
  }
  fs::path path_;
  std::unique_ptr<gguf::File> file_;
};

TEST_F(QuantizePlan, OverridesWinOverTheMix) {
  QuantizeOptions options;
  options.mix = QuantMix::Q4_0;
  options.output_tensor_type = TensorType::Q8_0;
  options.token_embedding_type = TensorType::Q5_1;
  auto plan = plan_quantization(*file_, options);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  for (const auto& step : *plan) {
    if (step.tensor->name == "output.weight") EXPECT_EQ(step.to, TensorType::Q8_0);
    else if (step.tensor->name == "token_embd.weight") EXPECT_EQ(step.to, TensorType::Q5_1);
    else if (step.tensor->n_dims == 1) EXPECT_TRUE(step.copy) << step.tensor->name;
    else EXPECT_EQ(step.to, TensorType::Q4_0) << step.tensor->name;
  }
}

TEST_F(QuantizePlan, PureIgnoresTheMixRules) {
  QuantizeOptions options;
  options.mix = QuantMix::Q4_K_M;
  options.pure = true;
  auto plan = plan_quantization(*file_, options);
  ASSERT_TRUE(plan.ok());
  for (const auto& step : *plan) {
    if (step.tensor->n_dims == 2) {
      EXPECT_EQ(step.to, TensorType::Q4_K) << step.tensor->name;
    }
  }
}

TEST_F(QuantizePlan, RequantizingNeedsTheFlagAndWritesNothing) {
  const fs::path q4_path = test::kjv_gguf_dir() / "kjv-Q4_0.gguf";
  CRIA_REQUIRE_FIXTURE(q4_path);
  auto q4 = gguf::File::open(q4_path.string());
  ASSERT_TRUE(q4.ok());
  QuantizeOptions options;
  options.mix = QuantMix::Q8_0;
  const fs::path out = temp_path("requantized.gguf");
  auto status = quantize_model(*q4, out.string(), options);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("--allow-requantize"), std::string::npos) << status.error().message;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));

  options.allow_requantize = true;
  ASSERT_TRUE(quantize_model(*q4, out.string(), options).ok());
  auto written = gguf::File::open(out.string());
  fs::remove(out);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->find_tensor("blk.0.ffn_up.weight")->type, TensorType::Q8_0);
}

TEST_F(QuantizePlan, TypeWithoutQuantizerIsAnErrorNamingIt) {
  QuantizeOptions options;
  options.mix = QuantMix::Q4_0;
  options.output_tensor_type = TensorType::IQ2_XXS;
  auto plan = plan_quantization(*file_, options);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("IQ2_XXS"), std::string::npos) << plan.error().message;
  EXPECT_NE(plan.error().message.find("output.weight"), std::string::npos) << plan.error().message;
}

// The types planned for each tensor of a file, by name.
std::map<std::string, TensorType> planned_types(const gguf::File& file, QuantMix mix) {
  QuantizeOptions options;
  options.mix = mix;
  options.allow_requantize = true;
  auto plan = plan_quantization(file, options);
  EXPECT_TRUE(plan.ok()) << plan.error().message;
  std::map<std::string, TensorType> types;
  if (!plan.ok()) return types;
  for (const auto& step : *plan) types[step.tensor->name] = step.to;
  return types;
}

// Requantizing the Qwen2-MoE fixture (4 experts of 192, a shared expert of 384): the routers stay F32,
// the 3-D expert tensors are quantized with ffn_down's rules by layer, and the result loads and runs.
TEST(QuantizeExperts, Qwen2MoeFixtureKeepsItsRoutersF32) {
  const fs::path path = test::shared_dir() / "fixtures/models/arch/kjv-qwen2moe-Q8_0.gguf";
  CRIA_REQUIRE_FIXTURE(path);
  auto input = gguf::File::open(path.string());
  ASSERT_TRUE(input.ok()) << input.error().message;
  auto types = planned_types(*input, QuantMix::Q4_K_M);
  for (const char* router : {"blk.0.ffn_gate_inp.weight", "blk.1.ffn_gate_inp.weight", "blk.0.ffn_gate_inp_shexp.weight"}) {
    EXPECT_EQ(types[router], TensorType::F32) << router;
  }
  EXPECT_EQ(types["blk.0.ffn_gate_exps.weight"], TensorType::Q4_K);
  EXPECT_EQ(types["blk.0.ffn_down_exps.weight"], TensorType::Q5_0);  // Q4_K, rows of 192: fallback
  EXPECT_EQ(types["blk.1.ffn_down_exps.weight"], TensorType::Q8_0);  // use_more_bits(1, 2): Q6_K, fallback
  EXPECT_EQ(types["blk.1.ffn_down_shexp.weight"], TensorType::Q8_0);
  EXPECT_EQ(types["blk.0.attn_v.weight"], TensorType::Q4_K);  // 4 experts: the dense rules

  QuantizeOptions options;
  options.mix = QuantMix::Q4_K_M;
  options.allow_requantize = true;
  options.n_threads = 2;
  const fs::path out = temp_path("qwen2moe-Q4_K_M.gguf");
  auto status = quantize_model(*input, out.string(), options);
  ASSERT_TRUE(status.ok()) << status.error().message;
  auto model = model::Model::load(out.string());
  fs::remove(out);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->file().find_tensor("blk.0.ffn_gate_inp.weight")->type, TensorType::F32);
  EXPECT_EQ((*model)->file().find_tensor("blk.0.ffn_up_exps.weight")->type, TensorType::Q4_K);
  auto session = model::Session::create(*model, {32, 8, 2});
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_TRUE((*session)->decode(std::vector<int32_t>{1, 450, 3303}).ok());
}

// A file of 8 experts (a tiny synth model in F16) quantized as Q4_K_M: expert_count is read from the
// metadata and llama.cpp's Mixtral rules apply (attn_v, attn_k Q8_0, attn_output Q5_K).
TEST(QuantizeExperts, EightExpertFileGetsTheMixtralRules) {
  const fs::path path = temp_path("eight-experts-F16.gguf");
  auto written = test::write_synth(test::tiny_synth_shape("tinyllama-8x1.1b", 256, 256), QuantMix::F16, path.string());
  ASSERT_TRUE(written.ok()) << written.error().message;
  auto input = gguf::File::open(path.string());
  ASSERT_TRUE(input.ok()) << input.error().message;
  auto types = planned_types(*input, QuantMix::Q4_K_M);
  fs::remove(path);
  for (int l : {0, 1}) {
    const std::string p = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(types[p + "attn_v.weight"], TensorType::Q8_0) << l;
    EXPECT_EQ(types[p + "attn_k.weight"], TensorType::Q8_0) << l;
    EXPECT_EQ(types[p + "attn_output.weight"], TensorType::Q5_K) << l;
    EXPECT_EQ(types[p + "attn_q.weight"], TensorType::Q4_K) << l;
    EXPECT_EQ(types[p + "ffn_gate_inp.weight"], TensorType::F32) << l;
    EXPECT_EQ(types[p + "ffn_gate_exps.weight"], TensorType::Q4_K) << l;
  }
  EXPECT_EQ(types["blk.0.ffn_down_exps.weight"], TensorType::Q4_K);
  EXPECT_EQ(types["blk.1.ffn_down_exps.weight"], TensorType::Q6_K);  // use_more_bits(1, 2)
  EXPECT_EQ(types["output.weight"], TensorType::Q6_K);
}

}  // namespace
}  // namespace cria::engine
