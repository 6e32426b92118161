#include "core/fp16.h"

#include <cstring>

namespace cria {

static uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

static float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) return bits_float(sign | 0x7f800000 | (mantissa << 13));  // inf / NaN
  if (exponent == 0) {
    if (mantissa == 0) return bits_float(sign);
    // Subnormal: normalise the mantissa.
    exponent = 127 - 15 + 1;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3ff;
    return bits_float(sign | (exponent << 23) | (mantissa << 13));
  }
  return bits_float(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

namespace {
struct Fp16Table {
  float values[65536];
  Fp16Table() {
    for (uint32_t i = 0; i < 65536; ++i) values[i] = fp16_to_fp32(static_cast<uint16_t>(i));
  }
};
const Fp16Table& fp16_table() {
  static const Fp16Table table;
  return table;
}
}  // namespace

float fp16_to_fp32_fast(uint16_t h) {
  static const float* values = fp16_table().values;
  return values[h];
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((abs >> 13) & 0x3ff);  // NaN
  if (abs >= 0x47800000) {  // >= 65536: rounds to inf unless caught below
    // Values in [65520, 65536) round up to inf too; anything this large is inf.
    return sign | 0x7c00;
  }
  if (abs < 0x38800000) {  // below the smallest normal half (2^-14): subnormal or zero
    // Scale to units of 2^-24 with round-to-nearest-even via float addition.
    const float magnitude = bits_float(abs);
    const float scaled = magnitude * 16777216.0f;  // 2^24, exact
    // Round to nearest even integer; scaled < 1024, exact in float arithmetic with the 2^23 trick.
    const float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | static_cast<uint16_t>(rounded);
  }
  // Normal range: rebias exponent, round mantissa to 10 bits (nearest even). Carry may bump the exponent,
  // which is exactly right (and yields inf at the top).
  uint32_t half = ((abs >> 13) - ((127 - 15) << 10));
  const uint32_t rest = abs & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return sign | static_cast<uint16_t>(half);
}

uint16_t fp32_to_bf16(float f) {
  const uint32_t bits = float_bits(f);
  if ((bits & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

}  // namespace cria
