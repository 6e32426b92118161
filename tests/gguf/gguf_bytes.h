// Builds GGUF files byte by byte for the tests, including ones no correct writer would produce.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace cria::test {

struct GgufBytes {
  std::vector<uint8_t> bytes;

  GgufBytes& raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  template <class V>
  GgufBytes& pod(V v) {
    return raw(&v, sizeof v);
  }
  GgufBytes& u32(uint32_t v) { return pod(v); }
  GgufBytes& i32(int32_t v) { return pod(v); }
  GgufBytes& u64(uint64_t v) { return pod(v); }
  GgufBytes& str(const std::string& s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  GgufBytes& pad(size_t align) {
    while (bytes.size() % align != 0) bytes.push_back(0);
    return *this;
  }
  GgufBytes& zeros(size_t n) {
    bytes.insert(bytes.end(), n, 0);
    return *this;
  }
};

// A small description of a file that `build` turns into bytes; tests change one field to break one rule.
struct GgufSpec {
  struct Kv {
    std::string key;
    int32_t type;
    std::vector<uint8_t> value;  // encoded value bytes, after the type
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    int32_t type;
    uint64_t offset;
  };
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::vector<Kv> kvs;
  std::vector<Tensor> tensors;
  size_t alignment = 32;
  size_t data_bytes = 0;  // bytes of tensor data after the padding

  static std::vector<uint8_t> u32_value(uint32_t v) {
    GgufBytes b;
    b.u32(v);
    return b.bytes;
  }
  static std::vector<uint8_t> string_value(const std::string& s) {
    GgufBytes b;
    b.str(s);
    return b.bytes;
  }

  // Two keys, two tensors (F32 [8, 2] at 0 and Q8_0 [32, 3] at 64), each padded to 32 bytes.
  static GgufSpec valid() {
    GgufSpec s;
    s.kvs.push_back({"general.architecture", 8, string_value("llama")});
    s.kvs.push_back({"general.alignment", 4, u32_value(32)});
    s.tensors.push_back({"a.weight", {8, 2}, 0, 0});
    s.tensors.push_back({"b.weight", {32, 3}, 8, 64});
    s.data_bytes = 64 + 3 * 34;
    return s;
  }

  std::vector<uint8_t> build() const {
    GgufBytes b;
    b.u32(magic).u32(version).u64(tensors.size()).u64(kvs.size());
    for (const auto& kv : kvs) {
      b.str(kv.key).i32(kv.type);
      b.raw(kv.value.data(), kv.value.size());
    }
    for (const auto& t : tensors) {
      b.str(t.name).u32(static_cast<uint32_t>(t.ne.size()));
      for (int64_t d : t.ne) b.pod(d);
      b.i32(t.type).u64(t.offset);
    }
    b.pad(alignment);
    // Data: a recognisable non-zero pattern.
    for (size_t i = 0; i < data_bytes; ++i) b.bytes.push_back(static_cast<uint8_t>(i * 7 + 1));
    return b.bytes;
  }
};

}  // namespace cria::test
