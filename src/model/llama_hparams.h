// Hyperparameters of a Llama-family model, read from GGUF metadata with the exact key types llama.cpp's
// loader expects (FORMATS.md 5.1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"

namespace cria::model {

struct LlamaHparams {
  std::string arch;            // general.architecture; the key prefix
  uint32_t n_ctx_train = 0;    // context_length
  uint32_t n_embd = 0;         // embedding_length
  uint32_t n_layer = 0;        // block_count
  std::vector<uint32_t> n_ff;       // per layer
  std::vector<uint32_t> n_head;     // per layer
  std::vector<uint32_t> n_head_kv;  // per layer
  uint32_t head_dim = 0;       // attention.key_length (= value_length for llama)
  uint32_t n_rot = 0;          // rope.dimension_count
  float rms_eps = 0;           // attention.layer_norm_rms_epsilon
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;   // 1 / rope.scaling.factor for linear scaling
  float rope_attn_factor = 1.0f;

  static Result<LlamaHparams> from_gguf(const gguf::File& file);
};

}  // namespace cria::model
