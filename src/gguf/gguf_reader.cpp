#include "gguf/gguf_reader.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

#include "gguf/gguf_split.h"

namespace cria::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool mul_overflows(int64_t a, int64_t b, int64_t& out) { return __builtin_mul_overflow(a, b, &out); }

// Printable form of a name taken from the file, so that hostile bytes do not end up in a terminal raw.
std::string printable(std::string_view s, size_t max_len = 80) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max_len) out += "...";
  return out;
}

}  // namespace

// Reads the file front to back. Each read checks the remaining size first; counts from the file are
// checked against the bytes that remain before anything is reserved.
class Parser {
 public:
  Parser(const uint8_t* data, size_t size, std::string name) : data_(data), size_(size), name_(std::move(name)) {}

  Result<File> run();

 private:
  Error fail(const std::string& field, const std::string& problem) const {
    return make_error(name_ + ": " + field + ": " + problem);
  }
  size_t remaining() const { return size_ - pos_; }

  bool read_bytes(void* out, size_t n) {
    if (remaining() < n) return false;
    std::memcpy(out, data_ + pos_, n);
    pos_ += n;
    return true;
  }
  template <class Int>
  bool read(Int& out) {
    return read_bytes(&out, sizeof(Int));
  }
  // Lengths and counts: u32 in version 1, u64 from version 2 on.
  bool read_count(uint64_t& out) {
    if (version_ == 1) {
      uint32_t v;
      if (!read(v)) return false;
      out = v;
      return true;
    }
    return read(out);
  }

  Status read_string(const std::string& field, std::string& out);
  Status read_value(const std::string& field, ValueType type, Value& out);
  Status read_array(const std::string& field, Array& out);
  template <class Elem>
  Status read_numeric_array(const std::string& field, uint64_t count, Array& out);
  Status read_tensor_info(uint64_t index, TensorInfo& out);
  Status check_alignment_key(File& file);
  Status check_data_section(File& file);

  const uint8_t* data_;
  size_t size_;
  std::string name_;
  size_t pos_ = 0;
  uint32_t version_ = 0;
};

Status Parser::read_string(const std::string& field, std::string& out) {
  uint64_t length;
  if (!read_count(length)) return fail(field, "truncated string length at offset " + std::to_string(pos_));
  if (length > remaining()) {
    return fail(field, "string length " + std::to_string(length) + " runs past the end of the file (" +
                           std::to_string(remaining()) + " bytes left)");
  }
  out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
  pos_ += static_cast<size_t>(length);
  // GGUF v1 writers before Aug 2023 counted a trailing NUL in the length.
  if (version_ == 1) {
    while (!out.empty() && out.back() == '\0') out.pop_back();
  }
  return Ok{};
}

template <class Elem>
Status Parser::read_numeric_array(const std::string& field, uint64_t count, Array& out) {
  const size_t elem_size = std::is_same_v<Elem, bool> ? 1 : sizeof(Elem);
  if (count > remaining() / elem_size) {
    return fail(field, "array of " + std::to_string(count) + " elements runs past the end of the file");
  }
  std::vector<Elem> items(static_cast<size_t>(count));
  for (auto&& item : items) {
    if constexpr (std::is_same_v<Elem, bool>) {
      item = data_[pos_] != 0;
      pos_ += 1;
    } else {
      std::memcpy(&item, data_ + pos_, sizeof(Elem));
      pos_ += sizeof(Elem);
    }
  }
  out.items = std::move(items);
  return Ok{};
}

