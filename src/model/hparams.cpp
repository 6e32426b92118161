#include "model/hparams.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/attention.h"

namespace cria::model {

namespace {

// A per-layer count: UINT32 for all layers, or an INT32 array with one value per layer.
Result<std::vector<uint32_t>> per_layer(const gguf::File& file, const std::string& key, uint32_t n_layer,
                                        const std::vector<uint32_t>* fallback) {
  const gguf::Value* v = file.find(key);
  if (v == nullptr) {
    if (fallback != nullptr) return *fallback;
    return make_error(file.path() + ": metadata '" + key + "': missing");
  }
  if (const auto* u = v->get_if<uint32_t>()) return std::vector<uint32_t>(n_layer, *u);
  if (const auto* a = v->as_array(); a != nullptr && a->element_type == gguf::ValueType::INT32) {
    const auto& items = std::get<std::vector<int32_t>>(a->items);
    if (items.size() != n_layer) {
      return make_error(file.path() + ": metadata '" + key + "': " + std::to_string(items.size()) +
                        " values for " + std::to_string(n_layer) + " layers");
    }
    std::vector<uint32_t> out;
    for (int32_t x : items) {
      if (x < 0) return make_error(file.path() + ": metadata '" + key + "': negative value " + std::to_string(x));
      out.push_back(static_cast<uint32_t>(x));
    }
    return out;
  }
  return make_error(file.path() + ": metadata '" + key + "': expected UINT32 or an INT32 array, found " +
                    std::string(gguf::value_type_name(v->type())));
}

// Reads `key` into `out` if the file has it (with the exact type llama.cpp's loader expects).
template <typename T>
Status optional(const gguf::File& file, const std::string& key, T& out) {
  if (file.find(key) == nullptr) return Ok{};
  auto v = [&] {
    if constexpr (std::is_same_v<T, float>) return file.get_f32(key); else return file.get_u32(key);
  }();
  if (!v) return v.error();
  out = *v;
  return Ok{};
}

// expert_count / expert_used_count and the experts' sizes.
Status read_experts(const gguf::File& file, const std::string& p, ModelHparams& hp) {
  if (auto s = optional(file, p + "expert_count", hp.n_expert); !s) return s;
  if (hp.n_expert == 0) return Ok{};
  if (!hp.desc->experts) {
    return make_error(file.path() + ": architecture '" + hp.arch + "' has no mixture-of-experts form (expert_count " +
                      std::to_string(hp.n_expert) + ")");
  }
  auto used = file.get_u32(p + "expert_used_count");
  if (!used) return used.error();
  hp.n_expert_used = *used;
  constexpr uint32_t kMaxExperts = 512;
  if (hp.n_expert > kMaxExperts || hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert) {
    return make_error(file.path() + ": expert_used_count " + std::to_string(hp.n_expert_used) + " of expert_count " +
                      std::to_string(hp.n_expert) + " is out of range (1 .. expert_count, at most " +
                      std::to_string(kMaxExperts) + " experts)");
  }
  // Mixtral-style files give the experts' size as feed_forward_length.
  hp.n_ff_exp = hp.n_ff[0];
  if (auto s = optional(file, p + "expert_feed_forward_length", hp.n_ff_exp); !s) return s;
  if (hp.desc->shared_expert) {
    hp.n_ff_shexp = hp.n_ff_exp;
    if (auto s = optional(file, p + "expert_shared_feed_forward_length", hp.n_ff_shexp); !s) return s;
  }
  if (hp.n_ff_exp == 0) return make_error(file.path() + ": expert_feed_forward_length is 0");
  return Ok{};
}

// attention.sliding_window and the layers that use it.
Status read_sliding_window(const gguf::File& file, const std::string& p, ModelHparams& hp) {
  if (hp.desc->sliding == SlidingLayers::None) return Ok{};
  hp.n_swa = hp.desc->default_sliding_window;
  if (auto s = optional(file, p + "attention.sliding_window", hp.n_swa); !s) return s;
  if (hp.n_swa == 0) return Ok{};  // no window (Phi-3 files write 0)
  hp.sliding.assign(hp.n_layer, 0);
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    switch (hp.desc->sliding) {
      case SlidingLayers::None: break;
      case SlidingLayers::All: hp.sliding[l] = 1; break;
      case SlidingLayers::EvenLayers: hp.sliding[l] = l % 2 == 0; break;
      case SlidingLayers::FiveOfSix: hp.sliding[l] = (l + 1) % 6 != 0; break;
    }
  }
  return Ok{};
}

}  // namespace

