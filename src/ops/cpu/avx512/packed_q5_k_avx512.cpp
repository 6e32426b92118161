// Q5_K weights packed four rows to a group for AVX-512 VNNI. Per 256-element super-block a group holds
// the four rows' d and dmin (f16), their eight 6-bit sub-block scales and mins unpacked to bytes (16 more
// bytes per 704, as for Q4_K), their 32 bytes of high bits each, then the low nibbles in chunks of 64
// elements: for each chunk, 32 bytes per row (low nibbles: the chunk's first sub-block, high: its second).
// A zmm holds two rows' bytes, so an activation sub-block is broadcast to both 256-bit lanes.
//
// The kernel gives the row-major AVX-512 kernel's bits (ops/cpu/x86/gemm_x86_impl.h, tile_256 with
// DecodeQ5_K): per row the same eight int32 lanes (lane k: the scale times elements 4k..4k+3 of each
// sub-block, vpmaddubsw then vpdpwssd), the same min lanes, the same float products and difference per
// lane, the same horizontal sum tree per super-block and the same running sum over super-blocks. Models
// with Q5_K tensors (attn_output of 8-expert Q4_K_M files) therefore give the same logits repacked or not.
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 broadcast and cast intrinsics.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/cpu/avx512/packed_driver.h"
#include "ops/cpu/avx512/packed_kquant.h"
#include "ops/packed_kernels.h"
#include "quant/block_layouts.h"
#include "ops/prefetch.h"

namespace cria::ops {
namespace {

using packed_kquant::ActSums;
using packed_kquant::kActBytes;
using packed_kquant::kMins;
using packed_kquant::kScales;

constexpr int kRows = 4;
using Q5K = block::Q5_K;
constexpr size_t kBlockBytes = Q5K::kBytes;
constexpr size_t kHigh = packed_kquant::kHeaderBytes, kLow = kHigh + 128;
constexpr size_t kGroupBlockBytes = kLow + 4 * 128;

size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 256) * kGroupBlockBytes; }

void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * kBlockBytes;
      packed_kquant::pack_header(block, r, out);
      std::memcpy(out + kHigh + 32 * r, block + Q5K::qh, 32);
      // The file's chunk bytes already hold sub-block 2j in the low nibbles and 2j + 1 in the high ones.
      for (int j = 0; j < 4; ++j) std::memcpy(out + kLow + 128 * j + 32 * r, block + Q5K::qs + 32 * j, 32);
    }
  }
}

// Sub-block c's 5-bit values for two rows: its nibbles (`nibbles`, already masked to 0..15) with bit c of
// each high-bit byte moved to bit 4. 16-bit shifts drag neighbouring bits along; the 0x10 mask clears them.
template <int c>
inline __m512i five_bits(__m512i nibbles, __m512i high) {
  const __m512i top = c < 4 ? _mm512_slli_epi16(high, 4 - c) : c > 4 ? _mm512_srli_epi16(high, c - 4) : high;
  return _mm512_ternarylogic_epi32(nibbles, top, _mm512_set1_epi8(0x10), 0xf8);  // nibbles | (top & 0x10)
}

// int16 lanes: row a's scale of sub-block c x16, then row b's x16, from the 32 scales of four rows
// ([8 * row + sub-block]); `rows` holds 8 * a in the low half and 8 * b in the high half.
inline __m512i sub_block_scales(__m512i scales, __m512i rows, int c) {
  return _mm512_permutexvar_epi16(_mm512_add_epi16(rows, _mm512_set1_epi16(static_cast<int16_t>(c))), scales);
}

// Row-major's horizontal sum of each row's eight lanes, for the four rows of v01 and v23 (8 lanes per
// row): ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), row r's in lane 4r.
inline __m512 row_sums(__m512 v01, __m512 v23) {
  const __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(v01, v23, 0x88), _mm512_shuffle_f32x4(v01, v23, 0xdd));
  const __m512 s2 = _mm512_add_ps(s, _mm512_permute_ps(s, 0xee));
  return _mm512_add_ps(s2, _mm512_movehdup_ps(s2));
}