Status Parser::read_array(const std::string& field, Array& out) {
  int32_t elem_type;
  if (!read(elem_type)) return fail(field, "truncated array element type");
  if (elem_type < 0 || elem_type >= kValueTypeCount) {
    return fail(field, "unknown array element type " + std::to_string(elem_type));
  }
  if (elem_type == static_cast<int32_t>(ValueType::ARRAY)) return fail(field, "nested arrays are not supported");
  out.element_type = static_cast<ValueType>(elem_type);
  uint64_t count;
  if (!read_count(count)) return fail(field, "truncated array length");
  switch (out.element_type) {
    case ValueType::UINT8: return read_numeric_array<uint8_t>(field, count, out);
    case ValueType::INT8: return read_numeric_array<int8_t>(field, count, out);
    case ValueType::UINT16: return read_numeric_array<uint16_t>(field, count, out);
    case ValueType::INT16: return read_numeric_array<int16_t>(field, count, out);
    case ValueType::UINT32: return read_numeric_array<uint32_t>(field, count, out);
    case ValueType::INT32: return read_numeric_array<int32_t>(field, count, out);
    case ValueType::FLOAT32: return read_numeric_array<float>(field, count, out);
    case ValueType::BOOL: return read_numeric_array<bool>(field, count, out);
    case ValueType::UINT64: return read_numeric_array<uint64_t>(field, count, out);
    case ValueType::INT64: return read_numeric_array<int64_t>(field, count, out);
    case ValueType::FLOAT64: return read_numeric_array<double>(field, count, out);
    case ValueType::STRING: {
      const size_t min_string_bytes = version_ == 1 ? 4 : 8;
      if (count > remaining() / min_string_bytes) {
        return fail(field, "array of " + std::to_string(count) + " strings runs past the end of the file");
      }
      std::vector<std::string> items(static_cast<size_t>(count));
      for (uint64_t i = 0; i < count; ++i) {
        auto status = read_string(field + "[" + std::to_string(i) + "]", items[i]);
        if (!status) return status;
      }
      out.items = std::move(items);
      return Ok{};
    }
    case ValueType::ARRAY: break;
  }
  return fail(field, "unreachable array element type");
}

Status Parser::read_value(const std::string& field, ValueType type, Value& out) {
  auto scalar = [&](auto zero) -> Status {
    decltype(zero) v;
    if (!read(v)) return fail(field, "truncated " + std::string(value_type_name(type)) + " value");
    out = Value(v);
    return Ok{};
  };
  switch (type) {
    case ValueType::UINT8: return scalar(uint8_t{});
    case ValueType::INT8: return scalar(int8_t{});
    case ValueType::UINT16: return scalar(uint16_t{});
    case ValueType::INT16: return scalar(int16_t{});
    case ValueType::UINT32: return scalar(uint32_t{});
    case ValueType::INT32: return scalar(int32_t{});
    case ValueType::FLOAT32: return scalar(float{});
    case ValueType::UINT64: return scalar(uint64_t{});
    case ValueType::INT64: return scalar(int64_t{});
    case ValueType::FLOAT64: return scalar(double{});
    case ValueType::BOOL: {
      uint8_t b;
      if (!read(b)) return fail(field, "truncated BOOL value");
      out = Value(b != 0);
      return Ok{};
    }
    case ValueType::STRING: {
      std::string s;
      auto status = read_string(field, s);
      if (!status) return status;
      out = Value(std::move(s));
      return Ok{};
    }
    case ValueType::ARRAY: {
      Array a;
      auto status = read_array(field, a);
      if (!status) return status;
      out = Value(std::move(a));
      return Ok{};
    }
  }
  return fail(field, "unknown value type " + std::to_string(static_cast<int32_t>(type)));
}

