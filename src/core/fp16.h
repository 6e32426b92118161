// Half-precision conversions (IEEE binary16 and bfloat16), bit-exact with ggml's scalar code.
#pragma once

#include <cstdint>

namespace cria {

float fp16_to_fp32(uint16_t h);
// The same through a 256 KiB table of all 65536 values: faster in scalar inner loops.
float fp16_to_fp32_fast(uint16_t h);
uint16_t fp32_to_fp16(float f);  // round to nearest even; overflow to inf; NaN stays NaN

inline float bf16_to_fp32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &bits, 4);
  return f;
}
uint16_t fp32_to_bf16(float f);  // round to nearest even; NaN -> quiet NaN

}  // namespace cria
