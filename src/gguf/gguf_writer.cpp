#include "gguf/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <type_traits>

#include "gguf/gguf_reader.h"

namespace cria::gguf {

namespace {

// Buffered little-endian output to a FILE*, remembering the first error.
class Out {
 public:
  explicit Out(std::FILE* f) : f_(f) {}
  void bytes(const void* p, size_t n) {
    if (ok_ && n > 0 && std::fwrite(p, 1, n, f_) != n) ok_ = false;
    written_ += n;
  }
  template <class V>
  void pod(V v) {
    bytes(&v, sizeof v);
  }
  void string(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void zeros(size_t n) {
    static const uint8_t kZeros[256] = {};
    while (n > 0) {
      const size_t k = std::min(n, sizeof kZeros);
      bytes(kZeros, k);
      n -= k;
    }
  }
  uint64_t written() const { return written_; }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  bool ok_ = true;
  uint64_t written_ = 0;
};

void write_value(Out& out, const Value& value) {
  std::visit(
      [&out](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) {
          out.string(v);
        } else if constexpr (std::is_same_v<V, bool>) {
          out.pod<uint8_t>(v ? 1 : 0);
        } else if constexpr (std::is_same_v<V, Array>) {
          out.pod<int32_t>(static_cast<int32_t>(v.element_type));
          out.pod<uint64_t>(v.size());
          std::visit(
              [&out](const auto& items) {
                using I = std::decay_t<decltype(items)>;
                if constexpr (!std::is_same_v<I, std::monostate>) {
                  for (const auto& item : items) {
                    using E = std::decay_t<decltype(item)>;
                    if constexpr (std::is_same_v<E, std::string>) {
                      out.string(item);
                    } else if constexpr (std::is_same_v<I, std::vector<bool>>) {
                      out.pod<uint8_t>(item ? 1 : 0);
                    } else {
                      out.pod<E>(item);
                    }
                  }
                }
              },
              v.items);
        } else {
          out.pod<V>(v);
        }
      },
      value.storage());
}

uint64_t pad_to(uint64_t x, uint64_t align) { return (x + align - 1) / align * align; }

}  // namespace

void Writer::set(const std::string& key, Value value) {
  if (key == "general.alignment") {
    if (const auto* a = value.get_if<uint32_t>(); a != nullptr && *a != 0 && (*a & (*a - 1)) == 0) alignment_ = *a;
  }
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void Writer::remove(const std::string& key) {
  std::erase_if(metadata_, [&key](const auto& kv) { return kv.first == key; });
  if (key == "general.alignment") alignment_ = kDefaultAlignment;
}

Result<uint64_t> Writer::check_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& ne) const {
  const std::string field = "tensor '" + name + "'";
  if (name.empty() || name.size() > kMaxTensorNameBytes) {
    return make_error(field + ": name must be 1.." + std::to_string(kMaxTensorNameBytes) + " bytes");
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return make_error(field + ": duplicate tensor name");
  }
  if (ne.empty() || ne.size() > 4) return make_error(field + ": needs 1 to 4 dimensions");
  const TypeTraits* traits = find_type(static_cast<int32_t>(type));
  if (traits == nullptr) return make_error(field + ": unknown tensor type");
  for (int64_t d : ne) {
    if (d < 0) return make_error(field + ": negative dimension");
  }
  if (ne[0] % traits->block_size != 0) {
    return make_error(field + ": row length " + std::to_string(ne[0]) + " is not a multiple of the " +
                      std::string(traits->name) + " block size " + std::to_string(traits->block_size));
  }
  int64_t bytes = static_cast<int64_t>(row_bytes(*traits, ne[0]));
  for (size_t d = 1; d < ne.size(); ++d) {
    if (__builtin_mul_overflow(bytes, ne[d], &bytes)) return make_error(field + ": byte size overflows");
  }
  return static_cast<uint64_t>(bytes);
}

Status Writer::add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne,
                          std::span<const uint8_t> data) {
  auto n_bytes = check_tensor(name, type, ne);
  if (!n_bytes) return n_bytes.error();
  if (data.size() != *n_bytes) {
    return make_error("tensor '" + name + "': " + std::to_string(data.size()) + " bytes given, " +
                      std::to_string(*n_bytes) + " expected");
  }
  tensors_.push_back({name, type, std::move(ne), *n_bytes, [data](std::span<uint8_t> out) -> Status {
                        std::memcpy(out.data(), data.data(), data.size());
                        return Ok{};
                      }});
  return Ok{};
}

Status Writer::add_tensor(const std::string& name, TensorType type, std::vector<int64_t> ne, Producer producer) {
  auto n_bytes = check_tensor(name, type, ne);
  if (!n_bytes) return n_bytes.error();
  tensors_.push_back({name, type, std::move(ne), *n_bytes, std::move(producer)});
  return Ok{};
}

Status Writer::write(const std::string& path) const {
  const std::string tmp_path = path + ".tmp";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(tmp_path.c_str(), "wb"), &std::fclose);
  if (!f) return make_error(tmp_path + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const std::string& why) -> Status {
    f.reset();
    std::error_code ec;
    std::filesystem::remove(tmp_path, ec);
    return make_error(path + ": " + why);
  };

  Out out(f.get());
  out.pod<uint32_t>(0x46554747);  // "GGUF"
  out.pod<uint32_t>(3);
  out.pod<uint64_t>(tensors_.size());
  out.pod<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.string(key);
    out.pod<int32_t>(static_cast<int32_t>(value.type()));
    write_value(out, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    out.string(t.name);
    out.pod<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) out.pod<uint64_t>(static_cast<uint64_t>(d));
    out.pod<int32_t>(static_cast<int32_t>(t.type));
    out.pod<uint64_t>(offset);
    offset += pad_to(t.n_bytes, alignment_);
  }
  out.zeros(pad_to(out.written(), alignment_) - out.written());

  std::vector<uint8_t> buffer;
  for (const auto& t : tensors_) {
    buffer.assign(t.n_bytes, 0);
    auto status = t.producer(buffer);
    if (!status) return fail("tensor '" + t.name + "': " + status.error().message);
    out.bytes(buffer.data(), buffer.size());
    out.zeros(pad_to(t.n_bytes, alignment_) - t.n_bytes);
  }
  if (!out.ok() || std::fflush(f.get()) != 0) return fail(std::string("write failed: ") + std::strerror(errno));
  if (std::fclose(f.release()) != 0) return fail(std::string("close failed: ") + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp_path, path, ec);
  if (ec) return fail("cannot rename " + tmp_path + ": " + ec.message());
  return Ok{};
}

}  // namespace cria::gguf
