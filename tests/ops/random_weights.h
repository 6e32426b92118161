// Random weight rows of any tensor type for the kernel tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "quant/type_table.h"
#include "test_support.h"

namespace cria::ops::test_data {

// The type's own quantizer on Gaussian data where there is one, else random bytes with every f16 scale
// field kept finite by decoding and re-checking.
inline std::vector<uint8_t> random_weights(const TypeTraits& t, int64_t n, int64_t rows, uint32_t seed) {
  std::vector<uint8_t> bytes(row_bytes(t, n) * static_cast<size_t>(rows));
  const auto values = test::gaussian(static_cast<size_t>(n * rows), seed, 0.5f);
  if (t.quantize != nullptr) {
    for (int64_t r = 0; r < rows; ++r) t.quantize(values.data() + r * n, bytes.data() + r * row_bytes(t, n), n);
    return bytes;
  }
  std::mt19937 rng(seed);
  std::vector<float> decoded(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = bytes.data() + r * row_bytes(t, n);
    do {
      for (size_t i = 0; i < row_bytes(t, n); ++i) row[i] = static_cast<uint8_t>(rng());
      t.dequantize(row, decoded.data(), n);
    } while (!std::all_of(decoded.begin(), decoded.end(), [](float v) { return std::isfinite(v) && std::fabs(v) < 1e4f; }));
  }
  return bytes;
}

}  // namespace cria::ops::test_data
