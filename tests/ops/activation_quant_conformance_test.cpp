// The vector activation quantizers of every instruction set against the scalar reference, byte for byte:
// random rows (never zeros), rows with an all-zero block, blocks whose largest magnitude appears with
// both signs, values on rounding ties, and several row lengths.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops/activation_quant.h"
#include "test_support.h"

namespace cria::ops {
namespace {

std::vector<std::vector<float>> rows_for(int64_t n) {
  std::vector<std::vector<float>> rows;
  rows.push_back(test::gaussian(static_cast<size_t>(n), 11, 1.0f));
  rows.push_back(test::gaussian(static_cast<size_t>(n), 12, 30.0f));
  auto zero_block = test::gaussian(static_cast<size_t>(n), 13, 1.0f);
  for (int i = 0; i < 32 && i < n; ++i) zero_block[static_cast<size_t>(i)] = 0.0f;
  rows.push_back(zero_block);
  // The largest magnitude twice per block, negative first, then positive first.
  for (float first : {-2.0f, 2.0f}) {
    auto ties = test::gaussian(static_cast<size_t>(n), 14, 0.5f);
    for (int64_t b = 0; b + 32 <= n; b += 32) {
      ties[static_cast<size_t>(b + 3)] = first;
      ties[static_cast<size_t>(b + 17)] = -first;
    }
    rows.push_back(ties);
  }
  // Values that land on .5 after scaling (amax 127 makes the scale 1): half-to-even decides them.
  std::vector<float> halves(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) halves[static_cast<size_t>(i)] = (i % 32 == 0) ? 127.0f : static_cast<float>(i % 64) - 31.5f;
  rows.push_back(halves);
  return rows;
}

TEST(KernelActivationQuantConformance, EveryIsaMatchesScalarBytes) {
  int checked = 0;
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    for (TensorType type : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K}) {
      const QuantizeActivationFn fast = activation_quantizer(isa, type);
      const QuantizeActivationFn reference = activation_quantizer(type);
      if (fast == reference) continue;  // this set has no vector version of the type
      const TypeTraits& t = traits(type);
      for (int64_t blocks : {1, 3, 8}) {
        const int64_t n = blocks * t.block_size;
        const auto rows = rows_for(n);
        for (size_t r = 0; r < rows.size(); ++r) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(t.name) + " n=" + std::to_string(n) +
                       " row=" + std::to_string(r));
          std::vector<uint8_t> want(row_bytes(t, n)), got(row_bytes(t, n), 0xA5);
          reference(rows[r].data(), want.data(), n);
          fast(rows[r].data(), got.data(), n);
          ASSERT_EQ(got, want);
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no instruction set with vector activation quantizers on this machine";
}

}  // namespace
}  // namespace cria::ops
