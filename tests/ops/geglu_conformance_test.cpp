// GELU as llama.cpp's CPU backend computes it (the f16 table), and the vector GEGLU of every instruction
// set against the scalar reference, bit for bit: random gates, the edges at +-10, f16 rounding ties, tiny,
// huge, infinite and NaN gates, odd lengths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "ops/basic_ops.h"
#include "test_support.h"

namespace cria::ops {
namespace {

double gelu_exact(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * x * (1.0 + 0.044715 * x * x)));
}

// One step of f16 at |v| (the spacing of the f16 values there), at least the smallest subnormal.
double f16_step(double v) {
  const double a = std::fabs(v);
  if (a < 6.103515625e-05) return 5.9604644775390625e-08;
  return std::ldexp(1.0, std::ilogb(a) - 10);
}

TEST(KernelGelu, HandComputedPoints) {
  EXPECT_EQ(gelu(0.0f), 0.0f);
  EXPECT_NEAR(gelu(1.0f), 0.8411920, f16_step(0.84));
  EXPECT_NEAR(gelu(-1.0f), -0.1588080, f16_step(0.16));
  EXPECT_NEAR(gelu(2.0f), 1.9545977, f16_step(1.95));
  EXPECT_NEAR(gelu(-3.0f), -0.0036374, f16_step(0.0036));
  EXPECT_NEAR(gelu(0.5f), 0.3457140, f16_step(0.35));
  // Outside [-10, 10] no table: 0 and x exactly.
  EXPECT_EQ(gelu(-10.0f), 0.0f);
  EXPECT_EQ(gelu(-1e30f), 0.0f);
  EXPECT_EQ(gelu(10.0f), 10.0f);
  EXPECT_EQ(gelu(12.345f), 12.345f);
  // Inside, the value is the table's at x rounded to f16: 1 + 2^-11 ties to 1.
  EXPECT_EQ(gelu(1.00048828125f), gelu(1.0f));
  EXPECT_EQ(gelu(9.99f), gelu_f16_table()[fp32_to_fp16(9.99f)]);
}

// Every table entry is f16(gelu_tanh(v)) in float arithmetic, exactly; and near gelu in double: within
// one f16 step, plus float's cancellation in 1 + tanh(...) for negative v (|v| * 2^-23 or so).
TEST(KernelGelu, TableHoldsGeluOfEveryHalf) {
  const float* table = gelu_f16_table();
  for (uint32_t h = 0; h < 65536; ++h) {
    const float v = fp16_to_fp32(static_cast<uint16_t>(h)), t = table[h];
    const float in_float =
        0.5f * v * (1.0f + std::tanh(0.79788456080286535587989211986876f * v * (1.0f + 0.044715f * v * v)));
    const float want_bits = fp16_to_fp32(fp32_to_fp16(in_float));
    ASSERT_TRUE(std::memcmp(&t, &want_bits, 4) == 0 || (std::isnan(t) && std::isnan(want_bits)))
        << "entry " << h;
    if (!std::isfinite(v) || std::fabs(v) > 10.0f)
      continue;  // never read (and 0.5f * v * ... overflows far out)
    const double want = gelu_exact(v);
    ASSERT_NEAR(t, want, f16_step(want) + 1.2e-7 * std::fabs(v)) << "v = " << v;
  }
}

// Gates that probe the edges: the +-10 cut-offs and their neighbours, f16 rounding ties (1 + 2^-11 and
// 1 + 3 * 2^-11 tie to different sides), f16 subnormals and underflow, overflow to f16 infinity, -0,
// infinities and NaNs.
std::vector<float> edge_gates() {
  const float inf = std::numeric_limits<float>::infinity();
  return {-10.0f,
          std::nextafter(-10.0f, 0.0f),
          std::nextafter(-10.0f, -inf),
          10.0f,
          std::nextafter(10.0f, 0.0f),
          std::nextafter(10.0f, inf),
          9.999f,
          -9.999f,
          1.00048828125f,
          1.00146484375f,
          -1.00048828125f,
          1e-30f,
          -1e-30f,
          3e-8f,
          -3e-8f,
          6e-5f,
          1e-45f,
          0.0f,
          -0.0f,
          65519.0f,
          65520.0f,
          -65520.0f,
          1e30f,
          -1e30f,
          inf,
          -inf,
          std::nanf(""),
          -std::nanf("")};
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(KernelGegluConformance, ReferenceIsGeluTimesUp) {
  const auto gate = edge_gates();
  const std::vector<float> up(gate.size(), -1.5f);
  std::vector<float> out(gate.size());
  geglu(gate.data(), up.data(), out.data(), static_cast<int64_t>(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) {
    // ggml writes +0 where gate <= -10, whatever the sign of up.
    const float want = gate[i] <= -10.0f ? 0.0f : gelu(gate[i]) * up[i];
    EXPECT_TRUE(same_bits(out[i], want) || (std::isnan(out[i]) && std::isnan(want))) << "gate " << gate[i];
  }
}

TEST(KernelGegluConformance, EveryIsaMatchesScalarBitwise) {
  int checked = 0;
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa) || geglu_kernel(isa) == geglu) continue;
    for (int64_t n : {1, 7, 8, 9, 61, 5635}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      auto gate = test::gaussian(static_cast<size_t>(n), 31, 4.0f);
      auto up = test::gaussian(static_cast<size_t>(n), 32, 1.0f);
      const auto edges = edge_gates();
      for (size_t i = 0; i < edges.size() && i < gate.size(); ++i) gate[i * 13 % gate.size()] = edges[i];
      // Up values of either sign, zeros and an infinity beside ordinary gates.
      if (n > 40) {
        up[3] = -0.0f;
        up[5] = 0.0f;
        up[11] = std::numeric_limits<float>::infinity();
      }
      std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      geglu(gate.data(), up.data(), want.data(), n);
      geglu_kernel(isa)(gate.data(), up.data(), got.data(), n);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_TRUE(same_bits(got[i], want[i]))
            << "gate " << gate[i] << " up " << up[i] << ": " << got[i] << " vs " << want[i];
      }
      ++checked;
    }
    // Every f16 value as a gate (each table entry is read once), and the floats halfway between neighbours.
    std::vector<float> gate, up;
    for (uint32_t h = 0; h < 65536; ++h) {
      const float v = fp16_to_fp32(static_cast<uint16_t>(h));
      gate.push_back(v);
      gate.push_back(std::isfinite(v) ? std::nextafter(v, 0.0f) : v);
    }
    up.assign(gate.size(), 0.75f);
    std::vector<float> want(gate.size()), got(gate.size());
    geglu(gate.data(), up.data(), want.data(), static_cast<int64_t>(gate.size()));
    geglu_kernel(isa)(gate.data(), up.data(), got.data(), static_cast<int64_t>(gate.size()));
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_TRUE(same_bits(got[i], want[i])) << isa_name(isa) << " gate " << gate[i];
  }
  if (checked == 0) GTEST_SKIP() << "no instruction set with a vector GEGLU on this machine";
}

}  // namespace
}  // namespace cria::ops
