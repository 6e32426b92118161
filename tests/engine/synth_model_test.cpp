// The synth presets of other architectures than Llama's: the tensors planned for qwen2.5-1.5b (Q/K/V
// biases, tied embeddings) and tinyllama-8x1.1b (Mixtral-style experts) and their types, and tiny
// variants of both written, loaded by model::Model and run. Shapes the synth cannot write are errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/speed_test.h"
#include "engine/synth_model.h"
#include "engine/synth_test_support.h"
#include "model/model.h"
#include "model/session.h"
#include "quant/quant_mix.h"

namespace cria::engine {
namespace {

namespace fs = std::filesystem;
using T = TensorType;

std::map<std::string, const SynthTensor*> by_name(const std::vector<SynthTensor>& plan) {
  std::map<std::string, const SynthTensor*> m;
  for (const auto& t : plan) m[t.name] = &t;
  return m;
}

size_t index_of(const std::vector<SynthTensor>& plan, const std::string& name) {
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].name == name) return i;
  }
  return plan.size();
}

uint64_t n_params(const std::vector<SynthTensor>& plan) {
  uint64_t n = 0;
  for (const auto& t : plan) n += static_cast<uint64_t>(t.n_elements());
  return n;
}

void expect_tensor(const std::map<std::string, const SynthTensor*>& tensors, const std::string& name, T type,
                   const std::vector<int64_t>& ne) {
  auto it = tensors.find(name);
  ASSERT_NE(it, tensors.end()) << name;
  EXPECT_EQ(it->second->type, type) << name << ": " << traits(it->second->type).name;
  EXPECT_EQ(it->second->ne, ne) << name;
}

TEST(SynthPresets, Qwen25HasQwen2ShapesBiasesAndTiedEmbeddings) {
  const SynthShape* shape = find_synth_preset("qwen2.5-1.5b");
  ASSERT_NE(shape, nullptr);
  EXPECT_EQ(shape->arch, "qwen2");
  EXPECT_EQ(shape->n_vocab, 151936u);
  EXPECT_EQ(shape->rope_freq_base, 1e6f);
  EXPECT_EQ(shape->rms_eps, 1e-6f);
  const auto plan = plan_synth_tensors(*shape, QuantMix::Q4_0, false);
  ASSERT_EQ(plan.size(), 1 + 28 * 12 + 1u);  // per layer: 2 norms, Q/K/V with biases, output, gate/up/down
  const auto tensors = by_name(plan);
  EXPECT_EQ(tensors.count("output.weight"), 0u);
  // Tied: the embedding is the output head, so it takes the output's type (Q6_K, as llama-quantize's).
  expect_tensor(tensors, "token_embd.weight", T::Q6_K, {1536, 151936});
  for (int l : {0, 27}) {
    const std::string p = "blk." + std::to_string(l) + ".";
    expect_tensor(tensors, p + "attn_q.weight", T::Q4_0, {1536, 1536});
    expect_tensor(tensors, p + "attn_q.bias", T::F32, {1536});
    expect_tensor(tensors, p + "attn_k.weight", T::Q4_0, {1536, 256});  // 2 KV heads of 128
    expect_tensor(tensors, p + "attn_k.bias", T::F32, {256});
    expect_tensor(tensors, p + "attn_v.weight", T::Q4_0, {1536, 256});
    expect_tensor(tensors, p + "attn_v.bias", T::F32, {256});
    expect_tensor(tensors, p + "attn_output.weight", T::Q4_0, {1536, 1536});
    expect_tensor(tensors, p + "ffn_gate.weight", T::Q4_0, {1536, 8960});
    expect_tensor(tensors, p + "ffn_down.weight", T::Q4_0, {8960, 1536});
    EXPECT_EQ(tensors.count(p + "attn_output.bias"), 0u);
    // Each bias follows its matrix; biases are random, norms are ones.
    EXPECT_EQ(index_of(plan, p + "attn_q.bias"), index_of(plan, p + "attn_q.weight") + 1);
    EXPECT_FALSE(tensors.at(p + "attn_q.bias")->is_norm);
    EXPECT_TRUE(tensors.at(p + "attn_norm.weight")->is_norm);
  }
  EXPECT_EQ(size_label(n_params(plan)), "1.5B");
  EXPECT_EQ(plan_size_label(*shape, plan), "1.5B");
}