Status Parser::read_tensor_info(uint64_t index, TensorInfo& t) {
  std::string field = "tensor #" + std::to_string(index);
  auto status = read_string(field + " name", t.name);
  if (!status) return status;
  if (t.name.empty()) return fail(field, "empty tensor name");
  field = "tensor '" + printable(t.name) + "'";
  if (t.name.size() > kMaxTensorNameBytes) {
    return fail(field, "name is " + std::to_string(t.name.size()) + " bytes, more than the limit of " +
                           std::to_string(kMaxTensorNameBytes));
  }
  if (!read(t.n_dims)) return fail(field, "truncated n_dims");
  if (t.n_dims < 1 || t.n_dims > 4) return fail(field, "n_dims " + std::to_string(t.n_dims) + " is not in 1..4");
  t.ne = {1, 1, 1, 1};
  for (uint32_t d = 0; d < t.n_dims; ++d) {
    int64_t ne;
    if (version_ == 1) {
      uint32_t ne32;
      if (!read(ne32)) return fail(field, "truncated dimension " + std::to_string(d));
      ne = ne32;
    } else if (!read(ne)) {
      return fail(field, "truncated dimension " + std::to_string(d));
    }
    if (ne < 0) return fail(field, "dimension " + std::to_string(d) + " is negative (" + std::to_string(ne) + ")");
    t.ne[d] = ne;
  }
  int32_t type_id;
  if (!read(type_id)) return fail(field, "truncated type");
  if (!read(t.offset)) return fail(field, "truncated data offset");

  const TypeTraits* traits = find_type(type_id);
  if (traits == nullptr) {
    const auto removed = removed_type_name(type_id);
    if (!removed.empty()) {
      return fail(field, "tensor type " + std::to_string(type_id) + " (" + std::string(removed) +
                             ") was removed from GGUF and is not supported");
    }
    return fail(field, "unknown tensor type " + std::to_string(type_id));
  }
  t.type = traits->type;

  int64_t n_elements = 1;
  for (int d = 0; d < 4; ++d) {
    if (mul_overflows(n_elements, t.ne[d], n_elements)) return fail(field, "element count overflows 64 bits");
  }
  if (t.ne[0] % traits->block_size != 0) {
    return fail(field, "row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                           std::string(traits->name) + " block size " + std::to_string(traits->block_size));
  }
  int64_t bytes = static_cast<int64_t>(traits->block_bytes);
  if (mul_overflows(bytes, t.ne[0] / traits->block_size, bytes) || mul_overflows(bytes, t.ne[1], bytes) ||
      mul_overflows(bytes, t.ne[2], bytes) || mul_overflows(bytes, t.ne[3], bytes)) {
    return fail(field, "byte size overflows 64 bits");
  }
  t.n_bytes = static_cast<uint64_t>(bytes);
  t.data = nullptr;
  return Ok{};
}

Status Parser::check_alignment_key(File& file) {
  const Value* v = file.find("general.alignment");
  if (v == nullptr) return Ok{};
  const auto* a = v->get_if<uint32_t>();
  if (a == nullptr) {
    return fail("general.alignment", "must be UINT32, found " + std::string(value_type_name(v->type())));
  }
  if (!is_power_of_two(*a)) {
    return fail("general.alignment", "must be a non-zero power of two, found " + std::to_string(*a));
  }
  file.alignment_ = *a;
  return Ok{};
}

Status Parser::check_data_section(File& file) {
  const uint64_t align = file.alignment_;
  const uint64_t data_offset = (static_cast<uint64_t>(pos_) + align - 1) / align * align;
  file.data_offset_ = data_offset;
  if (file.tensors_.empty()) return Ok{};
  if (data_offset > size_) {
    return fail("data section", "starts at " + std::to_string(data_offset) + ", past the end of the file (size " +
                                    std::to_string(size_) + ")");
  }
  const uint64_t data_size = size_ - data_offset;
  for (auto& t : file.tensors_) {
    const std::string field = "tensor '" + printable(t.name) + "'";
    if (t.offset % align != 0) {
      return fail(field, "data offset " + hex(t.offset) + " is not a multiple of the alignment " +
                             std::to_string(align));
    }
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return fail(field, "data at offset " + hex(t.offset) + " with " + std::to_string(t.n_bytes) +
                             " bytes runs past the end of the file (data section is " + std::to_string(data_size) +
                             " bytes)");
    }
    t.data = data_ + data_offset + t.offset;
  }
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(file.tensors_.size());
  for (const auto& t : file.tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    const TensorInfo* cur = by_offset[i];
    if (prev->offset + prev->n_bytes > cur->offset) {
      return fail("tensor '" + printable(cur->name) + "'",
                  "data at offset " + hex(cur->offset) + " overlaps tensor '" + printable(prev->name) + "' (" +
                      hex(prev->offset) + ".." + hex(prev->offset + prev->n_bytes) + ")");
    }
  }
  return Ok{};
}