Result<ModelHparams> ModelHparams::from_gguf(const gguf::File& file) {
  ModelHparams hp;
  auto arch = file.get_string("general.architecture");
  if (!arch) return arch.error();
  hp.arch = *arch;
  hp.desc = find_architecture(hp.arch);
  if (hp.desc == nullptr) {
    return make_error(file.path() + ": unknown architecture '" + hp.arch + "' (supported: " + supported_architectures() +
                      ")");
  }
  const std::string p = hp.arch + ".";
  auto need_u32 = [&](const std::string& key, uint32_t& out) -> Status {
    auto v = file.get_u32(p + key);
    if (!v) return v.error();
    out = *v;
    return Ok{};
  };
  if (auto s = need_u32("context_length", hp.n_ctx_train); !s) return s.error();
  if (auto s = need_u32("embedding_length", hp.n_embd); !s) return s.error();
  if (auto s = need_u32("block_count", hp.n_layer); !s) return s.error();
  if (hp.n_embd == 0 || hp.n_layer == 0 || hp.n_layer > 512) {
    return make_error(file.path() + ": embedding_length " + std::to_string(hp.n_embd) + " / block_count " +
                      std::to_string(hp.n_layer) + " out of range");
  }
  auto n_ff = per_layer(file, p + "feed_forward_length", hp.n_layer, nullptr);
  if (!n_ff) return n_ff.error();
  hp.n_ff = *n_ff;
  if (auto s = read_experts(file, p, hp); !s) return s.error();
  auto n_head = per_layer(file, p + "attention.head_count", hp.n_layer, nullptr);
  if (!n_head) return n_head.error();
  hp.n_head = *n_head;
  auto n_head_kv = per_layer(file, p + "attention.head_count_kv", hp.n_layer, &hp.n_head);
  if (!n_head_kv) return n_head_kv.error();
  hp.n_head_kv = *n_head_kv;
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    if (hp.n_head[l] == 0 || hp.n_head_kv[l] == 0 || hp.n_head[l] % hp.n_head_kv[l] != 0) {
      return make_error(file.path() + ": layer " + std::to_string(l) + ": head_count " + std::to_string(hp.n_head[l]) +
                        " is not a multiple of head_count_kv " + std::to_string(hp.n_head_kv[l]));
    }
    if (hp.n_head[l] != hp.n_head[0]) return make_error(file.path() + ": per-layer head counts are not supported yet");
  }

  hp.head_dim = hp.n_embd / hp.n_head[0];
  if (file.find(p + "attention.key_length") != nullptr) {
    if (auto s = need_u32("attention.key_length", hp.head_dim); !s) return s.error();
  }
  if (file.find(p + "attention.value_length") != nullptr) {
    auto v = file.get_u32(p + "attention.value_length");
    if (!v) return v.error();
    if (*v != hp.head_dim) return make_error(file.path() + ": value_length different from key_length is not supported");
  }
  if (hp.head_dim == 0 || hp.head_dim % 2 != 0 || hp.head_dim > static_cast<uint32_t>(ops::kMaxHeadDim)) {
    return make_error(file.path() + ": head dimension " + std::to_string(hp.head_dim) + " must be even, non-zero and at most " +
                      std::to_string(ops::kMaxHeadDim));
  }
  hp.n_rot = hp.head_dim;
  if (file.find(p + "rope.dimension_count") != nullptr) {
    if (auto s = need_u32("rope.dimension_count", hp.n_rot); !s) return s.error();
  }
  if (hp.n_rot == 0 || hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim) {
    return make_error(file.path() + ": rope.dimension_count " + std::to_string(hp.n_rot) +
                      " must be even, non-zero and at most the head dimension " + std::to_string(hp.head_dim));
  }
  auto eps = file.get_f32(p + "attention.layer_norm_rms_epsilon");
  if (!eps) return eps.error();
  hp.rms_eps = *eps;
  if (file.find(p + "rope.freq_base") != nullptr) {
    auto base = file.get_f32(p + "rope.freq_base");
    if (!base) return base.error();
    hp.rope_freq_base = *base;
  }

  std::string scaling = "linear";
  if (file.find(p + "rope.scaling.type") != nullptr) {
    auto type = file.get_string(p + "rope.scaling.type");
    if (!type) return type.error();
    scaling = *type;
  }
  if (scaling != "none" && scaling != "linear") {
    return make_error(file.path() + ": rope scaling type '" + scaling + "' is not supported yet");
  }
  float factor = 0.0f;
  for (const char* key : {"rope.scaling.factor", "rope.scale_linear"}) {
    if (file.find(p + key) != nullptr) {
      auto f = file.get_f32(p + key);
      if (!f) return f.error();
      factor = *f;
      break;
    }
  }
  hp.rope_freq_scale = (scaling == "none" || factor == 0.0f) ? 1.0f : 1.0f / factor;
  if (file.find(p + "rope.scaling.attn_factor") != nullptr) {
    auto f = file.get_f32(p + "rope.scaling.attn_factor");
    if (!f) return f.error();
    hp.rope_attn_factor = *f;
  }
  hp.n_ctx_orig = hp.n_ctx_train;
  if (file.find(p + "rope.scaling.original_context_length") != nullptr) {
    if (auto s = need_u32("rope.scaling.original_context_length", hp.n_ctx_orig); !s) return s.error();
  }
  if (auto s = read_sliding_window(file, p, hp); !s) return s.error();
  const bool wide = hp.desc->wide_query_scale_layers != 0 && hp.n_layer == hp.desc->wide_query_scale_layers;
  hp.query_scale = 1.0f / std::sqrt(static_cast<float>(wide ? hp.n_embd / hp.n_head[0] : hp.head_dim));
  if (hp.desc->softcaps) {
    // llama.cpp's defaults when the keys are absent.
    hp.attn_softcap = 50.0f;
    hp.final_softcap = 30.0f;
    if (auto s = optional(file, p + "attn_logit_softcapping", hp.attn_softcap); !s) return s.error();
    if (auto s = optional(file, p + "final_logit_softcapping", hp.final_softcap); !s) return s.error();
    if (!(hp.attn_softcap > 0.0f) || !(hp.final_softcap > 0.0f)) {
      return make_error(file.path() + ": soft-capping values must be positive");
    }
  }
  return hp;
}

