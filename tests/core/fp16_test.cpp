// The f16 conversions against the compiler's binary16 type (IEEE binary16, round to nearest even, as F16C's
// vcvtps2ph, NEON's fcvtn and ggml's conversions round): every f16 value, the halfway points between
// neighbours and the floats just beside them, and a sample of all float bit patterns.
#include "core/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cria {
namespace {

// The compiler's binary16 type: _Float16 on x86 (GCC 12 has no _Float16 in C++ on AArch64), __fp16 there.
#if defined(__aarch64__)
using Half = __fp16;
#else
using Half = _Float16;
#endif

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t reference_fp16(float f) {
  const auto h = static_cast<Half>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}

void expect_same_conversion(float f) {
  if (std::isnan(f)) {
    const uint16_t h = fp32_to_fp16(f);
    ASSERT_TRUE((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) << std::hex << h;
    ASSERT_EQ(h & 0x8000, std::signbit(f) ? 0x8000 : 0);
    return;
  }
  ASSERT_EQ(fp32_to_fp16(f), reference_fp16(f)) << "f = " << f << std::hexfloat << " (" << f << ")";
}

TEST(Fp16Conversion, EveryHalfToFloat) {
  for (uint32_t h = 0; h < 65536; ++h) {
    Half half;
    const auto bits = static_cast<uint16_t>(h);
    std::memcpy(&half, &bits, 2);
    const float want = static_cast<float>(half);
    const float got = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
      continue;
    }
    const float fast = fp16_to_fp32_fast(static_cast<uint16_t>(h));
    ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << "h = " << h;
    ASSERT_EQ(std::memcmp(&fast, &want, 4), 0) << "h = " << h;
  }
}

TEST(Fp16Conversion, RoundsToNearestEvenAtEveryHalfway) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float a = fp16_to_fp32(static_cast<uint16_t>(h));
    const float b = h == 0x7bff ? 65536.0f : fp16_to_fp32(static_cast<uint16_t>(h + 1));
    const float mid = (a + b) / 2;  // exact: one more bit than f16 has
    for (const float f : {a, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      expect_same_conversion(f);
      expect_same_conversion(-f);
    }
  }
}

TEST(Fp16Conversion, SampleOfAllFloats) {
  for (uint64_t u = 0; u <= 0xffffffffu; u += 4093)
    expect_same_conversion(from_bits(static_cast<uint32_t>(u)));
  for (const float f :
       {INFINITY, -INFINITY, NAN, -NAN, 65519.996f, 65520.0f, 1e-8f, -2.98e-8f, 2.9802322e-8f})
    expect_same_conversion(f);
}

}  // namespace
}  // namespace cria
