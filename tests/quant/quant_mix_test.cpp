// The llama-quantize mix rules (FORMATS.md 3.4) as choose_tensor_type applies them to Llama tensors.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "quant/quant_mix.h"

namespace cria {
namespace {

using T = TensorType;

std::string layer_tensor(int layer, const char* name) { return "blk." + std::to_string(layer) + "." + name; }

// TinyLlama's shapes: 22 layers, 32 heads over 4 KV heads (n_gqa 8), rows of 2048 and 5632.
constexpr int kLayers = 22;
constexpr int kGqa = 8;
constexpr MixModel kModel{kLayers, kGqa};
constexpr MixModel kTiedModel{kLayers, kGqa, /*has_output=*/false};

TEST(QuantMix, Q4KMRaisesAttnVAndFfnDownInTheUseMoreBitsLayers) {
  // n/8 = 2 and 7n/8 = 19: layers 0, 1, then every third from 4, then 19..21.
  const std::set<int> raised = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};
  for (int l = 0; l < kLayers; ++l) {
    SCOPED_TRACE(l);
    const T expected = raised.count(l) ? T::Q6_K : T::Q4_K;
    EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, "attn_v.weight"), l, 2048, kModel),
              expected);
    EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, "ffn_down.weight"), l, 5632, kModel),
              expected);
    for (const char* other : {"attn_q.weight", "attn_k.weight", "attn_output.weight", "ffn_gate.weight", "ffn_up.weight"}) {
      EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, other), l, 2048, kModel), T::Q4_K)
          << other;
    }
  }
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "output.weight", -1, 2048, kModel), T::Q6_K);
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "token_embd.weight", -1, 2048, kModel), T::Q4_K);
}

TEST(QuantMix, OutputHeadIsQ6KExceptInQ8_0Files) {
  for (QuantMix mix : {QuantMix::Q4_0, QuantMix::Q4_1, QuantMix::Q5_0, QuantMix::Q5_1, QuantMix::Q2_K,
                       QuantMix::Q3_K_S, QuantMix::Q5_K_M, QuantMix::IQ4_NL, QuantMix::TQ2_0}) {
    SCOPED_TRACE(std::string(quant_mix_info(mix).name));
    EXPECT_EQ(choose_tensor_type(mix, "output.weight", -1, 2048, kModel), T::Q6_K);
  }
  EXPECT_EQ(choose_tensor_type(QuantMix::Q8_0, "output.weight", -1, 2048, kModel), T::Q8_0);
  // Rows that do not split into 256-blocks: Q8_0.
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_0, "output.weight", -1, 2880, kModel), T::Q8_0);
  // Without output.weight the embedding is the output head.
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_0, "token_embd.weight", -1, 2048, kTiedModel), T::Q6_K);
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_0, "token_embd.weight", -1, 2048, kModel), T::Q4_0);
  // Ternary files keep the embedding in Q4_K.
  EXPECT_EQ(choose_tensor_type(QuantMix::TQ1_0, "token_embd.weight", -1, 2048, kModel), T::Q4_K);
}

TEST(QuantMix, KQuantMixesFollowTheTable) {
  auto type = [](QuantMix mix, const char* name, int layer, int n_gqa = kGqa) {
    return choose_tensor_type(mix, layer_tensor(layer, name), layer, 2048, {kLayers, n_gqa});
  };
  EXPECT_EQ(type(QuantMix::Q2_K, "attn_v.weight", 5), T::Q4_K);
  EXPECT_EQ(type(QuantMix::Q2_K, "attn_v.weight", 5, 1), T::Q3_K);
  EXPECT_EQ(type(QuantMix::Q2_K, "ffn_down.weight", 5), T::Q3_K);
  EXPECT_EQ(type(QuantMix::Q2_K, "attn_output.weight", 5), T::Q3_K);
  EXPECT_EQ(type(QuantMix::Q2_K, "attn_q.weight", 5), T::Q2_K);
  EXPECT_EQ(type(QuantMix::Q3_K_S, "attn_v.weight", 0), T::Q3_K);
  EXPECT_EQ(type(QuantMix::Q3_K_M, "attn_v.weight", 1), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q3_K_M, "attn_v.weight", 2), T::Q4_K);
  EXPECT_EQ(type(QuantMix::Q3_K_M, "ffn_down.weight", 0), T::Q5_K);  // 0 < 22/16
  EXPECT_EQ(type(QuantMix::Q3_K_M, "ffn_down.weight", 1), T::Q4_K);
  EXPECT_EQ(type(QuantMix::Q3_K_M, "attn_output.weight", 9), T::Q4_K);
  EXPECT_EQ(type(QuantMix::Q3_K_L, "attn_v.weight", 9), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q3_K_L, "ffn_down.weight", 9), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q3_K_L, "attn_output.weight", 9), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q4_K_S, "attn_v.weight", 3), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q4_K_S, "attn_v.weight", 4), T::Q4_K);
  EXPECT_EQ(type(QuantMix::Q4_K_S, "ffn_down.weight", 1), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q4_K_S, "ffn_down.weight", 2), T::Q4_K);
  EXPECT_EQ(type(QuantMix::Q5_K_S, "ffn_down.weight", 0), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q5_K_M, "ffn_down.weight", 4), T::Q6_K);
  EXPECT_EQ(type(QuantMix::Q5_K_M, "ffn_down.weight", 5), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q6_K, "attn_v.weight", 5), T::Q6_K);
  EXPECT_EQ(type(QuantMix::IQ4_XS, "attn_v.weight", 5), T::Q5_K);
  EXPECT_EQ(type(QuantMix::IQ4_XS, "ffn_down.weight", 1), T::Q5_K);
  EXPECT_EQ(type(QuantMix::IQ4_XS, "ffn_down.weight", 2), T::IQ4_XS);
  // 70B-class models (80 layers, GQA) raise a Q3_K/Q4_K attn_v to Q5_K.
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "blk.11.attn_v.weight", 11, 8192, {80, 8}), T::Q5_K);
}

