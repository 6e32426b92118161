#include "quant/quant_mix.h"

#include <cctype>

namespace cria {

namespace {

using M = QuantMix;
using T = TensorType;

constexpr QuantMixInfo kMixes[] = {
    {M::F32, "F32", T::F32, 0},          {M::F16, "F16", T::F16, 1},          {M::BF16, "BF16", T::BF16, 32},
    {M::Q4_0, "Q4_0", T::Q4_0, 2},       {M::Q4_1, "Q4_1", T::Q4_1, 3},       {M::Q5_0, "Q5_0", T::Q5_0, 8},
    {M::Q5_1, "Q5_1", T::Q5_1, 9},       {M::Q8_0, "Q8_0", T::Q8_0, 7},       {M::Q2_K, "Q2_K", T::Q2_K, 10},
    {M::Q3_K_S, "Q3_K_S", T::Q3_K, 11},  {M::Q3_K_M, "Q3_K_M", T::Q3_K, 12},  {M::Q3_K_L, "Q3_K_L", T::Q3_K, 13},
    {M::Q4_K_S, "Q4_K_S", T::Q4_K, 14},  {M::Q4_K_M, "Q4_K_M", T::Q4_K, 15},  {M::Q5_K_S, "Q5_K_S", T::Q5_K, 16},
    {M::Q5_K_M, "Q5_K_M", T::Q5_K, 17},  {M::Q6_K, "Q6_K", T::Q6_K, 18},      {M::IQ4_NL, "IQ4_NL", T::IQ4_NL, 25},
    {M::IQ4_XS, "IQ4_XS", T::IQ4_XS, 30}, {M::TQ1_0, "TQ1_0", T::TQ1_0, 36},  {M::TQ2_0, "TQ2_0", T::TQ2_0, 37},
};

struct Alias {
  std::string_view name;
  QuantMix mix;
};
constexpr Alias kAliases[] = {{"Q3_K", M::Q3_K_M}, {"Q4_K", M::Q4_K_M}, {"Q5_K", M::Q5_K_M}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
bool ends_with(std::string_view s, std::string_view end) {
  return s.size() >= end.size() && s.substr(s.size() - end.size()) == end;
}

bool is_float_mix(QuantMix mix) { return mix == M::F32 || mix == M::F16 || mix == M::BF16; }

// attn_output in a file of 8 experts: Q5_K for the mixes llama.cpp lists (the low ones); the others keep
// their default type (none of the dense model's raises apply).
bool raises_mixtral_attn_output(QuantMix mix) {
  return mix == M::Q2_K || mix == M::Q3_K_S || mix == M::Q3_K_M || mix == M::IQ4_NL || mix == M::Q4_K_S ||
         mix == M::Q4_K_M || mix == M::IQ4_XS;
}

// The rules of llama_tensor_get_type for one Llama-family tensor (no Falcon, no imatrix), before the
// row-length fallback. Each branch names the tensor it raises and why llama.cpp does. Expert tensors
// (ffn_down_exps, ffn_down_shexp, ...) match their dense names and take the layer from the name, as
// llama.cpp does when n_expert > 1; ffn_gate_exps and ffn_up_exps keep the default type (llama.cpp raises
// them only in IQ3_XS files, which cria does not write).
TensorType mixed_type(QuantMix mix, std::string_view name, int layer, int64_t ne0, const MixModel& model) {
  const TensorType base = quant_mix_info(mix).default_type;
  const int n_layer = model.n_layer, n_gqa = model.n_gqa;
  // llama.cpp's special case for "the 8-expert model" (Mixtral 8x7B): its attention is small next to the
  // experts, so more bits there cost little (about 128 MB for attn_v and attn_k in Q8_0).
  const bool eight_experts = model.n_expert == 8;
  const bool is_output = name == "output.weight" || (!model.has_output && name == "token_embd.weight");
  if (is_output) {
    // The output head decides every token: Q6_K unless the file is already Q8_0; Q8_0 when rows do not
    // split into 256-blocks.
    if (ne0 % 256 != 0) return T::Q8_0;
    return base == T::Q8_0 ? T::Q8_0 : T::Q6_K;
  }
  if (name == "token_embd.weight") {
    // Ternary types suit only the trained-ternary matrices, not embeddings.
    return (mix == M::TQ1_0 || mix == M::TQ2_0) ? T::Q4_K : base;
  }
  if (contains(name, "attn_v.weight")) {
    TensorType t = base;
    if (mix == M::Q2_K) t = n_gqa >= 4 ? T::Q4_K : T::Q3_K;
    else if (mix == M::Q3_K_M) t = layer < 2 ? T::Q5_K : T::Q4_K;
    else if (mix == M::Q3_K_L) t = T::Q5_K;
    else if ((mix == M::IQ4_NL || mix == M::IQ4_XS) && n_gqa >= 4) t = T::Q5_K;
    else if ((mix == M::Q4_K_M || mix == M::Q5_K_M) && use_more_bits(layer, n_layer)) t = T::Q6_K;
    else if (mix == M::Q4_K_S && layer < 4) t = T::Q5_K;
    // Llama 70B (80 layers with grouped KV heads; 65B has no GQA): attn_v is 8x smaller than attn_q, so
    // more bits there cost little.
    if (n_layer == 80 && n_gqa > 1 && (t == T::Q3_K || t == T::Q4_K)) t = T::Q5_K;
    return eight_experts ? T::Q8_0 : t;
  }
  if (contains(name, "attn_k.weight")) return eight_experts ? T::Q8_0 : base;
  if (contains(name, "ffn_down")) {
    if (mix == M::Q2_K) return T::Q3_K;
    if (mix == M::Q3_K_M) return layer < n_layer / 16 ? T::Q5_K : T::Q4_K;
    if (mix == M::Q3_K_L) return T::Q5_K;
    if (mix == M::Q4_K_M) return use_more_bits(layer, n_layer) ? T::Q6_K : base;
    if ((mix == M::IQ4_NL || mix == M::IQ4_XS) && layer < n_layer / 8) return T::Q5_K;
    if (mix == M::Q5_K_M && use_more_bits(layer, n_layer)) return T::Q6_K;
    if (mix == M::Q4_K_S && layer < n_layer / 8) return T::Q5_K;
    return base;
  }
  if (contains(name, "attn_output.weight")) {
    if (eight_experts) return raises_mixtral_attn_output(mix) ? T::Q5_K : base;
    if (mix == M::Q2_K) return T::Q3_K;
    if (mix == M::Q3_K_M) return T::Q4_K;
    if (mix == M::Q3_K_L) return T::Q5_K;
    return base;
  }
  if (contains(name, "attn_qkv.weight")) {
    if (mix == M::Q3_K_M || mix == M::Q3_K_L) return T::Q4_K;
    if (mix == M::Q4_K_M) return T::Q5_K;
    if (mix == M::Q5_K_M) return T::Q6_K;
    return base;
  }
  return base;
}

}  // namespace

std::span<const QuantMixInfo> all_quant_mixes() { return kMixes; }

const QuantMixInfo& quant_mix_info(QuantMix mix) {
  for (const auto& m : kMixes) {
    if (m.mix == mix) return m;
  }
  return kMixes[0];  // unreachable: every enumerator has a row
}

std::optional<QuantMix> find_quant_mix(std::string_view name) {
  for (const auto& m : kMixes) {
    if (iequals(m.name, name)) return m.mix;
  }
  for (const auto& a : kAliases) {
    if (iequals(a.name, name)) return a.mix;
  }
  return std::nullopt;
}

std::string quant_mix_names() {
  std::string names;
  for (const auto& m : kMixes) names += (names.empty() ? "" : ", ") + std::string(m.name);
  for (const auto& a : kAliases) names += ", " + std::string(a.name);
  return names;
}

std::string_view file_type_description(uint32_t file_type) {
  switch (file_type) {
    case 0: return "all F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K - Medium";
    case 11: return "Q3_K - Small";
    case 12: return "Q3_K - Medium";
    case 13: return "Q3_K - Large";
    case 14: return "Q4_K - Small";
    case 15: return "Q4_K - Medium";
    case 16: return "Q5_K - Small";
    case 17: return "Q5_K - Medium";
    case 18: return "Q6_K";
    case 19: return "IQ2_XXS - 2.0625 bpw";
    case 20: return "IQ2_XS - 2.3125 bpw";
    case 21: return "Q2_K - Small";
    case 22: return "IQ3_XS - 3.3 bpw";
    case 23: return "IQ3_XXS - 3.0625 bpw";
    case 24: return "IQ1_S - 1.5625 bpw";
    case 25: return "IQ4_NL - 4.5 bpw";
    case 26: return "IQ3_S - 3.4375 bpw";
    case 27: return "IQ3_S mix - 3.66 bpw";
    case 28: return "IQ2_S - 2.5 bpw";
    case 29: return "IQ2_M - 2.7 bpw";
    case 30: return "IQ4_XS - 4.25 bpw";
    case 31: return "IQ1_M - 1.75 bpw";
    case 32: return "BF16";
    case 36: return "TQ1_0 - 1.69 bpw ternary";
    case 37: return "TQ2_0 - 2.06 bpw ternary";
    default: return "unknown, may not work";
  }
}

bool use_more_bits(int layer, int n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

bool is_quantizable_tensor(std::string_view name, int n_dims) {
  if (n_dims < 2 || !ends_with(name, "weight")) return false;
  // Small tensors whose precision matters more than their size (llama-quantize's exclusions).
  if (ends_with(name, "_norm.weight") || contains(name, "ffn_gate_inp.weight")) return false;
  if (name == "rope_freqs.weight" || name == "position_embd.weight" || name == "token_types.weight") return false;
  return true;
}

TensorType fallback_for_row_length(TensorType type, int64_t ne0) {
  if (ne0 % traits(type).block_size == 0) return type;
  TensorType substitute;
  switch (type) {
    case T::TQ1_0:
    case T::TQ2_0: substitute = T::Q4_0; break;
    case T::Q2_K:
    case T::Q3_K:
    case T::IQ4_XS:
    case T::IQ2_XXS:
    case T::IQ2_XS:
    case T::IQ2_S:
    case T::IQ3_XXS:
    case T::IQ3_S:
    case T::IQ1_S:
    case T::IQ1_M: substitute = T::IQ4_NL; break;
    case T::Q4_K: substitute = T::Q5_0; break;
    case T::Q5_K: substitute = T::Q5_1; break;
    case T::Q6_K: substitute = T::Q8_0; break;
    default: substitute = T::F16; break;
  }
  return ne0 % traits(substitute).block_size == 0 ? substitute : T::F16;
}

TensorType choose_tensor_type(QuantMix mix, const std::string& tensor_name, int layer, int64_t ne0,
                              const MixModel& model) {
  const TensorType base = quant_mix_info(mix).default_type;
  if (is_float_mix(mix)) return base;
  return fallback_for_row_length(mixed_type(mix, tensor_name, layer, ne0, model), ne0);
}

}  // namespace cria