template <int T, int j>
inline void chunk(const uint8_t* g, const __m512i (&high)[2], __m512i scales, const uint8_t* const* xq,
                  __m512i (&isum01)[T], __m512i (&isum23)[T]) {
  constexpr int c0 = 2 * j, c1 = 2 * j + 1;
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i rows01 = _mm512_set_epi64(0x0008000800080008, 0x0008000800080008, 0x0008000800080008,
                                          0x0008000800080008, 0, 0, 0, 0);
  const __m512i rows23 = _mm512_add_epi16(rows01, _mm512_set1_epi16(16));
  const __m512i v01 = _mm512_loadu_si512(g + kLow + 128 * j), v23 = _mm512_loadu_si512(g + kLow + 128 * j + 64);
  const packed_kquant::ChunkPair pair{
      five_bits<c0>(_mm512_and_si512(v01, low4), high[0]),
      five_bits<c1>(_mm512_and_si512(_mm512_srli_epi16(v01, 4), low4), high[0]),
      five_bits<c0>(_mm512_and_si512(v23, low4), high[1]),
      five_bits<c1>(_mm512_and_si512(_mm512_srli_epi16(v23, 4), low4), high[1]),
      sub_block_scales(scales, rows01, c0), sub_block_scales(scales, rows01, c1),
      sub_block_scales(scales, rows23, c0), sub_block_scales(scales, rows23, c1)};
  packed_kquant::add_chunk_pair<T>(pair, c0, c1, xq, isum01, isum23);
}

template <int T>
void tile(int64_t n_super, const uint8_t* group, const uint8_t* const* x, const ActSums* const* act, float* out,
          int64_t out_stride) {
  const __m512i spread01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i spread23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  // int16 lane i of the min vectors: the min of sub-block i / 2 of row 0 (lanes 0-15) and row 1, or 2 and 3.
  const __m512i pairs01 = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5,
                                           5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
  const __m512i pairs23 = _mm512_add_epi16(pairs01, _mm512_set1_epi16(16));
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_super; ++b) {
    const uint8_t* g = group + static_cast<size_t>(b) * kGroupBlockBytes;
    for (size_t line = 0; line < kGroupBlockBytes; line += 64) prefetch_weights(g + line);
    const __m512i scales = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kScales)));
    const uint8_t* xq[T];
    __m512i isum01[T], isum23[T];
    for (int t = 0; t < T; ++t) {
      xq[t] = x[t] + static_cast<size_t>(b) * kActBytes + block::Q8_K::qs;
      isum01[t] = isum23[t] = _mm512_setzero_si512();
    }
    const __m512i high[2] = {_mm512_loadu_si512(g + kHigh), _mm512_loadu_si512(g + kHigh + 64)};
    chunk<T, 0>(g, high, scales, xq, isum01, isum23);
    chunk<T, 1>(g, high, scales, xq, isum01, isum23);
    chunk<T, 2>(g, high, scales, xq, isum01, isum23);
    chunk<T, 3>(g, high, scales, xq, isum01, isum23);
    const __m512 d4 = _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g))));
    const __m512 dmin4 =
        _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g + 8))));
    const __m512 d01 = _mm512_permutexvar_ps(spread01, d4), d23 = _mm512_permutexvar_ps(spread23, d4);
    const __m512 dmin01 = _mm512_permutexvar_ps(spread01, dmin4), dmin23 = _mm512_permutexvar_ps(spread23, dmin4);
    const __m512i mins = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kMins)));
    const __m512i mins01 = _mm512_permutexvar_epi16(pairs01, mins), mins23 = _mm512_permutexvar_epi16(pairs23, mins);
    for (int t = 0; t < T; ++t) {
      const ActSums& a = act[t][b];
      const __m512 dx = _mm512_set1_ps(a.d);
      const __m512i sums = _mm512_load_si512(a.sums);
      // Per lane: isum * (d * dx) - (min * sums) * (dmin * dx).
      const __m512 v01 = _mm512_sub_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum01[t]), _mm512_mul_ps(d01, dx)),
                                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(mins01, sums)),
                                                     _mm512_mul_ps(dmin01, dx)));
      const __m512 v23 = _mm512_sub_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(isum23[t]), _mm512_mul_ps(d23, dx)),
                                       _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(mins23, sums)),
                                                     _mm512_mul_ps(dmin23, dx)));
      acc[t] = _mm512_add_ps(acc[t], row_sums(v01, v23));
    }
  }
  for (int t = 0; t < T; ++t) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, acc[t]);
    for (int r = 0; r < kRows; ++r) out[t * out_stride + r] = lanes[4 * r];
  }
}

void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int64_t n_rows, const uint8_t* x, size_t x_row_bytes,
          int64_t n_tokens, float* out, int64_t out_stride) {
  const int64_t n_super = n / 256;
  thread_local std::vector<ActSums> act;
  packed_kquant::prepare_sums(n_super, x, x_row_bytes, n_tokens, act);
  for_each_group_and_token_tile<kRows, 4>(n_super, w, group_bytes, n_rows, x, x_row_bytes, n_tokens, act.data(), out,
                                          out_stride, []<int T>(auto... args) { tile<T>(args...); });
}

}  // namespace

extern const PackedKernel kAvx512Q5_K{kRows, group_bytes, pack, gemm};

}  // namespace cria::ops
