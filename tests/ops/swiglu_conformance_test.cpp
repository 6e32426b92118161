// The vector SwiGLU of every instruction set against the scalar reference: random gates (including far
// outside the range where e^-g is finite) and up values, odd lengths.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops/basic_ops.h"
#include "test_support.h"

namespace cria::ops {
namespace {

TEST(KernelSwigluConformance, EveryIsaMatchesScalar) {
  int checked = 0;
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa) || swiglu_kernel(isa) == swiglu) continue;
    for (int64_t n : {1, 7, 8, 61, 5635}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      auto gate = test::gaussian(static_cast<size_t>(n), 21, 4.0f);
      const auto up = test::gaussian(static_cast<size_t>(n), 22, 1.0f);
      const float extremes[] = {-1000.0f, -100.0f, -87.5f, 88.5f, 100.0f, 1000.0f, 1e-30f, -1e-30f};
      for (size_t i = 0; i < 8 && i < gate.size(); ++i) gate[i * 7 % gate.size()] = extremes[i];
      std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      swiglu(gate.data(), up.data(), want.data(), n);
      swiglu_kernel(isa)(gate.data(), up.data(), got.data(), n);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-30f) << "gate " << gate[i] << " up " << up[i];
      }
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "no instruction set with a vector SwiGLU on this machine";
}

}  // namespace
}  // namespace cria::ops
