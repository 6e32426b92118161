// `cria convert`: a Meta or Hugging Face Llama checkpoint to one GGUF file, written tensor by tensor
// with the names, Q/K row order and metadata of llama.cpp's converters.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convert/checkpoint.h"
#include "core/result.h"
#include "quant/type_table.h"

namespace cria::convert {

enum class OutType { F32, F16, BF16, Q8_0 };
Result<OutType> parse_outtype(std::string_view text);  // "f32", "f16", "bf16", "q8_0" (any case)
std::string_view outtype_name(OutType t);               // "F32", "F16", "BF16", "Q8_0"

// The type a tensor gets: 1-D tensors and norms stay F32; Q8_0 falls back to F16 for rows that are
// not a whole number of blocks, as llama.cpp's converter does.
TensorType tensor_type_for(const PlannedTensor& tensor, OutType out);

// llama.cpp's size label from a parameter count: 6819072 -> "6.8M", 6738415616 -> "6.7B".
std::string size_label(uint64_t n_params);

struct ConvertProgress {
  size_t index;  // 0-based tensor being written
  size_t count;
  const std::string& name;
  TensorType type;
  uint64_t bytes_done;  // tensor data written so far, including this tensor
  uint64_t bytes_total;
};

struct ConvertOptions {
  std::filesystem::path dir;
  std::optional<std::filesystem::path> outfile;  // default: DIR/<Name>-<size>-<OUTTYPE>.gguf
  OutType outtype = OutType::F16;                // llama.cpp's default
  CheckpointOptions checkpoint;
  std::function<void(const ConvertProgress&)> progress;  // called after each tensor
};

struct ConvertSummary {
  std::filesystem::path output;
  std::string layout;
  size_t n_tensors = 0;
  uint64_t n_params = 0;
  uint64_t data_bytes = 0;
  std::vector<std::string> notes;  // Checkpoint::notes
};

// Either writes the whole file or leaves nothing at the output path (the writer renames at the end).
Result<ConvertSummary> convert_checkpoint(const ConvertOptions& options);

}  // namespace cria::convert
