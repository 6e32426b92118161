// Plain element types: no blocks, one value per element.
#include <cstring>

#include "core/fp16.h"
#include "quant/codecs.h"

namespace cria::codec {

namespace {
template <class Int>
void dequantize_int(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    Int v;
    std::memcpy(&v, p + i * sizeof(Int), sizeof(Int));
    dst[i] = static_cast<float>(v);
  }
}

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
}  // namespace

void dequantize_row_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }
void quantize_row_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(p + 2 * i));
}
void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) store_u16(p + 2 * i, fp32_to_fp16(src[i]));
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(p + 2 * i));
}
void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) store_u16(p + 2 * i, fp32_to_bf16(src[i]));
}

void dequantize_row_f64(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    double v;
    std::memcpy(&v, p + 8 * i, 8);
    dst[i] = static_cast<float>(v);
  }
}
void quantize_row_f64(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const double v = src[i];
    std::memcpy(p + 8 * i, &v, 8);
  }
}

void dequantize_row_i8(const void* src, float* dst, int64_t n) { dequantize_int<int8_t>(src, dst, n); }
void dequantize_row_i16(const void* src, float* dst, int64_t n) { dequantize_int<int16_t>(src, dst, n); }
void dequantize_row_i32(const void* src, float* dst, int64_t n) { dequantize_int<int32_t>(src, dst, n); }
void dequantize_row_i64(const void* src, float* dst, int64_t n) { dequantize_int<int64_t>(src, dst, n); }

}  // namespace cria::codec
