// Safetensors: an 8-byte little-endian header length, a JSON header mapping each tensor name to
// {dtype, shape, data_offsets: [begin, end]} relative to the data section that follows, then the data.
// Nothing in the header is trusted: every span must match its dtype and shape, lie inside the file
// and not overlap another.
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "convert/tensor_file.h"
#include "core/mapped_file.h"

namespace cria::convert {

namespace {

// A header larger than this is not a tensor index (safetensors itself caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

Result<DType> parse_dtype(const std::string& s) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  return make_error("dtype '" + s + "' is not supported (F32, F16 and BF16 are)");
}

class SafetensorsFile final : public TensorFile {
 public:
  const std::string& path() const override { return path_; }
  const std::vector<StoredTensor>& tensors() const override { return tensors_; }

  Status read_f32(size_t index, std::span<float> out) override {
    const StoredTensor& t = tensors_.at(index);
    if (out.size() != static_cast<size_t>(t.n_elements())) {
      return make_error(path_ + ": tensor '" + t.name + "': output holds " + std::to_string(out.size()) +
                        " elements, the tensor " + std::to_string(t.n_elements()));
    }
    widen_to_f32(t.dtype, file_.data() + data_start_ + begins_[index], out.data(), out.size());
    return Ok{};
  }

  static Result<std::unique_ptr<TensorFile>> open(const std::string& path);

 private:
  std::string path_;
  MappedFile file_;
  uint64_t data_start_ = 0;
  std::vector<StoredTensor> tensors_;
  std::vector<uint64_t> begins_;  // byte offset of each tensor in the data section
};

Result<std::unique_ptr<TensorFile>> SafetensorsFile::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return mapped.error();
  auto file = std::make_unique<SafetensorsFile>();
  file->path_ = path;
  file->file_ = std::move(*mapped);
  const uint8_t* bytes = file->file_.data();
  const uint64_t size = file->file_.size();
  auto fail = [&path](const std::string& why) -> Error { return make_error(path + ": " + why); };

  if (size < 8) return fail("truncated: " + std::to_string(size) + " bytes, too short for the header length");
  uint64_t header_len;
  std::memcpy(&header_len, bytes, 8);
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return fail("header length " + std::to_string(header_len) + " runs past the end of the file (" +
                std::to_string(size) + " bytes); the file is truncated or not safetensors");
  }
  const auto header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return fail("header is not a JSON object");
  file->data_start_ = 8 + header_len;
  const uint64_t data_size = size - file->data_start_;

  struct Span {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object()) return fail(where + "entry is not an object");
    const auto dtype_it = entry.find("dtype");
    const auto shape_it = entry.find("shape");
    const auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || !dtype_it->is_string()) return fail(where + "missing string 'dtype'");
    if (shape_it == entry.end() || !shape_it->is_array()) return fail(where + "missing array 'shape'");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
      return fail(where + "'data_offsets' must be two non-negative integers");
    }
    auto dtype = parse_dtype(dtype_it->get<std::string>());
    if (!dtype) return fail(where + dtype.error().message);
    StoredTensor t{name, *dtype, {}};
    for (const auto& d : *shape_it) {
      if (!d.is_number_unsigned()) return fail(where + "shape entries must be non-negative integers");
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>() > INT64_MAX ? -1 : d.get<uint64_t>()));
    }
    int64_t n = 0;
    uint64_t n_bytes = 0;
    if (!element_count(t.shape, n) || __builtin_mul_overflow(static_cast<uint64_t>(n), dtype_size(*dtype), &n_bytes)) {
      return fail(where + "shape is too large");
    }
    const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
    const uint64_t end = (*offsets_it)[1].get<uint64_t>();
    if (begin > end || end - begin != n_bytes) {
      return fail(where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + ") hold " +
                  (begin > end ? std::string("a negative span") : std::to_string(end - begin) + " bytes") +
                  ", its dtype and shape need " + std::to_string(n_bytes));
    }
    if (end > data_size) {
      return fail(where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  ") run past the end of the data section (" + std::to_string(data_size) +
                  " bytes); the file is truncated");
    }
    spans.push_back({begin, end, file->tensors_.size()});
    file->tensors_.push_back(std::move(t));
    file->begins_.push_back(begin);
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[i - 1].end) {
      return fail("tensors '" + file->tensors_[spans[i - 1].index].name + "' and '" +
                  file->tensors_[spans[i].index].name + "' overlap in the data section");
    }
  }
  // Keep the header's order: it is the order the Python converter walks (JSON keys, sorted by name).
  return std::unique_ptr<TensorFile>(std::move(file));
}

}  // namespace

Result<std::unique_ptr<TensorFile>> open_safetensors(const std::string& path) { return SafetensorsFile::open(path); }

}  // namespace cria::convert