TEST(SynthPresets, MoePresetHasEightExpertsOfTinyLlamasFfn) {
  const SynthShape* shape = find_synth_preset("tinyllama-8x1.1b");
  ASSERT_NE(shape, nullptr);
  EXPECT_EQ(shape->arch, "llama");
  EXPECT_EQ(shape->n_expert, 8u);
  EXPECT_EQ(shape->n_expert_used, 2u);
  const auto plan = plan_synth_tensors(*shape, QuantMix::Q4_K_M, false);
  ASSERT_EQ(plan.size(), 1 + 22 * 10 + 2u);  // per layer: 2 norms, Q/K/V/output, router, 3 expert tensors
  const auto tensors = by_name(plan);
  expect_tensor(tensors, "output.weight", T::Q6_K, {2048, 32000});
  expect_tensor(tensors, "token_embd.weight", T::Q4_K, {2048, 32000});
  const std::vector<int> more_bits = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};  // use_more_bits(l, 22)
  for (int l = 0; l < 22; ++l) {
    SCOPED_TRACE(l);
    const std::string p = "blk." + std::to_string(l) + ".";
    const bool raised = std::find(more_bits.begin(), more_bits.end(), l) != more_bits.end();
    // The router stays F32 (llama-quantize never quantizes ffn_gate_inp) and is random, not a norm.
    expect_tensor(tensors, p + "ffn_gate_inp.weight", T::F32, {2048, 8});
    EXPECT_FALSE(tensors.at(p + "ffn_gate_inp.weight")->is_norm);
    expect_tensor(tensors, p + "ffn_gate_exps.weight", T::Q4_K, {2048, 5632, 8});
    expect_tensor(tensors, p + "ffn_up_exps.weight", T::Q4_K, {2048, 5632, 8});
    expect_tensor(tensors, p + "ffn_down_exps.weight", raised ? T::Q6_K : T::Q4_K, {5632, 2048, 8});
    // llama.cpp's rules for 8 experts: attn_v and attn_k in Q8_0, attn_output in Q5_K.
    expect_tensor(tensors, p + "attn_v.weight", T::Q8_0, {2048, 256});
    expect_tensor(tensors, p + "attn_k.weight", T::Q8_0, {2048, 256});
    expect_tensor(tensors, p + "attn_output.weight", T::Q5_K, {2048, 2048});
    expect_tensor(tensors, p + "attn_q.weight", T::Q4_K, {2048, 2048});
    EXPECT_EQ(tensors.count(p + "ffn_gate.weight"), 0u);
    EXPECT_EQ(tensors.count(p + "attn_q.bias"), 0u);
  }
  EXPECT_EQ(size_label(n_params(plan)), "6.4B");
  // The converter's label for experts: the shared parameters plus one expert's, times 8.
  EXPECT_EQ(plan_size_label(*shape, plan), "8x1.1B");
  // --pure: every matrix in the mix's type, the router still F32.
  const auto pure_plan = plan_synth_tensors(*shape, QuantMix::Q4_0, true);
  const auto pure = by_name(pure_plan);
  expect_tensor(pure, "blk.3.ffn_down_exps.weight", T::Q4_0, {5632, 2048, 8});
  expect_tensor(pure, "blk.3.attn_v.weight", T::Q4_0, {2048, 256});
  expect_tensor(pure, "blk.3.ffn_gate_inp.weight", T::F32, {2048, 8});
}

class SynthTiny : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cria_synth_tiny_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A preset shrunk to 2 layers of 64 (4 heads over 2 KV heads, 128 hidden units, 4 experts if it has
  // experts) and the llama-spm vocabulary, written as Q8_0.
  std::string write_tiny(const std::string& preset) {
    SynthShape shape = test::tiny_synth_shape(preset, 64, 128);
    shape.n_vocab = 32000;
    if (shape.n_expert > 0) shape.n_expert = 4;
    const std::string path = (dir_ / (preset + ".gguf")).string();
    auto status = test::write_synth(shape, QuantMix::Q8_0, path);
    EXPECT_TRUE(status.ok()) << status.error().message;
    return path;
  }

  // Decodes a few tokens and checks that the logits are finite and not all zero.
  static void expect_it_runs(const std::shared_ptr<const model::Model>& model) {
    auto session = model::Session::create(model, {64, 16, 2});
    ASSERT_TRUE(session.ok()) << session.error().message;
    const std::vector<int32_t> tokens = {1, 450, 3303, 2871, 1000};
    ASSERT_TRUE((*session)->decode(tokens).ok());
    const float* logits = (*session)->logits();
    double sum_sq = 0;
    for (int64_t i = 0; i < model->n_vocab(); ++i) {
      ASSERT_TRUE(std::isfinite(logits[i])) << i;
      sum_sq += static_cast<double>(logits[i]) * logits[i];
    }
    EXPECT_GT(sum_sq, 0.0);
  }

  fs::path dir_;
};

