// Random-weight models at real shapes, for measuring speed without downloading checkpoints: the time of a
// forward pass depends on the shapes and tensor types, not on the values. Llama by default; a shape may
// name another architecture with Q/K/V biases (Qwen2), tied embeddings, or Mixtral-style experts. Weights are drawn
// from N(0, 0.02^2) (norm weights are 1), deterministic for a seed whatever the thread count, and are
// generated and quantized one tensor at a time while the file is written, so memory stays at one tensor.
// The vocabulary is a real one (llama-spm), so the files also tokenize and generate text.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "quant/quant_mix.h"
#include "quant/type_table.h"

namespace cria::engine {

struct SynthShape {
  std::string_view preset;  // "tinyllama-1.1b"
  uint32_t n_embd = 0;
  uint32_t n_layer = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t n_ff = 0;
  uint32_t n_vocab = 0;
  uint32_t n_ctx = 0;
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  // What the architecture adds to Llama's tensors. It must not need tensors synth does not write (Q/K
  // norms, post-norms, shared experts).
  std::string_view arch = "llama";  // general.architecture and the metadata key prefix
  bool qkv_bias = false;            // attn_q/k/v.bias, F32 (Qwen2)
  bool tied_output = false;         // no output.weight: token_embd.weight is the output head too
  uint32_t n_expert = 0;            // > 0: Mixtral-style experts, each of n_ff hidden units, and a router
  uint32_t n_expert_used = 0;       // experts per token (1 .. n_expert)
};

std::span<const SynthShape> synth_presets();
const SynthShape* find_synth_preset(std::string_view name);

// One tensor of the file, in file order.
struct SynthTensor {
  std::string name;
  TensorType type;
  std::vector<int64_t> ne;
  int layer;  // -1 outside the blocks
  bool is_norm;  // filled with 1 (every other tensor is random)

  int64_t n_elements() const;
};

// The tensors of a model of `shape` written as `mix` (every weight in the mix's default type when `pure`).
std::vector<SynthTensor> plan_synth_tensors(const SynthShape& shape, QuantMix mix, bool pure);

struct SynthProgress {
  size_t tensor_index = 0;  // of the tensor being written
  size_t n_tensors = 0;
  const SynthTensor* tensor = nullptr;
  uint64_t bytes_done = 0;  // of tensor data, over the whole file
  uint64_t bytes_total = 0;
};

struct SynthOptions {
  SynthShape shape;
  QuantMix mix = QuantMix::F16;
  bool pure = false;
  uint64_t seed = 0;
  int n_threads = 0;     // 0: physical cores
  float stddev = 0.02f;
  std::string vocab_path;  // a GGUF whose tokenizer.* metadata is copied (models/vocab/ggml-vocab-llama-spm.gguf)
  // Called from the writing thread as the file grows (several times per large tensor).
  std::function<void(const SynthProgress&)> progress;
};

// Writes the model to `path` (through FILE.tmp, renamed at the end).
Status write_synth_model(const SynthOptions& options, const std::string& path);

// "1.1B", "6.7B", "8.4M": the converter's general.size_label for a parameter count.
std::string size_label(uint64_t n_params);

// The general.size_label of a planned model: size_label of its parameters, or with experts the
// converter's "8x1.1B" (the shared parameters plus one expert's).
std::string plan_size_label(const SynthShape& shape, const std::vector<SynthTensor>& plan);

}  // namespace cria::engine
