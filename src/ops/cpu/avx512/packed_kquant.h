// What the packed K-quant kernels share (packed_q4_k, packed_q5_k, packed_q6_k): the 6-bit scales and
// mins of Q4_K/Q5_K unpacked at load, and the activation super-blocks' sums of 16 laid out for a zmm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/block_layouts.h"

namespace cria::ops::packed_kquant {

constexpr size_t kActBytes = block::Q8_K::kBytes;

// The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K super-block (FORMATS.md 2.4).
inline void scales_and_mins(const uint8_t* q, uint8_t* scales, uint8_t* mins) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = q[j] & 63;
    mins[j] = q[j + 4] & 63;
    scales[j + 4] = static_cast<uint8_t>((q[j + 8] & 0x0f) | ((q[j] >> 6) << 4));
    mins[j + 4] = static_cast<uint8_t>((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
  }
}

// The group header of packed Q4_K and Q5_K: per row of four, d (f16) at 2r, dmin at 8 + 2r, the eight
// scales at 16 + 8r and the eight mins at 48 + 8r, unpacked to bytes. `block` is row r's super-block
// (d, dmin and the 12 bytes of 6-bit pairs first in both types).
constexpr size_t kScales = 16, kMins = 48, kHeaderBytes = 80;

inline void pack_header(const uint8_t* block, int r, uint8_t* out) {
  using Layout = block::Q4_K;
  static_assert(Layout::d == block::Q5_K::d && Layout::dmin == block::Q5_K::dmin &&
                Layout::scales == block::Q5_K::scales);
  std::memcpy(out + 2 * r, block + Layout::d, 2);
  std::memcpy(out + 8 + 2 * r, block + Layout::dmin, 2);
  scales_and_mins(block + Layout::scales, out + kScales + 8 * r, out + kMins + 8 * r);
}

// Per activation super-block: its scale and its 16 sums of 16, twice (int16 lanes [16 * half + g]), so
// that one aligned load gives the sums for both rows of a zmm.
struct ActSums {
  float d;
  alignas(64) int16_t sums[32];
};

inline void prepare_sums(int64_t n_super, const uint8_t* x, size_t x_row_bytes, int64_t n_tokens,
                         std::vector<ActSums>& out) {
  out.resize(static_cast<size_t>(n_super * n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t b = 0; b < n_super; ++b) {
      const uint8_t* xb = x + static_cast<size_t>(t) * x_row_bytes + static_cast<size_t>(b) * kActBytes;
      ActSums& a = out[static_cast<size_t>(t * n_super + b)];
      std::memcpy(&a.d, xb + block::Q8_K::d, 4);
      std::memcpy(a.sums, xb + block::Q8_K::bsums, 32);
      std::memcpy(a.sums + 16, xb + block::Q8_K::bsums, 32);
    }
  }
}

}  // namespace cria::ops::packed_kquant