TEST_F(SynthTiny, Qwen2VariantRunsWithBiasesAndTiedOutput) {
  auto model = model::Model::load(write_tiny("qwen2.5-1.5b"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  const model::ModelHparams& hp = (*model)->hparams();
  EXPECT_EQ(hp.arch, "qwen2");
  EXPECT_EQ(hp.desc->rope, model::RopeStyle::Neox);
  EXPECT_EQ(hp.rope_freq_base, 1e6f);
  EXPECT_EQ(hp.rms_eps, 1e-6f);
  EXPECT_EQ(hp.n_layer, 2u);
  EXPECT_EQ((*model)->n_vocab(), 32000);
  EXPECT_EQ((*model)->file().find_tensor("output.weight"), nullptr);
  for (const auto& layer : (*model)->layers()) {
    EXPECT_EQ(layer.bq.size(), 64u);
    EXPECT_EQ(layer.bk.size(), 32u);
    EXPECT_EQ(layer.bv.size(), 32u);
    EXPECT_NE(layer.bq[0], 0.0f);  // random, not zeros
  }
  EXPECT_EQ(model::describe(hp, (*model)->file()), "qwen2 (NEOX rope, Q/K/V biases, tied output)");
  // bench's model column: llama.cpp's Llama size classes do not apply, the file's size label does.
  const auto label = (*model)->file().get_string("general.size_label");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(summarize_model(**model).type, "qwen2 " + *label + " Q8_0");
  expect_it_runs(*model);
}

TEST_F(SynthTiny, MoeVariantRunsWithExpertsAndAnF32Router) {
  auto model = model::Model::load(write_tiny("tinyllama-8x1.1b"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  const model::ModelHparams& hp = (*model)->hparams();
  EXPECT_EQ(hp.arch, "llama");
  EXPECT_EQ(hp.n_expert, 4u);
  EXPECT_EQ(hp.n_expert_used, 2u);
  EXPECT_EQ(hp.n_ff_exp, 128u);
  for (const auto& layer : (*model)->layers()) {
    ASSERT_TRUE(layer.has_experts());
    EXPECT_EQ(layer.gate_exps.size(), 4u);
    EXPECT_EQ(layer.down_exps.size(), 4u);
  }
  const gguf::TensorInfo* router = (*model)->file().find_tensor("blk.0.ffn_gate_inp.weight");
  ASSERT_NE(router, nullptr);
  EXPECT_EQ(router->type, T::F32);
  const gguf::TensorInfo* down = (*model)->file().find_tensor("blk.1.ffn_down_exps.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->n_dims, 3u);
  EXPECT_EQ(down->type, T::Q8_0);
  // A token reads the shared weights and 2 of the 4 experts.
  EXPECT_LT((*model)->active_weight_bytes(), (*model)->weight_bytes());
  EXPECT_EQ(model::describe(hp, (*model)->file()), "llama (4 experts, 2 active)");
  const auto label = (*model)->file().get_string("general.size_label");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(label->rfind("4x", 0), 0u) << *label;
  EXPECT_EQ(summarize_model(**model).type, "llama " + *label + " Q8_0");
  expect_it_runs(*model);
}

TEST_F(SynthTiny, ShapesSynthCannotWriteAreErrors) {
  SynthShape base = *find_synth_preset("kjv-like");
  base.n_layer = 1;
  auto error_of = [&](const SynthShape& shape) {
    auto status = test::write_synth(shape, QuantMix::Q8_0, (dir_ / "bad.gguf").string());
    return status.ok() ? std::string() : status.error().message;
  };
  SynthShape unknown = base;
  unknown.arch = "gpt9";
  EXPECT_NE(error_of(unknown).find("unknown architecture 'gpt9'"), std::string::npos) << error_of(unknown);
  SynthShape qk_norm = base;
  qk_norm.arch = "qwen3";  // needs attn_q_norm / attn_k_norm
  EXPECT_NE(error_of(qk_norm).find("needs tensors synth does not write"), std::string::npos) << error_of(qk_norm);
  SynthShape dense_experts = base;
  dense_experts.arch = "qwen2";
  dense_experts.n_expert = 4;
  dense_experts.n_expert_used = 2;
  EXPECT_NE(error_of(dense_experts).find("no mixture-of-experts form"), std::string::npos);
  SynthShape too_many = base;
  too_many.n_expert = 4;
  too_many.n_expert_used = 5;
  EXPECT_NE(error_of(too_many).find("n_expert_used"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "bad.gguf"));
}

}  // namespace
}  // namespace cria::engine
