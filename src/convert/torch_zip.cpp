// PyTorch's zip checkpoint (torch.save since 1.6): <prefix>/data.pkl holds the pickled state dict,
// <prefix>/data/<key> the raw little-endian bytes of each storage. libzip reads the archive; the
// pickle goes through our own whitelisting unpickler.
#include <zip.h>

#include <algorithm>
#include <memory>

#include "convert/state_dict_pickle.h"
#include "convert/tensor_file.h"

namespace cria::convert {

namespace {

// data.pkl of a state dict is a few bytes per tensor; anything huge is not one.
constexpr zip_uint64_t kMaxPickleBytes = 256u << 20;

std::string zip_message(zip_t* archive) { return zip_strerror(archive); }

class TorchZipFile final : public TensorFile {
 public:
  ~TorchZipFile() override {
    if (archive_ != nullptr) zip_discard(archive_);
  }
  const std::string& path() const override { return path_; }
  const std::vector<StoredTensor>& tensors() const override { return tensors_; }
  Status read_f32(size_t index, std::span<float> out) override;

  static Result<std::unique_ptr<TensorFile>> open(const std::string& path);

 private:
  Result<std::vector<uint8_t>> read_entry(zip_int64_t entry, zip_uint64_t offset, zip_uint64_t n_bytes);

  std::string path_;
  zip_t* archive_ = nullptr;
  std::vector<StoredTensor> tensors_;
  std::vector<zip_int64_t> entries_;        // archive index of each tensor's storage
  std::vector<zip_uint64_t> byte_offsets_;  // where the tensor starts in its storage
};

Result<std::vector<uint8_t>> TorchZipFile::read_entry(zip_int64_t entry, zip_uint64_t offset, zip_uint64_t n_bytes) {
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> file(zip_fopen_index(archive_, entry, 0), &zip_fclose);
  if (!file) return make_error(path_ + ": " + zip_message(archive_));
  // Stored (uncompressed) entries seek directly; compressed ones are read up to the offset.
  if (offset > 0 && zip_fseek(file.get(), static_cast<zip_int64_t>(offset), SEEK_SET) != 0) {
    std::vector<uint8_t> skip(std::min<zip_uint64_t>(offset, 1u << 20));
    for (zip_uint64_t left = offset; left > 0;) {
      const zip_uint64_t k = std::min<zip_uint64_t>(left, skip.size());
      if (zip_fread(file.get(), skip.data(), k) != static_cast<zip_int64_t>(k)) {
        return make_error(path_ + ": cannot read '" + zip_get_name(archive_, entry, 0) + "': " +
                          zip_file_strerror(file.get()));
      }
      left -= k;
    }
  }
  std::vector<uint8_t> bytes(n_bytes);
  if (n_bytes > 0 && zip_fread(file.get(), bytes.data(), n_bytes) != static_cast<zip_int64_t>(n_bytes)) {
    return make_error(path_ + ": cannot read '" + zip_get_name(archive_, entry, 0) + "' (truncated or corrupt): " +
                      zip_file_strerror(file.get()));
  }
  return bytes;
}

Status TorchZipFile::read_f32(size_t index, std::span<float> out) {
  const StoredTensor& t = tensors_.at(index);
  if (out.size() != static_cast<size_t>(t.n_elements())) {
    return make_error(path_ + ": tensor '" + t.name + "': wrong output size");
  }
  auto bytes = read_entry(entries_[index], byte_offsets_[index], out.size() * dtype_size(t.dtype));
  if (!bytes) return bytes.error();
  widen_to_f32(t.dtype, bytes->data(), out.data(), out.size());
  return Ok{};
}

// C-order strides, ignoring dimensions of size 1 (whose stride never matters).
bool is_contiguous(const PickledTensor& t) {
  int64_t expected = 1;
  for (size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] != 1 && t.stride[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

Result<std::unique_ptr<TensorFile>> TorchZipFile::open(const std::string& path) {
  auto file = std::make_unique<TorchZipFile>();
  file->path_ = path;
  int error_code = 0;
  file->archive_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error_code);
  if (file->archive_ == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, error_code);
    std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    return make_error(path + ": not a readable PyTorch zip archive (truncated, or a pre-1.6 legacy pickle?): " + why);
  }
  zip_t* archive = file->archive_;
  auto fail = [&path](const std::string& why) -> Error { return make_error(path + ": " + why); };

  // The pickle sits at <prefix>/data.pkl; the prefix is the archive's one top-level folder.
  std::string prefix;
  zip_int64_t pickle_entry = -1;
  const zip_int64_t n_entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < n_entries; ++i) {
    const std::string name = zip_get_name(archive, i, 0) ? zip_get_name(archive, i, 0) : "";
    const size_t slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash) == "/data.pkl") {
      if (pickle_entry >= 0) return fail("holds more than one data.pkl");
      pickle_entry = i;
      prefix = name.substr(0, slash + 1);
    }
  }
  if (pickle_entry < 0) return fail("no <archive>/data.pkl inside: not a torch.save checkpoint");
  const zip_int64_t byteorder = zip_name_locate(archive, (prefix + "byteorder").c_str(), 0);
  if (byteorder >= 0) {
    auto order = file->read_entry(byteorder, 0, 6);
    if (order && std::string(order->begin(), order->end()) != "little") return fail("storages are not little-endian");
  }

  zip_stat_t stat;
  if (zip_stat_index(archive, pickle_entry, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE)) {
    return fail(zip_message(archive));
  }
  if (stat.size > kMaxPickleBytes) return fail("data.pkl of " + std::to_string(stat.size) + " bytes is not a state dict");
  auto pickle = file->read_entry(pickle_entry, 0, stat.size);
  if (!pickle) return pickle.error();
  auto pickled = parse_state_dict_pickle(*pickle, path + ": " + prefix + "data.pkl");
  if (!pickled) return pickled.error();

  for (const PickledTensor& p : *pickled) {
    const std::string where = "tensor '" + p.name + "': ";
    if (!is_contiguous(p)) return fail(where + "non-contiguous strides are not supported");
    const std::string entry_name = prefix + "data/" + p.storage_key;
    const zip_int64_t entry = zip_name_locate(archive, entry_name.c_str(), 0);
    if (entry < 0) return fail(where + "storage '" + entry_name + "' is missing from the archive");
    if (zip_stat_index(archive, entry, 0, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE)) return fail(zip_message(archive));
    StoredTensor t{p.name, p.dtype, p.shape};
    int64_t n = 0, end = 0;
    const uint64_t elem = dtype_size(p.dtype);
    if (!element_count(p.shape, n) || __builtin_add_overflow(n, p.storage_offset, &end) ||
        end > p.storage_numel || static_cast<uint64_t>(p.storage_numel) > stat.size / elem) {
      return fail(where + "elements [" + std::to_string(p.storage_offset) + ", +" + std::to_string(n) +
                  ") do not fit its storage of " + std::to_string(p.storage_numel) + " elements in a " +
                  std::to_string(stat.size) + "-byte entry");
    }
    file->tensors_.push_back(std::move(t));
    file->entries_.push_back(entry);
    file->byte_offsets_.push_back(static_cast<zip_uint64_t>(p.storage_offset) * elem);
  }
  return std::unique_ptr<TensorFile>(std::move(file));
}

}  // namespace

Result<std::unique_ptr<TensorFile>> open_torch_zip(const std::string& path) { return TorchZipFile::open(path); }

}  // namespace cria::convert
