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

TEST(QuantMix, Q4KMRaisesAttnVAndFfnDownInTheUseMoreBitsLayers) {
  // n/8 = 2 and 7n/8 = 19: layers 0, 1, then every third from 4, then 19..21.
  const std::set<int> raised = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};
  for (int l = 0; l < kLayers; ++l) {
    SCOPED_TRACE(l);
    const T expected = raised.count(l) ? T::Q6_K : T::Q4_K;
    EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, "attn_v.weight"), l, kLayers, kGqa, 2048, true),
              expected);
    EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, "ffn_down.weight"), l, kLayers, kGqa, 5632, true),
              expected);
    for (const char* other : {"attn_q.weight", "attn_k.weight", "attn_output.weight", "ffn_gate.weight", "ffn_up.weight"}) {
      EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, layer_tensor(l, other), l, kLayers, kGqa, 2048, true), T::Q4_K)
          << other;
    }
  }
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "output.weight", -1, kLayers, kGqa, 2048, true), T::Q6_K);
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "token_embd.weight", -1, kLayers, kGqa, 2048, true), T::Q4_K);
}

TEST(QuantMix, OutputHeadIsQ6KExceptInQ8_0Files) {
  for (QuantMix mix : {QuantMix::Q4_0, QuantMix::Q4_1, QuantMix::Q5_0, QuantMix::Q5_1, QuantMix::Q2_K,
                       QuantMix::Q3_K_S, QuantMix::Q5_K_M, QuantMix::IQ4_NL, QuantMix::TQ2_0}) {
    SCOPED_TRACE(std::string(quant_mix_info(mix).name));
    EXPECT_EQ(choose_tensor_type(mix, "output.weight", -1, kLayers, kGqa, 2048, true), T::Q6_K);
  }
  EXPECT_EQ(choose_tensor_type(QuantMix::Q8_0, "output.weight", -1, kLayers, kGqa, 2048, true), T::Q8_0);
  // Rows that do not split into 256-blocks: Q8_0.
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_0, "output.weight", -1, kLayers, kGqa, 2880, true), T::Q8_0);
  // Without output.weight the embedding is the output head.
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_0, "token_embd.weight", -1, kLayers, kGqa, 2048, false), T::Q6_K);
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_0, "token_embd.weight", -1, kLayers, kGqa, 2048, true), T::Q4_0);
  // Ternary files keep the embedding in Q4_K.
  EXPECT_EQ(choose_tensor_type(QuantMix::TQ1_0, "token_embd.weight", -1, kLayers, kGqa, 2048, true), T::Q4_K);
}

TEST(QuantMix, KQuantMixesFollowTheTable) {
  auto type = [](QuantMix mix, const char* name, int layer, int n_gqa = kGqa) {
    return choose_tensor_type(mix, layer_tensor(layer, name), layer, kLayers, n_gqa, 2048, true);
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
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "blk.11.attn_v.weight", 11, 80, 8, 8192, true), T::Q5_K);
}

TEST(QuantMix, FloatMixesKeepEveryMatrixInTheirType) {
  for (QuantMix mix : {QuantMix::F32, QuantMix::F16, QuantMix::BF16}) {
    const T base = quant_mix_info(mix).default_type;
    EXPECT_EQ(choose_tensor_type(mix, "output.weight", -1, kLayers, kGqa, 2048, true), base);
    EXPECT_EQ(choose_tensor_type(mix, "blk.0.attn_v.weight", 0, kLayers, kGqa, 2048, true), base);
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
  EXPECT_EQ(choose_tensor_type(QuantMix::Q4_K_M, "blk.0.ffn_up.weight", 0, kLayers, kGqa, 2880, true), T::Q5_0);
}

TEST(QuantMix, OnlyMatricesAreQuantized) {
  EXPECT_TRUE(is_quantizable_tensor("blk.0.attn_q.weight", 2));
  EXPECT_TRUE(is_quantizable_tensor("token_embd.weight", 2));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_norm.weight", 1));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_norm.weight", 2));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.attn_q.bias", 2));
  EXPECT_FALSE(is_quantizable_tensor("blk.0.ffn_gate_inp.weight", 2));
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