// llama.cpp's rules for "the 8-expert model": attn_v and attn_k in Q8_0 whatever the mix, attn_output in
// Q5_K for the low mixes and otherwise in the default type. Mixtral 8x7B's shapes: 32 layers, n_gqa 4.
constexpr MixModel kMixtral{32, 4, true, 8};

TEST(QuantMix, EightExpertsRaiseTheAttentionAsForMixtral) {
  auto type = [&](QuantMix mix, const char* name, const MixModel& model = kMixtral) {
    return choose_tensor_type(mix, layer_tensor(5, name), 5, 4096, model);
  };
  for (QuantMix mix : {QuantMix::Q4_0, QuantMix::Q2_K, QuantMix::Q3_K_L, QuantMix::Q4_K_M, QuantMix::Q5_K_M,
                       QuantMix::Q6_K, QuantMix::IQ4_XS, QuantMix::TQ2_0}) {
    SCOPED_TRACE(std::string(quant_mix_info(mix).name));
    EXPECT_EQ(type(mix, "attn_v.weight"), T::Q8_0);
    EXPECT_EQ(type(mix, "attn_k.weight"), T::Q8_0);
    EXPECT_EQ(type(mix, "attn_q.weight"), quant_mix_info(mix).default_type);
  }
  for (QuantMix mix : {QuantMix::Q2_K, QuantMix::Q3_K_S, QuantMix::Q3_K_M, QuantMix::Q4_K_S, QuantMix::Q4_K_M,
                       QuantMix::IQ4_NL, QuantMix::IQ4_XS}) {
    EXPECT_EQ(type(mix, "attn_output.weight"), T::Q5_K) << quant_mix_info(mix).name;
  }
  // Not in llama.cpp's list, and the dense raises do not apply: Q3_K_L keeps Q3_K (a dense model: Q5_K).
  EXPECT_EQ(type(QuantMix::Q3_K_L, "attn_output.weight"), T::Q3_K);
  EXPECT_EQ(type(QuantMix::Q3_K_L, "attn_output.weight", {32, 4}), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q5_K_M, "attn_output.weight"), T::Q5_K);
  EXPECT_EQ(type(QuantMix::Q4_0, "attn_output.weight"), T::Q4_0);
  EXPECT_EQ(type(QuantMix::Q8_0, "attn_output.weight"), T::Q8_0);
  // Float files stay float.
  EXPECT_EQ(type(QuantMix::F16, "attn_v.weight"), T::F16);
  // Only exactly 8 experts: 4 (Qwen-MoE-like files) and 16 keep the dense rules.
  for (uint32_t n_expert : {4u, 16u}) {
    const MixModel other{32, 4, true, n_expert};
    EXPECT_EQ(type(QuantMix::Q4_K_M, "attn_v.weight", other), T::Q4_K) << n_expert;  // layer 5: no more bits
    EXPECT_EQ(type(QuantMix::Q4_K_M, "attn_k.weight", other), T::Q4_K) << n_expert;
    EXPECT_EQ(type(QuantMix::Q2_K, "attn_output.weight", other), T::Q3_K) << n_expert;
  }
}

