// Tensors as a checkpoint stores them, before any renaming or type conversion: one shard file
// (safetensors, or a PyTorch zip archive) lists its tensors and reads one at a time as f32, so a
// converter never holds more than the tensor it is writing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cria::convert {

// Element types a checkpoint may hold. Integer tensors do not occur in Llama weights and are refused.
enum class DType { F32, F16, BF16 };
size_t dtype_size(DType t);
std::string_view dtype_name(DType t);

// Widens `n` stored elements to f32 (exact for every DType).
void widen_to_f32(DType t, const uint8_t* src, float* dst, size_t n);

struct StoredTensor {
  std::string name;           // as in the checkpoint ("model.layers.0.self_attn.q_proj.weight")
  DType dtype;
  std::vector<int64_t> shape;  // PyTorch order: slowest dimension first
  int64_t n_elements() const;
};

// Products of dimensions overflow-checked: false when the count does not fit in int64.
bool element_count(std::span<const int64_t> shape, int64_t& out);

class TensorFile {
 public:
  virtual ~TensorFile() = default;
  virtual const std::string& path() const = 0;
  virtual const std::vector<StoredTensor>& tensors() const = 0;
  // Reads tensor `index` (C order) into `out`, which holds exactly its element count.
  virtual Status read_f32(size_t index, std::span<float> out) = 0;
};

// model.safetensors and its shards (safetensors.cpp).
Result<std::unique_ptr<TensorFile>> open_safetensors(const std::string& path);
// consolidated.NN.pth and pytorch_model*.bin: a zip archive with a pickled state dict (torch_zip.cpp).
Result<std::unique_ptr<TensorFile>> open_torch_zip(const std::string& path);

}  // namespace cria::convert
