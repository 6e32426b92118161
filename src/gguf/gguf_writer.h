// GGUF writer, version 3 (FORMATS.md 1.1-1.6): metadata in insertion order, tensors packed in order at
// aligned offsets, every tensor padded with zeros to the alignment, exactly as llama.cpp's loader requires.
// The file is written to a temporary name and renamed at the end, so a failure leaves no partial file.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_value.h"
#include "quant/type_table.h"

namespace cria::gguf {

class Writer {
 public:
  // Fills exactly the tensor's byte size; called once, while the file is written, so that a converter
  // holds only one tensor in memory at a time.
  using Producer = std::function<Status(std::span<uint8_t> out)>;

  // Sets or replaces a key (a replaced key keeps its position). general.alignment also sets the alignment.
  void set(const std::string& key, Value value);
  void remove(const std::string& key);
  uint32_t alignment() const { return alignment_; }

  // `ne` lists 1 to 4 dimensions, fastest first. Copies nothing: `data` must stay alive until write().
  Status add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne, std::span<const uint8_t> data);
  Status add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne, Producer producer);

  Status write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    uint64_t n_bytes;
    Producer producer;
  };
  Result<uint64_t> check_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& ne) const;

  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace cria::gguf