Result<File> Parser::run() {
  File file;
  file.path_ = name_;
  file.file_size_ = size_;

  uint32_t magic;
  if (!read(magic)) return fail("header", "file is " + std::to_string(size_) + " bytes, too short for a GGUF header");
  if (magic != kMagic) return fail("header", "bad magic " + hex(magic) + ", not a GGUF file");
  if (!read(version_)) return fail("header", "truncated version");
  if (version_ == 0 || version_ > 3) {
    if ((version_ & 0xffff) == 0 && version_ != 0) {
      return fail("header", "version " + hex(version_) + " looks byte-swapped: big-endian GGUF is not supported");
    }
    return fail("header", "unsupported GGUF version " + std::to_string(version_) + " (supported: 1, 2, 3)");
  }
  file.version_ = version_;

  uint64_t n_tensors, n_kv;
  if (!read_count(n_tensors)) return fail("header", "truncated tensor count");
  if (!read_count(n_kv)) return fail("header", "truncated metadata count");
  if (static_cast<int64_t>(n_tensors) < 0) return fail("header", "tensor count " + hex(n_tensors) + " is negative");
  if (static_cast<int64_t>(n_kv) < 0) return fail("header", "metadata count " + hex(n_kv) + " is negative");
  // Smallest possible records: key length + type + 1-byte value; name length + n_dims + one dim + type + offset.
  const uint64_t min_kv_bytes = version_ == 1 ? 4 + 4 + 1 : 8 + 4 + 1;
  const uint64_t min_tensor_bytes = version_ == 1 ? 4 + 4 + 4 + 4 + 8 : 8 + 4 + 8 + 4 + 8;
  if (n_kv > remaining() / min_kv_bytes) {
    return fail("header", "metadata count " + std::to_string(n_kv) + " cannot fit in the remaining " +
                              std::to_string(remaining()) + " bytes");
  }
  if (n_tensors > remaining() / min_tensor_bytes) {
    return fail("header", "tensor count " + std::to_string(n_tensors) + " cannot fit in the remaining " +
                              std::to_string(remaining()) + " bytes");
  }

  file.metadata_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key;
    auto status = read_string("metadata key #" + std::to_string(i), key);
    if (!status) return status.error();
    if (key.empty()) return fail("metadata key #" + std::to_string(i), "empty key");
    const std::string field = "metadata '" + printable(key) + "'";
    if (file.metadata_index_.count(key) != 0) return fail(field, "duplicate key");
    int32_t type;
    if (!read(type)) return fail(field, "truncated value type");
    if (type < 0 || type >= kValueTypeCount) return fail(field, "unknown value type " + std::to_string(type));
    Value value;
    status = read_value(field, static_cast<ValueType>(type), value);
    if (!status) return status.error();
    file.metadata_index_.emplace(key, file.metadata_.size());
    file.metadata_.emplace_back(std::move(key), std::move(value));
  }
  if (auto status = check_alignment_key(file); !status) return status.error();

  file.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t{};
    auto status = read_tensor_info(i, t);
    if (!status) return status.error();
    if (file.tensor_index_.count(t.name) != 0) {
      return fail("tensor '" + printable(t.name) + "'", "duplicate tensor name");
    }
    file.tensor_index_.emplace(t.name, file.tensors_.size());
    file.tensors_.push_back(std::move(t));
  }
  if (auto status = check_data_section(file); !status) return status.error();
  return file;
}

Result<File> File::parse(const uint8_t* data, size_t size, std::string name) {
  return Parser(data, size, std::move(name)).run();
}

Result<File> File::open_one(const std::string& path) {
  auto mapping = MappedFile::open(path);
  if (!mapping) return mapping.error();
  auto shared = std::make_shared<MappedFile>(std::move(mapping).value());
  auto file = parse(shared->data(), shared->size(), path);
  if (!file) return file.error();
  file->mapping_ = std::move(shared);
  return file;
}

Result<File> File::open(const std::string& path) {
  auto file = open_one(path);
  if (!file) return file.error();
  if (file->find(kSplitCount) != nullptr) {
    if (auto status = file->open_shards(); !status) return status.error();
  }
  return file;
}

Status File::open_shards() {
  const auto number = [&](const File& f, std::string_view key) -> std::optional<int64_t> {
    const Value* v = f.find(key);
    if (v == nullptr) return std::nullopt;
    if (const auto* u = v->get_if<uint16_t>()) return *u;
    if (const auto* i = v->get_if<int32_t>()) return *i;
    return std::nullopt;
  };
  const auto count = number(*this, kSplitCount), no = number(*this, kSplitNo), total = number(*this, kSplitTensorsCount);
  if (count && *count <= 1) return Ok{};  // 0: a merged file (llama-gguf-split --merge leaves split.count = 0)
  if (!count || !no || !total || *total < 0) {
    return make_error(path_ + ": split metadata (split.no UINT16, split.count UINT16, split.tensors.count INT32) is "
                              "missing or of the wrong type");
  }
  if (*no != 0) {
    const auto name = parse_split_path(path_);
    return make_error(path_ + ": this is shard " + std::to_string(*no + 1) + " of " + std::to_string(*count) +
                      " of a split model; open the first one (" +
                      (name ? split_path(name->prefix, 0, static_cast<int>(*count)) : std::string("...-00001-of-...")) + ")");
  }
  const auto name = parse_split_path(path_);
  if (!name || name->count != *count) {
    return make_error(path_ + ": the first shard of a " + std::to_string(*count) +
                      "-shard model must be named PREFIX" + split_path("", 0, static_cast<int>(*count)));
  }
  for (int i = 1; i < *count; ++i) {
    const std::string shard_path = split_path(name->prefix, i, static_cast<int>(*count));
    auto shard = open_one(shard_path);
    if (!shard) return make_error("split model " + path_ + ": shard " + std::to_string(i + 1) + " of " + std::to_string(*count) + ": " + shard.error().message);
    const auto s_no = number(*shard, kSplitNo), s_count = number(*shard, kSplitCount);
    if (s_no != i || s_count != count) {
      return make_error(shard_path + ": split.no/split.count say shard " + (s_no ? std::to_string(*s_no + 1) : "?") + " of " +
                        (s_count ? std::to_string(*s_count) : "?") + ", expected " + std::to_string(i + 1) + " of " +
                        std::to_string(*count));
    }
    for (TensorInfo& t : shard->tensors_) {
      if (tensor_index_.count(t.name) != 0) return make_error(shard_path + ": tensor '" + t.name + "' is also in an earlier shard");
      tensor_index_.emplace(t.name, tensors_.size());
      tensors_.push_back(std::move(t));
    }
    shards_.push_back(std::move(shard->mapping_));
  }
  if (static_cast<int64_t>(tensors_.size()) != *total) {
    return make_error(path_ + ": the shards hold " + std::to_string(tensors_.size()) + " tensors, split.tensors.count says " +
                      std::to_string(*total));
  }
  return Ok{};
}

