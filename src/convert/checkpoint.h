// A checkpoint directory, understood: the Llama hyperparameters, the tokenizer metadata and, for every
// tensor to write, its GGUF name and shape and a loader that produces its values (merged across
// shards, Q/K rows in GGUF order) only when the writer asks for them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "convert/tensor_file.h"
#include "convert/tokenizer_metadata.h"
#include "core/result.h"

namespace cria::convert {

struct LlamaHParams {
  uint32_t n_layer = 0;
  std::optional<uint32_t> n_ctx;  // llama.context_length, written when known
  uint32_t n_embd = 0;
  uint32_t n_ff = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim = 0;
  bool write_head_dim = false;  // llama.attention.key_length/value_length
  std::optional<float> rope_theta;
  float rms_eps = 0.0f;
  uint32_t vocab_size = 0;
  std::optional<float> rope_linear_factor;  // rope_scaling {"type": "linear"}
};

struct PlannedTensor {
  std::string name;          // GGUF name
  std::vector<int64_t> ne;   // GGUF order, fastest first
  std::function<Status(std::span<float> out)> load;  // fills ne's element count, C order
  int64_t n_elements() const;
};

struct Checkpoint {
  std::string layout;      // "Hugging Face" or "Meta"
  std::string model_name;  // general.name
  LlamaHParams hparams;
  TokenizerMetadata tokenizer;
  std::vector<PlannedTensor> tensors;
  std::vector<std::shared_ptr<TensorFile>> files;  // kept open for the loaders
  std::vector<std::string> notes;  // guesses the user may want to override, for the CLI to show
};

struct CheckpointOptions {
  std::optional<uint32_t> context_length;  // overrides what the checkpoint says or the guess
};

// Detects the layout (params.json + consolidated.*.pth: Meta; config.json: Hugging Face).
Result<Checkpoint> open_checkpoint(const std::filesystem::path& dir, const CheckpointOptions& options);
Result<Checkpoint> open_hf_checkpoint(const std::filesystem::path& dir, const CheckpointOptions& options);
Result<Checkpoint> open_meta_checkpoint(const std::filesystem::path& dir, const CheckpointOptions& options);

// Shared checks once a layout has mapped its tensors: every tensor has the shape the hyperparameters
// give it (PyTorch order), and every tensor a Llama model needs is there.
Status check_llama_tensors(const Checkpoint& checkpoint, const std::string& source);

// general.name from a directory name, as llama.cpp titles it ("tiny-llama" -> "Tiny Llama", "hf" -> "Hf").
std::string title_from_directory(const std::filesystem::path& dir);

}  // namespace cria::convert
