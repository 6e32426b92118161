// GGUF reader (FORMATS.md section 1): versions 1, 2 and 3, memory-mapped, validated before use.
// Every failure is an Error naming the file, the field and the offending value; no input crashes it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mapped_file.h"
#include "core/result.h"
#include "gguf/gguf_value.h"
#include "quant/type_table.h"

namespace cria::gguf {

constexpr uint32_t kDefaultAlignment = 32;
constexpr size_t kMaxTensorNameBytes = 63;  // llama.cpp's limit (GGML_MAX_NAME - 1)

struct TensorInfo {
  std::string name;
  TensorType type;
  uint32_t n_dims;                 // as stored (1..4)
  std::array<int64_t, 4> ne;       // ne[0] fastest; missing dims are 1
  uint64_t offset;                 // relative to the data section
  uint64_t n_bytes;                // size of the data
  const uint8_t* data;             // into the mapping (nullptr when parsed without data)

  const TypeTraits& traits() const { return cria::traits(type); }
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return cria::row_bytes(traits(), ne[0]); }
  std::string shape_string() const;  // "[256, 4096]" with n_dims entries
};

class File {
 public:
  // Maps and parses a file from disk. The first shard of a split model (gguf_split.h) opens the others
  // too, each checked as a file and against the first (numbering, count, tensor total, no tensor twice),
  // and the whole model reads as one file: the first shard's metadata, every shard's tensors in order.
  static Result<File> open(const std::string& path);
  // Parses bytes in memory (the caller keeps them alive); `name` appears in error messages.
  static Result<File> parse(const uint8_t* data, size_t size, std::string name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;

  // Typed getters that insist on the exact stored type (as llama.cpp's loader does).
  Result<std::string> get_string(std::string_view key) const;
  Result<uint32_t> get_u32(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<const Array*> get_array(std::string_view key, ValueType element_type) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // Files the tensors come from: 1, or a split model's shard count.
  int n_shards() const { return 1 + static_cast<int>(shards_.size()); }
  // Whether the tensors are in a file mapping (open), not a caller's buffer (parse).
  bool mapped() const { return mapping_ != nullptr; }
  // Bytes of the file (all shards) this process has touched and holds in memory.
  uint64_t resident_bytes() const;

 private:
  std::string path_;
  std::shared_ptr<MappedFile> mapping_;  // shared so that File stays cheap to move and copy
  std::vector<std::shared_ptr<MappedFile>> shards_;  // a split model's other shards, whose tensors are here too
  static Result<File> open_one(const std::string& path);  // one file, split metadata or not
  Status open_shards();
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  uint64_t file_size_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;

  friend class Parser;
};

// Dequantizes a tensor's whole data into f32 (for tests and tools; the model never does this for weights).
// Fails with "tensor type IQ2_XXS is not supported yet" for types without a decoder.
Result<std::vector<float>> dequantize_tensor(const TensorInfo& tensor);

}  // namespace cria::gguf
