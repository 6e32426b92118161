// What the packed K-quant kernels share (packed_q4_k, packed_q5_k, packed_q6_k): the 6-bit scales and
// mins of Q4_K/Q5_K unpacked at load, the activation super-blocks' sums of 16 laid out for a zmm, and
// the products of two chunks of unsigned quants with every token (Q5_K, Q6_K).
#pragma once

#include <immintrin.h>

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

// Chunks c0 and c1 (32 elements each) of the four rows as unsigned quants, rows 0-1 in the *01 vectors
// and rows 2-3 in the *23 ones, with their int16 scales per 16 elements.
struct ChunkPair {
  __m512i q0_01, q1_01, q0_23, q1_23;
  __m512i s0_01, s1_01, s0_23, s1_23;
};

// Adds each token's products with the pair to the rows' int32 sums: u8 x s8 pairs summed into int16
// (maddubs), then times the scales into int32 (vpdpwssd). xq[t]: token t's Q8_K quants of this block.
template <int T>
inline void add_chunk_pair(const ChunkPair& p, int c0, int c1, const uint8_t* const* xq, __m512i (&isum01)[T],
                           __m512i (&isum23)[T]) {
  for (int t = 0; t < T; ++t) {
    const __m512i x0 = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + 32 * c0)));
    const __m512i x1 = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + 32 * c1)));
    isum01[t] = _mm512_dpwssd_epi32(isum01[t], _mm512_maddubs_epi16(p.q0_01, x0), p.s0_01);
    isum01[t] = _mm512_dpwssd_epi32(isum01[t], _mm512_maddubs_epi16(p.q1_01, x1), p.s1_01);
    isum23[t] = _mm512_dpwssd_epi32(isum23[t], _mm512_maddubs_epi16(p.q0_23, x0), p.s0_23);
    isum23[t] = _mm512_dpwssd_epi32(isum23[t], _mm512_maddubs_epi16(p.q1_23, x1), p.s1_23);
  }
}

}  // namespace cria::ops::packed_kquant