const Value* File::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
template <class V>
Result<V> get_typed(const File& file, std::string_view key, ValueType expected) {
  const Value* v = file.find(key);
  if (v == nullptr) return make_error(file.path() + ": metadata '" + std::string(key) + "': missing");
  const V* typed = v->get_if<V>();
  if (typed == nullptr) {
    return make_error(file.path() + ": metadata '" + std::string(key) + "': expected " +
                      std::string(value_type_name(expected)) + ", found " + std::string(value_type_name(v->type())));
  }
  return *typed;
}
}  // namespace

Result<std::string> File::get_string(std::string_view key) const {
  return get_typed<std::string>(*this, key, ValueType::STRING);
}
Result<uint32_t> File::get_u32(std::string_view key) const { return get_typed<uint32_t>(*this, key, ValueType::UINT32); }
Result<float> File::get_f32(std::string_view key) const { return get_typed<float>(*this, key, ValueType::FLOAT32); }
Result<bool> File::get_bool(std::string_view key) const { return get_typed<bool>(*this, key, ValueType::BOOL); }

Result<const Array*> File::get_array(std::string_view key, ValueType element_type) const {
  const Value* v = find(key);
  if (v == nullptr) return make_error(path_ + ": metadata '" + std::string(key) + "': missing");
  const Array* a = v->as_array();
  if (a == nullptr) {
    return make_error(path_ + ": metadata '" + std::string(key) + "': expected ARRAY, found " +
                      std::string(value_type_name(v->type())));
  }
  if (a->element_type != element_type) {
    return make_error(path_ + ": metadata '" + std::string(key) + "': expected an array of " +
                      std::string(value_type_name(element_type)) + ", found an array of " +
                      std::string(value_type_name(a->element_type)));
  }
  return a;
}

std::string TensorInfo::shape_string() const {
  std::string out = "[";
  for (uint32_t d = 0; d < n_dims; ++d) {
    if (d > 0) out += ", ";
    out += std::to_string(ne[d]);
  }
  return out + "]";
}

Result<std::vector<float>> dequantize_tensor(const TensorInfo& tensor) {
  const TypeTraits& t = tensor.traits();
  if (t.dequantize == nullptr) {
    return make_error("tensor '" + tensor.name + "': tensor type " + std::string(t.name) + " is not supported yet");
  }
  if (tensor.data == nullptr) return make_error("tensor '" + tensor.name + "': no data");
  std::vector<float> out(static_cast<size_t>(tensor.n_elements()));
  const size_t row_bytes = tensor.row_bytes();
  for (int64_t r = 0; r < tensor.n_rows(); ++r) {
    t.dequantize(tensor.data + static_cast<size_t>(r) * row_bytes, out.data() + r * tensor.ne[0], tensor.ne[0]);
  }
  return out;
}

uint64_t File::resident_bytes() const {
  uint64_t total = mapping_ ? mapping_->resident_bytes() : 0;
  for (const auto& shard : shards_) total += shard->resident_bytes();
  return total;
}

}  // namespace cria::gguf
