// Soft-capping: the vector tanh of every instruction set against the scalar reference (std::tanh) on
// random logits, a dense sweep, zeros of both signs, tiny, huge and infinite values, caps of 30 and 50.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/basic_ops.h"
#include "test_support.h"

namespace cria::ops {
namespace {

void expect_close(const std::vector<float>& x, const std::vector<float>& got,
                  const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << "x " << x[i];
      continue;
    }
    ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-30f) << "x " << x[i];
    ASSERT_EQ(std::signbit(got[i]), std::signbit(want[i])) << "x " << x[i];
  }
}

TEST(KernelSoftcap, ReferenceIsScaleTanhScale) {
  std::vector<float> x = {0.0f,  -0.0f, 1.0f,   -7.5f,
                          30.0f, 1e30f, -1e30f, std::numeric_limits<float>::infinity()};
  const auto in = x;
  softcap(x.data(), static_cast<int64_t>(x.size()), 30.0f);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(x[i], std::tanh(in[i] * (1.0f / 30.0f)) * 30.0f) << in[i];
  EXPECT_TRUE(std::signbit(x[1]));
  EXPECT_EQ(x[5], 30.0f);
  EXPECT_EQ(x[6], -30.0f);
  EXPECT_EQ(x[7], 30.0f);
}

TEST(KernelSoftcapConformance, EveryIsaMatchesScalar) {
  const float inf = std::numeric_limits<float>::infinity();
  int checked = 0;
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa) || softcap_kernel(isa) == softcap) continue;
    for (float cap : {30.0f, 50.0f}) {
      // Where the vector tanh switches from its polynomial to its exponential form (|x| = 0.625 cap).
      const float edge = 0.625f * cap;
      const float extremes[] = {0.0f,
                                -0.0f,
                                1e-30f,
                                -1e-30f,
                                1e-40f,
                                -1e-40f,
                                edge,
                                -edge,
                                std::nextafter(edge, 0.0f),
                                std::nextafter(-edge, 0.0f),
                                9.0f * cap,
                                -9.5f * cap,
                                20.0f * cap,
                                1e30f,
                                -1e30f,
                                3.4e38f,
                                inf,
                                -inf,
                                std::nanf("")};
      for (int64_t n : {1, 7, 8, 61, 5635, 262144}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " cap=" + std::to_string(cap) + " n=" + std::to_string(n));
        auto x = test::gaussian(static_cast<size_t>(n), 41, cap);
        for (size_t i = 0; i < std::size(extremes) && i < x.size(); ++i) x[i * 7 % x.size()] = extremes[i];
        auto want = x, got = x;
        softcap(want.data(), n, cap);
        softcap_kernel(isa)(got.data(), n, cap);
        expect_close(x, got, want);
        ++checked;
      }
      // A dense sweep over x / cap in [-12, 12], through the tanh's two forms and into saturation.
      std::vector<float> x;
      for (int i = -600000; i <= 600000; ++i) x.push_back(static_cast<float>(i) * 2e-5f * cap);
      auto want = x, got = x;
      softcap(want.data(), static_cast<int64_t>(x.size()), cap);
      softcap_kernel(isa)(got.data(), static_cast<int64_t>(x.size()), cap);
      SCOPED_TRACE(std::string(isa_name(isa)) + " sweep, cap=" + std::to_string(cap));
      expect_close(x, got, want);
    }
  }
  if (checked == 0) GTEST_SKIP() << "no instruction set with a vector soft-cap on this machine";
}

}  // namespace
}  // namespace cria::ops
