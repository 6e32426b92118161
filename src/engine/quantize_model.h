// `cria quantize`: rewrites a GGUF model with its weights in another type or llama-quantize mix. The
// metadata is copied (general.file_type and general.quantization_version updated), each quantizable
// tensor is decoded to f32 and re-encoded with the reference quantizer of the type the mix chooses, and
// every other tensor is copied. Tensors are produced one at a time while the file is written, so memory
// stays at one tensor, and the output appears only once it is complete.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "quant/quant_mix.h"
#include "quant/type_table.h"

namespace cria::engine {

struct QuantizeOptions {
  QuantMix mix = QuantMix::Q8_0;
  bool pure = false;              // every quantizable tensor in the mix's default type
  bool allow_requantize = false;  // accept weights that are already quantized (quality suffers)
  std::optional<TensorType> output_tensor_type;    // output.weight (the tied embedding when there is none)
  std::optional<TensorType> token_embedding_type;  // token_embd.weight
  int n_threads = 0;                               // 0: physical cores
};

// What happens to one tensor of the input.
struct QuantizeStep {
  const gguf::TensorInfo* tensor = nullptr;
  TensorType to = TensorType::F32;
  bool copy = false;  // bytes copied as they are (not quantizable, or already of the chosen type)
};

// The type of every tensor, checked before anything is written: a type cria cannot produce, or an
// already-quantized weight without allow_requantize, is an error naming the tensor.
Result<std::vector<QuantizeStep>> plan_quantization(const gguf::File& input, const QuantizeOptions& options);

struct QuantizeProgress {
  size_t index = 0;  // of the tensor just finished
  size_t n_tensors = 0;
  const QuantizeStep* step = nullptr;
  uint64_t bytes_in = 0, bytes_out = 0;  // of this tensor
};

// Writes `output` (through a temporary file renamed at the end). `progress` is called after each tensor.
Status quantize_model(const gguf::File& input, const std::string& output, const QuantizeOptions& options,
                      const std::function<void(const QuantizeProgress&)>& progress = {});

// llama-quantize's default output name: ggml-model-<TYPE>.gguf beside the input.
std::string default_quantized_path(const std::string& input, QuantMix mix);

}  // namespace cria::engine
