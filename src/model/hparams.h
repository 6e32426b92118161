// Hyperparameters of a decoder model, read from GGUF metadata with the exact key types llama.cpp's
// loader expects (FORMATS.md 5.1), for every architecture in model/architecture.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "model/architecture.h"

namespace cria::model {

// The layers a process holds: all of them, or one pipeline stage's contiguous share [begin, end) of a model
// split over several processes (src/dist). `end` past the last layer means "to the last".
struct LayerRange {
  uint32_t begin = 0, end = UINT32_MAX;
  LayerRange clipped(uint32_t n_layer) const { return {begin, end < n_layer ? end : n_layer}; }
  bool contains(uint32_t layer) const { return layer >= begin && layer < end; }
  // "11..21": the first and the last layer, as messages show a (non-empty) range.
  std::string text() const { return std::to_string(begin) + ".." + std::to_string(end - 1); }
};

struct ModelHparams {
  std::string arch;            // general.architecture; the key prefix
  const Architecture* desc = nullptr;  // what the architecture computes (never null once loaded)
  uint32_t n_ctx_train = 0;    // context_length
  uint32_t n_embd = 0;         // embedding_length
  uint32_t n_layer = 0;        // block_count
  std::vector<uint32_t> n_ff;       // per layer
  std::vector<uint32_t> n_head;     // per layer
  std::vector<uint32_t> n_head_kv;  // per layer
  uint32_t head_dim = 0;       // attention.key_length (= value_length)
  uint32_t n_rot = 0;          // rope.dimension_count
  float rms_eps = 0;           // attention.layer_norm_rms_epsilon
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;   // 1 / rope.scaling.factor for linear scaling
  float rope_attn_factor = 1.0f;
  // rope.scaling.original_context_length (default context_length): a context per sequence longer than
  // this selects Phi-3's long RoPE factors instead of its short ones (Model::rope_freq_factors).
  uint32_t n_ctx_orig = 0;
  float query_scale = 1.0f;       // attention's 1/sqrt(head_dim), or the architecture's rule

  // Sliding-window attention: the window in keys (a token sees itself and the n_swa - 1 before it) and
  // which layers use it; 0 and none when the architecture or the file has no window.
  uint32_t n_swa = 0;
  std::vector<uint8_t> sliding;  // per layer
  float attn_softcap = 0.0f;     // > 0: attention scores are soft-capped (Gemma 2)
  float final_softcap = 0.0f;    // > 0: the logits are soft-capped

  // Mixture of experts (n_expert > 0): each token's FFN is the weighted sum of n_expert_used of n_expert
  // experts of n_ff_exp hidden units, plus a shared expert of n_ff_shexp units if the architecture has one.
  uint32_t n_expert = 0, n_expert_used = 0, n_ff_exp = 0, n_ff_shexp = 0;

  bool is_sliding(size_t layer) const { return !sliding.empty() && sliding[layer] != 0; }
  // Whether a layer rotates with the sliding layers' own RoPE base, unscaled (Gemma 3), rather than the model's.
  bool own_rope(size_t layer) const { return is_sliding(layer) && desc->sliding_rope_base > 0; }

  static Result<ModelHparams> from_gguf(const gguf::File& file);
};

// One line naming the architecture and what it computes beyond a plain Llama decoder, for `cria info` and
// the load banners: "qwen2 (NEOX rope, Q/K/V biases, tied output)", "llama (8 experts, 2 active)". Biases,
// fused and tied tensors are seen in the file's tensor list (the header; no tensor data is read).
std::string describe(const ModelHparams& hp, const gguf::File& file);

// The same from a file's header alone, whatever the file: the description when cria runs the architecture,
// "NAME (not supported by cria)" when it does not, "NAME (cannot run: REASON)" when the metadata is not
// what the architecture needs, "NAME (no tensors: ...)" for a vocabulary file; empty when the file has no
// general.architecture.
std::string describe_architecture(const gguf::File& file);

}  // namespace cria::model