// The 3-D expert tensors take the rules of their dense names with the layer read from the name:
// ffn_down_exps (and a shared expert's ffn_down_shexp) are raised where ffn_down would be; the experts'
// gate and up keep the default type.
TEST(QuantMix, ExpertTensorsFollowTheDenseRulesOfTheirLayer) {
  constexpr MixModel kMoe{kLayers, kGqa, true, 8};
  const std::set<int> raised = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};  // use_more_bits(l, 22)
  for (int l = 0; l < kLayers; ++l) {
    SCOPED_TRACE(l);
    const T expected = raised.count(l) ? T::Q6_K : T::Q4_K;
    EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, "ffn_down_exps.weight"), l, 5632, kMoe), expected);
    EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, "ffn_down_shexp.weight"), l, 5632, kMoe), expected);
    for (const char* name : {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_gate_shexp.weight"}) {
      EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, name), l, 2048, kMoe), T::Q4_K) << name;
    }
  }
  EXPECT_EQ(choose_tensor_type(QuantMix::Q3_K_M, "blk.0.ffn_down_exps.weight", 0, 5632, kMoe), T::Q5_K);  // 0 < 22/16
  EXPECT_EQ(choose_tensor_type(QuantMix::Q3_K_M, "blk.9.ffn_down_exps.weight", 9, 5632, kMoe), T::Q4_K);
  EXPECT_EQ(choose_tensor_type(QuantMix::Q2_K, "blk.9.ffn_down_exps.weight", 9, 5632, kMoe), T::Q3_K);
  EXPECT_EQ(choose_tensor_type(QuantMix::Q2_K, "blk.9.ffn_up_exps.weight", 9, 2048, kMoe), T::Q2_K);
  // Qwen2-MoE's experts have 1408 or 2560 hidden units: ffn_down rows that do not split into 256-blocks fall back.
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "blk.9.ffn_down_exps.weight", 9, 1408, kMoe), T::Q5_0);
}

TEST(QuantMix, FloatMixesKeepEveryMatrixInTheirType) {
  for (QuantMix mix : {QuantMix::F32, QuantMix::F16, QuantMix::BF16}) {
    const T base = quant_mix_info(mix).default_type;
    EXPECT_EQ(choose_tensor_type(mix, "output.weight", -1, 2048, kModel), base);
    EXPECT_EQ(choose_tensor_type(mix, "blk.0.attn_v.weight", 0, 2048, kModel), base);
  }
}

TEST(QuantMix, RowLengthFallbacks) {
  EXPECT_EQ(fallback_for_row_length(T::Q4_K, 2048), T::Q4_K);
  EXPECT_EQ(fallback_for_row_length(T::Q4_K, 2880), T::Q5_0);
  EXPECT_EQ(fallback_for_row_length(T::Q5_K, 2880), T::Q5_1);
  EXPECT_EQ(fallback_for_row_length(T::Q6_K, 2880), T::Q8_0);
  EXPECT_EQ(fallback_for_row_length(T::Q3_K, 2880), T::IQ4_NL);
  EXPECT_EQ(fallback_for_row_length(T::TQ1_0, 2880), T::Q4_0);
  EXPECT_EQ(fallback_for_row_length(T::Q4_K, 100), T::F16);  // not even a 32-block
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "blk.0.ffn_up.weight", 0, 2880, kModel), T::Q5_0);
}

TEST(QuantMix, OnlyMatricesAreQuantized) {
  EXPECT_TRUE(is_quantizable_tensor("blk.0.attn_q.weight", 2));
  EXPECT_TRUE(is_quantizable_tensor("token_embd.weight", 2));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_norm.weight", 1));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_norm.weight", 2));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_q.bias", 2));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.ffn_gate_inp.weight", 2));
  // Experts are 3-D and quantized; the router (ffn_gate_inp) and the shared expert's gate vector never are.
  EXPECT_TRUE(is_quantizable_tensor("blk.0.ffn_gate_exps.weight", 3));
  EXPECT_TRUE(is_quantizable_tensor("blk.0.ffn_down_exps.weight", 3));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.ffn_gate_inp.weight", 3));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.ffn_gate_inp_shexp.weight", 1));
  EXPECT_FALSE(is_quantizable_tensor("rope_freqs.weight", 1));
}

TEST(QuantMix, NamesAliasesAndFileTypes) {
  EXPECT_EQ(find_quant_mix("q4_k_m"), QuantMix::Q4_K_M);
  EXPECT_EQ(find_quant_mix("Q4_K"), QuantMix::Q4_K_M);
  EXPECT_EQ(find_quant_mix("Q3_K"), QuantMix::Q3_K_M);
  EXPECT_EQ(find_quant_mix("bf16"), QuantMix::BF16);
  EXPECT_FALSE(find_quant_mix("IQ2_XXS").has_value());
  EXPECT_FALSE(find_quant_mix("Q8_K").has_value());
  EXPECT_EQ(quant_mix_info(QuantMix::Q4_K_M).file_type, 15u);
  EXPECT_EQ(quant_mix_info(QuantMix::Q8_0).file_type, 7u);
  EXPECT_EQ(quant_mix_info(QuantMix::TQ2_0).file_type, 37u);
  EXPECT_EQ(file_type_description(15), "Q4_K - Medium");
  EXPECT_EQ(file_type_description(2), "Q4_0");
  // Every mix writes types cria can quantize.
  for (const auto& m : all_quant_mixes()) {
    EXPECT_NE(traits(m.default_type).quantize, nullptr) << m.name;
  }
}

}  // namespace
}  // namespace cria
