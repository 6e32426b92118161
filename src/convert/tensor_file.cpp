#include "convert/tensor_file.h"

#include <cstring>

#include "core/fp16.h"

namespace cria::convert {

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
  }
  return "?";
}

void widen_to_f32(DType t, const uint8_t* src, float* dst, size_t n) {
  if (t == DType::F32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = t == DType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
  }
}

bool element_count(std::span<const int64_t> shape, int64_t& out) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return false;
  }
  out = n;
  return true;
}

int64_t StoredTensor::n_elements() const {
  int64_t n = 0;
  return element_count(shape, n) ? n : -1;
}

}  // namespace cria::convert
