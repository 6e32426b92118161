#include "model/llama_hparams.h"

#include <string>

#include "ops/attention.h"

namespace cria::model {

namespace {

// Architectures whose graph is the llama one (Mistral and Mixtral checkpoints are converted to "llama").
bool is_llama_family(const std::string& arch) { return arch == "llama"; }

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

}  // namespace

Result<LlamaHparams> LlamaHparams::from_gguf(const gguf::File& file) {
  LlamaHparams hp;
  auto arch = file.get_string("general.architecture");
  if (!arch) return arch.error();
  hp.arch = *arch;
  if (!is_llama_family(hp.arch)) {
    return make_error(file.path() + ": unknown architecture '" + hp.arch + "' (supported: llama)");
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
  if (file.find(p + "expert_count") != nullptr) {
    auto experts = file.get_u32(p + "expert_count");
    if (experts && *experts > 0) return make_error(file.path() + ": mixture-of-experts models are not supported yet");
  }
  auto n_ff = per_layer(file, p + "feed_forward_length", hp.n_layer, nullptr);
  if (!n_ff) return n_ff.error();
  hp.n_ff = *n_ff;
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
  if (hp.n_rot != hp.head_dim) {
    return make_error(file.path() + ": rope.dimension_count " + std::to_string(hp.n_rot) +
                      " must equal the head dimension " + std::to_string(hp.head_dim) + " for llama");
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
  return hp;
}

}  // namespace cria::model
