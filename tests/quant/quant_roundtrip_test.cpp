// Round-trip accuracy of every quantizer that has a decoder: quantize known data, decode it, and bound the
// RMS error relative to the data's RMS. The bounds come from the step size of each format on Gaussian
// data (derivations next to the table) with some headroom; measured values are noted beside each bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "quant/type_table.h"
#include "test_support.h"

namespace cria {
namespace {

// Relative RMS error bound per type, for N(0, s^2) data at any s (the formats are scale-invariant up to
// f16 range effects). For a uniform quantizer of step D the RMS error is D/sqrt(12); the largest |x| of
// n Gaussians is about 2.2s for n = 32 and 2.9s for n = 256, the range max-min about 4.1s for n = 32.
struct Bound {
  std::string_view type;
  double max_rel_rms;
};
constexpr Bound kBounds[] = {
    {"Q8_0", 0.0070},  // D = amax/127: 2.2/127/3.46 = 0.50%; measured 0.54%
    {"Q8_1", 0.0070},  // same quants as Q8_0
    {"Q4_0", 0.100},   // D = amax/8: 7.9%, plus the clamped top level; measured 8.6%
    {"Q4_1", 0.095},   // D = range/15: 7.9%; measured 7.8%
    {"Q5_0", 0.050},   // D = amax/16: 4.0%; measured 4.3%
    {"Q5_1", 0.045},   // D = range/31: 3.8%; measured 3.8%
    {"Q2_K", 0.35},  // 4 levels: a Lloyd-Max 2-bit quantizer gives 34%, per-16 fits do better; measured 29.8%
    {"Q3_K", 0.18},  // 8 levels: Lloyd-Max 3-bit gives 18.6%, per-16 fits do better; measured 15.1%
    {"Q4_K", 0.085},    // 16 levels per 32 with a fitted min; measured 7.1%
    {"Q5_K", 0.045},    // 32 levels per 32; measured 3.6% (3.7% at s = 1e-3)
    {"Q6_K", 0.025},    // 64 levels per 16; measured 1.8% (2.0% at s = 1e-3, where d is an f16 subnormal)
    {"Q8_K", 0.0085},   // D = amax/127 with amax over 256: 2.9/127/3.46 = 0.66%; measured 0.69%
    {"IQ4_NL", 0.095},  // 16 non-linear levels per 32; measured 7.6%
    {"IQ4_XS", 0.095},  // IQ4_NL with 6-bit sub-scales; measured 7.7% (8.0% at s = 1e-3)
    {"TQ1_0", 0.85},    // 3 levels at 0, +-amax: everything under amax/2 becomes 0; measured 80.6%
    {"TQ2_0", 0.85},    // same values as TQ1_0
};

const Bound* bound_for(std::string_view type) {
  for (const auto& b : kBounds) {
    if (b.type == type) return &b;
  }
  return nullptr;
}

// Types with both codecs and blocks (the plain float/int types are covered by their own tests).
std::vector<const TypeTraits*> block_types() {
  std::vector<const TypeTraits*> out;
  for (const auto& t : all_types()) {
    if (t.quantize != nullptr && t.dequantize != nullptr && t.block_size > 1) out.push_back(&t);
  }
  return out;
}

std::vector<float> round_trip(const TypeTraits& t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(t, n));
  std::vector<float> y(x.size());
  t.quantize(x.data(), q.data(), n);
  t.dequantize(q.data(), y.data(), n);
  return y;
}

double relative_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0.0, ref = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    err += d * d;
    ref += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  }
  return std::sqrt(err / ref);
}

// Every block type with a quantizer has a bound here, so a newly added type cannot slip past this test.
TEST(QuantRoundTrip, EveryBlockTypeHasABound) {
  for (const auto* t : block_types()) EXPECT_NE(bound_for(t->name), nullptr) << t->name;
}