namespace {

std::string format_float(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// "sliding window 4096 on even layers": the window and the layers that use it.
std::string sliding_feature(const ModelHparams& hp) {
  std::string s = "sliding window " + std::to_string(hp.n_swa);
  switch (hp.desc->sliding) {
    case SlidingLayers::None:
    case SlidingLayers::All: break;
    case SlidingLayers::EvenLayers: s += " on even layers"; break;
    case SlidingLayers::FiveOfSix: s += " on 5 of 6 layers"; break;
  }
  if (hp.desc->sliding_rope_base > 0) s += format_float(" with rope base %g", hp.desc->sliding_rope_base);
  return s;
}

// "Q/K/V biases", "K/V biases": the projections of layer 0 that have a bias.
std::string bias_feature(const gguf::File& file) {
  static constexpr std::pair<const char*, char> kBiases[] = {
      {"blk.0.attn_q.bias", 'Q'}, {"blk.0.attn_k.bias", 'K'}, {"blk.0.attn_v.bias", 'V'}};
  std::string which;
  for (const auto& [tensor, letter] : kBiases) {
    if (file.find_tensor(tensor) == nullptr) continue;
    if (!which.empty()) which += '/';
    which += letter;
  }
  if (which.empty()) return "";
  return which + (which.size() == 1 ? " bias" : " biases");
}

}  // namespace

std::string describe(const ModelHparams& hp, const gguf::File& file) {
  const Architecture& a = *hp.desc;
  std::vector<std::string> features;
  if (a.rope == RopeStyle::Neox) features.push_back("NEOX rope");
  if (hp.rope_freq_scale != 1.0f) features.push_back(format_float("linear rope scaling %gx", 1.0 / hp.rope_freq_scale));
  if (file.find_tensor("rope_factors_long.weight") != nullptr) {
    features.push_back("long/short rope factors (long past " + std::to_string(hp.n_ctx_orig) + " tokens)");
  }
  if (a.activation == Activation::Gelu) features.push_back("GELU FFN");
  if (a.embedding_scale) features.push_back("scaled embeddings");
  if (a.qk_norm) features.push_back("Q/K norms");
  if (a.post_norms) features.push_back("post-norms");
  if (hp.attn_softcap > 0.0f || hp.final_softcap > 0.0f) {
    features.push_back(format_float("soft-caps %g", hp.attn_softcap) + format_float("/%g", hp.final_softcap));
  }
  if (hp.n_swa > 0) features.push_back(sliding_feature(hp));
  if (hp.n_expert > 0) {
    features.push_back(std::to_string(hp.n_expert) + " experts, " + std::to_string(hp.n_expert_used) + " active");
    if (a.shared_expert) features.push_back("shared expert");
  }
  if (std::string biases = bias_feature(file); !biases.empty()) features.push_back(biases);
  if (file.find_tensor("blk.0.attn_qkv.weight") != nullptr) features.push_back("fused QKV");
  if (a.fused_gate_up && hp.n_expert == 0 && file.find_tensor("blk.0.ffn_gate.weight") == nullptr) {
    features.push_back("fused gate/up");
  }
  if (file.find_tensor("output.weight") == nullptr && file.find_tensor("token_embd.weight") != nullptr) {
    features.push_back("tied output");
  }

  std::string text = hp.arch;
  for (size_t i = 0; i < features.size(); ++i) text += (i == 0 ? " (" : ", ") + features[i];
  return features.empty() ? text : text + ")";
}

std::string describe_architecture(const gguf::File& file) {
  auto arch = file.get_string("general.architecture");
  if (!arch) return "";
  if (find_architecture(*arch) == nullptr) return *arch + " (not supported by cria)";
  if (file.tensors().empty()) return *arch + " (no tensors: a vocabulary or metadata file)";
  auto hp = ModelHparams::from_gguf(file);
  if (!hp) {
    std::string reason = hp.error().message;
    const std::string prefix = file.path() + ": ";
    if (reason.starts_with(prefix)) reason.erase(0, prefix.size());
    return *arch + " (cannot run: " + reason + ")";
  }
  return describe(*hp, file);
}

}  // namespace cria::model
