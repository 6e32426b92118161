// Q6_K weights packed four rows to a group for AVX-512 VNNI. Per 256-element super-block a group holds
// the four rows' d (f16) and 16 int8 scales, then the low nibbles, 32 bytes per row at a time (each byte
// holds two 32-element chunks), then the top two bits (32 bytes per row hold four chunks). Same size as
// the file's layout, and the same bytes in another order.
//
// The 6-bit values u = q + 32 go through vpmaddubsw (u <= 63) and vpdpwssd with the scale of each 16
// elements; the offset 32 comes off in integers as 32 * sum(scale * activation sums of 16), so the
// super-block sum is exact as in the reference.
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
#include "ops/prefetch.h"
#include "quant/block_layouts.h"

namespace cria::ops {
namespace {

using packed_kquant::ActSums;
using packed_kquant::kActBytes;

constexpr int kRows = 4;
using Q6K = block::Q6_K;
using Q8K = block::Q8_K;
constexpr size_t kBlockBytes = Q6K::kBytes;
// The packed group block: four d, per row 16 scales, the rows' low nibbles, then their high bits.
constexpr size_t kScales = 8, kLow = 72, kHigh = kLow + 512;
constexpr size_t kGroupBlockBytes = kHigh + 256;

size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 256) * kGroupBlockBytes; }

// The file's bytes rearranged: a row's 128 bytes of low nibbles and 64 of high bits keep their order, so
// the pairs of chunks sharing a byte are (0, 2), (1, 3), (4, 6), (5, 7).
void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * kBlockBytes;
      std::memcpy(out + 2 * r, block + Q6K::d, 2);
      std::memcpy(out + kScales + 16 * r, block + Q6K::scales, 16);
      for (int p = 0; p < 4; ++p) std::memcpy(out + kLow + 128 * p + 32 * r, block + Q6K::ql + 32 * p, 32);
      for (int h = 0; h < 2; ++h) std::memcpy(out + kHigh + 128 * h + 32 * r, block + Q6K::qh + 32 * h, 32);
    }
  }
}

// Chunk c's 6-bit values from its low nibbles and its two high bits (bits 2k, 2k + 1 of `high`).
template <int kNibble, int k>
inline __m512i six_bits(__m512i low, __m512i high) {
  const __m512i nibble = kNibble ? _mm512_and_si512(_mm512_srli_epi16(low, 4), _mm512_set1_epi8(0x0f))
                                 : _mm512_and_si512(low, _mm512_set1_epi8(0x0f));
  // Move bits 2k, 2k + 1 to bits 4, 5; 16-bit shifts only drag neighbouring bits into positions the
  // mask clears.
  const __m512i top = k <= 2 ? _mm512_slli_epi16(high, 4 - 2 * k) : _mm512_srli_epi16(high, 2);
  return _mm512_or_si512(nibble, _mm512_and_si512(top, _mm512_set1_epi8(0x30)));
}

// int16 lanes: [row a's scale 2c x8, row a's 2c + 1 x8, row b's 2c x8, row b's 2c + 1 x8], from the 32
// scales of two rows ([16 * row + g]).
inline __m512i chunk_scales(__m512i scales, int c) {
  const __m512i base = _mm512_set_epi64(0x0011001100110011, 0x0011001100110011, 0x0010001000100010,
                                        0x0010001000100010, 0x0001000100010001, 0x0001000100010001, 0, 0);
  return _mm512_permutexvar_epi16(_mm512_add_epi16(base, _mm512_set1_epi16(static_cast<int16_t>(2 * c))), scales);
}

template <int T, int p>
inline void chunk_pair(const uint8_t* g, const __m512i (&high)[2], __m512i sc01, __m512i sc23,
                       const uint8_t* const* xq, __m512i (&isum01)[T], __m512i (&isum23)[T]) {
  constexpr int c0 = 4 * (p / 2) + p % 2, c1 = c0 + 2;
  const __m512i low01 = _mm512_loadu_si512(g + kLow + 128 * p), low23 = _mm512_loadu_si512(g + kLow + 128 * p + 64);
  const packed_kquant::ChunkPair pair{
      six_bits<0, c0 % 4>(low01, high[0]), six_bits<1, c1 % 4>(low01, high[0]),
      six_bits<0, c0 % 4>(low23, high[1]), six_bits<1, c1 % 4>(low23, high[1]),
      chunk_scales(sc01, c0), chunk_scales(sc01, c1), chunk_scales(sc23, c0), chunk_scales(sc23, c1)};
  packed_kquant::add_chunk_pair<T>(pair, c0, c1, xq, isum01, isum23);
}

template <int T>
void tile(int64_t n_super, const uint8_t* group, const uint8_t* const* x, const ActSums* const* act, float* out,
          int64_t out_stride) {
  const __m512i spread01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i spread23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m512 acc01[T], acc23[T];
  for (int t = 0; t < T; ++t) acc01[t] = acc23[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_super; ++b) {
    const uint8_t* g = group + static_cast<size_t>(b) * kGroupBlockBytes;
    for (size_t line = 0; line < kGroupBlockBytes; line += 64) prefetch_weights(g + line);
    const __m512i sc01 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kScales)));
    const __m512i sc23 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kScales + 32)));
    const uint8_t* xq[T];
    __m512i isum01[T], isum23[T];
    for (int t = 0; t < T; ++t) {
      xq[t] = x[t] + static_cast<size_t>(b) * kActBytes + Q8K::qs;
      // The offset of 32, in integers: start each row at -32 * sum(scale * sums of 16).
      const __m512i sums = _mm512_load_si512(act[t][b].sums);
      isum01[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(_mm512_madd_epi16(sc01, sums), 5));
      isum23[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(_mm512_madd_epi16(sc23, sums), 5));
    }
    const __m512i high_a[2] = {_mm512_loadu_si512(g + kHigh), _mm512_loadu_si512(g + kHigh + 64)};
    chunk_pair<T, 0>(g, high_a, sc01, sc23, xq, isum01, isum23);
    chunk_pair<T, 1>(g, high_a, sc01, sc23, xq, isum01, isum23);
    const __m512i high_b[2] = {_mm512_loadu_si512(g + kHigh + 128), _mm512_loadu_si512(g + kHigh + 192)};
    chunk_pair<T, 2>(g, high_b, sc01, sc23, xq, isum01, isum23);
    chunk_pair<T, 3>(g, high_b, sc01, sc23, xq, isum01, isum23);
    const __m512 d4 = _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g))));
    const __m512 d01 = _mm512_permutexvar_ps(spread01, d4), d23 = _mm512_permutexvar_ps(spread23, d4);
    for (int t = 0; t < T; ++t) {
      const __m512 dx = _mm512_set1_ps(act[t][b].d);
      acc01[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum01[t]), _mm512_mul_ps(d01, dx), acc01[t]);
      acc23[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum23[t]), _mm512_mul_ps(d23, dx), acc23[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    alignas(64) float lanes[32];
    _mm512_store_ps(lanes, acc01[t]);
    _mm512_store_ps(lanes + 16, acc23[t]);
    for (int r = 0; r < kRows; ++r) {
      const float* l = lanes + 8 * r;
      out[t * out_stride + r] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
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

extern const PackedKernel kAvx512Q6_K{kRows, group_bytes, pack, gemm};

}  // namespace cria::ops