TEST(QuantRoundTrip, GaussianErrorWithinBoundAtSeveralScales) {
  const size_t n = 256 * 64;
  for (const float stddev : {1.0f, 1e-3f, 100.0f}) {
    const std::vector<float> x = test::gaussian(n, 1234, stddev);
    for (const auto* t : block_types()) {
      const Bound* b = bound_for(t->name);
      ASSERT_NE(b, nullptr) << t->name;
      const double rel = relative_rms_error(x, round_trip(*t, x));
      EXPECT_LE(rel, b->max_rel_rms) << t->name << " at stddev " << stddev;
      EXPECT_GT(rel, 0.0) << t->name << " reproduced random data exactly, which a lossy format cannot";
    }
  }
}

// Values on a half-integer grid put many elements exactly on rounding boundaries (x*id + 0.5 integral,
// nearest_int of k + 0.5); whichever way each format breaks the tie, the error must stay in bounds.
TEST(QuantRoundTrip, ExactTiesStayWithinBound) {
  std::vector<float> x(256 * 4);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 33) - 16) * 0.5f;
  for (const auto* t : block_types()) {
    const Bound* b = bound_for(t->name);
    ASSERT_NE(b, nullptr) << t->name;
    EXPECT_LE(relative_rms_error(x, round_trip(*t, x)), b->max_rel_rms) << t->name;
  }
}

// An all-zero input must decode to exact zeros in every format (no NaN from 0/0 scales).
TEST(QuantRoundTrip, ZerosDecodeToZeros) {
  const std::vector<float> x(512, 0.0f);
  for (const auto* t : block_types()) {
    const std::vector<float> y = round_trip(*t, x);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_EQ(y[i], 0.0f) << t->name << " element " << i;
    }
  }
}

// Ternary types: every element is within half a step (d/2, d = max|x| of its 256) plus f16 rounding of d.
TEST(QuantRoundTrip, TernaryElementErrorAtMostHalfStep) {
  const std::vector<float> x = test::gaussian(256 * 16, 99, 1.0f);
  for (const char* name : {"TQ1_0", "TQ2_0"}) {
    const TypeTraits* t = find_type(name);
    ASSERT_NE(t, nullptr);
    const std::vector<float> y = round_trip(*t, x);
    for (size_t b = 0; b < x.size() / 256; ++b) {
      float amax = 0.0f;
      for (size_t i = 256 * b; i < 256 * b + 256; ++i) amax = std::max(amax, std::fabs(x[i]));
      for (size_t i = 256 * b; i < 256 * b + 256; ++i) {
        ASSERT_LE(std::fabs(x[i] - y[i]), amax * (0.5f + 1.0f / 2048.0f)) << name << " element " << i;
      }
    }
  }
}

// Legacy types: quantizing a decoded row again must give the same bytes. The stored scale is f16(d) and
// the element of largest magnitude decodes to exactly -8*f16(d) (Q4_0), -16*f16(d) (Q5_0), 127*f16(d)
// (Q8_0) or min + 15/31*f16(d) (Q4_1/Q5_1), so the new scale rounds to the same f16, and each decoded
// value sits at the centre of its level's interval, far from a rounding boundary.
TEST(QuantRoundTrip, LegacyRequantizationIsStable) {
  const std::vector<float> x = test::gaussian(32 * 512, 7, 0.02f);
  const auto n = static_cast<int64_t>(x.size());
  for (const char* name : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1"}) {
    const TypeTraits* t = find_type(name);
    ASSERT_NE(t, nullptr);
    std::vector<uint8_t> first(row_bytes(*t, n)), second(row_bytes(*t, n));
    std::vector<float> y(x.size());
    t->quantize(x.data(), first.data(), n);
    t->dequantize(first.data(), y.data(), n);
    t->quantize(y.data(), second.data(), n);
    if (std::string_view(name) == "Q8_1") {
      // Q8_1's block sum s = f16(sum * d) uses the unrounded d, which changes to f16(d) on the second pass;
      // d and the quants must still agree.
      for (size_t b = 0; b < first.size() / 36; ++b) {
        first[36 * b + 2] = second[36 * b + 2] = 0;
        first[36 * b + 3] = second[36 * b + 3] = 0;
      }
    }
    EXPECT_EQ(first, second) << name;
  }
}

}  // namespace
}  // namespace cria
