// 32-element block types (Q4_0, IQ4_NL, Q8_0) packed four rows to a group for AVX-512 VNNI. Per block a
// group holds the four rows' f16 scales (8 bytes), then their quant bytes row after row: one zmm load
// brings the block of all four rows (nibble types: one 128-bit lane per row; Q8_0: two loads, one
// 256-bit lane per row) and each activation piece is broadcast to the lanes once for all four rows.
//
// vpdpbusd multiplies unsigned bytes by signed bytes. The weights are the signed operand, as their
// values (Q4_0's nibble - 8, IQ4_NL's table value, Q8_0's byte); the activations are the unsigned one,
// held as q + 128 in a copy made per call. So each int32 lane's products come out 128 * (the sum of
// that lane's weights) too high: the lane starts at -128 times that sum, computed once per group block
// from the weights (one vpdpbusd against 128s) for all tokens of the tile, which takes the bias off
// exactly in every lane. (Starting only the first lane of a row at the whole block's correction gives
// the same integer total but lanes far from it, whose float sums then cancel at the end: that lost
// precision and changed greedy tokens. Correcting by -bias * the activations' sums with unsigned
// weights instead needs those sums per token, lane and block: carried beside the activations they made
// prompt processing 12-15% slower, computed in the tile loop they would cost per token and row group.)
//
// Q8_0's results are the row-major AVX-512 kernel's bit for bit (gemm_x86_impl.h, tile_32): the same
// exact int32 sums of four products per lane, eight lanes per row, each times d_w * d_x in f32 and added
// with one FMA per block, the lanes summed in hsum's order at the end. The nibble types add elements
// 4k..4k+3 and 16+4k..16+4k+3 in one int32 lane (the row-major kernel's lanes k and k + 4) before the
// FMA: the same exact integers in another float order. Keeping them apart gives the row-major bits too,
// but its second convert and FMA per block made prompt processing about 25% slower.
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 broadcast and cast intrinsics.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/cpu/avx512/packed_driver.h"
#include "ops/cpu/kernel_parts.h"
#include "ops/prefetch.h"
#include "quant/block_layouts.h"

namespace cria::ops {
namespace {

constexpr int kRows = 4;
using Q8 = block::Q8_0;  // the activations
constexpr size_t kActBlockBytes = Q8::kBytes;

// The activations as the tiles read them: per token, its blocks' quants + 128 (32 bytes each, aligned,
// so no load splits a cache line) and, apart, their scales as float. 36 bytes per token and block.
struct alignas(32) Quants32 {
  uint8_t q[32];
};
struct PreparedActivations {
  std::vector<Quants32> quants;  // [token][block]
  std::vector<float> d;          // [token][block]
};

void prepare_activations(int64_t n_blocks, const uint8_t* x, size_t x_row_bytes, int64_t n_tokens,
                         PreparedActivations& out) {
  const size_t n = static_cast<size_t>(n_blocks * n_tokens);
  if (out.quants.size() < n) {
    out.quants.resize(n);
    out.d.resize(n);
  }
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const uint8_t* xt = x + static_cast<size_t>(t) * x_row_bytes;
    Quants32* q = out.quants.data() + t * n_blocks;
    float* d = out.d.data() + t * n_blocks;
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* xb = xt + static_cast<size_t>(b) * kActBlockBytes;
      uint16_t h;
      std::memcpy(&h, xb + Q8::d, 2);
      d[b] = _cvtsh_ss(h);
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + Q8::qs));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[b].q), _mm256_xor_si256(v, flip));
    }
  }
}

// 128 times the sum of each int32 lane's four weights (signed bytes), added to `sums`.
inline __m512i add_128_lane_sums(__m512i sums, __m512i w) {
  return _mm512_dpbusd_epi32(sums, _mm512_set1_epi8(static_cast<char>(0x80)), w);
}

// A row's eight lane sums added as hsum in gemm_x86_impl.h adds them: ((0+4)+(2+6)) + ((1+5)+(3+7)).
inline float sum8(const float* l) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

// The four rows' scales of a group block, each repeated over its row's lanes (4 or 8 lanes per row).
inline __m512 row_scales(const uint8_t* g, __m512i spread) {
  const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g)));
  return _mm512_permutexvar_ps(spread, _mm512_zextps128_ps512(d4));
}

// ---- nibble types: 16 bytes per row and block, low nibbles = elements 0-15, high = 16-31 -------------

// values: the signed weights of the nibbles. corrections: -128 times the sum of each int32 lane's
// eight weights (four low and four high nibbles).
struct NibblesQ4_0 {
  using Layout = block::Q4_0;
  static constexpr size_t kBlockBytes = Layout::kBytes;
  static __m512i values(__m512i nibbles) { return _mm512_sub_epi8(nibbles, _mm512_set1_epi8(8)); }
  // From the raw nibbles (q + 8, unsigned) times -128 as the signed operand: -128 * sum(q + 8) + 8192,
  // one instruction less than from the values.
  static __m512i corrections(__m512i nib_lo, __m512i nib_hi, __m512i, __m512i) {
    const __m512i minus128 = _mm512_set1_epi8(static_cast<char>(0x80));
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_set1_epi32(8192), nib_lo, minus128), nib_hi, minus128);
  }
};
struct NibblesIq4Nl {
  using Layout = block::IQ4_NL;
  static constexpr size_t kBlockBytes = Layout::kBytes;
  static __m512i values(__m512i nibbles) {
    const __m512i table = _mm512_broadcast_i32x4(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm512_shuffle_epi8(table, nibbles);
  }
  static __m512i corrections(__m512i, __m512i, __m512i lo, __m512i hi) {
    const __m512i zero = _mm512_setzero_si512();
    return _mm512_sub_epi32(zero, add_128_lane_sums(add_128_lane_sums(zero, lo), hi));
  }
};

template <class D>
struct PackedNibbles {
  static constexpr size_t kGroupBlockBytes = 8 + 4 * 16;
  static size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kGroupBlockBytes; }
  static void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
    for (int64_t b = 0; b < n / 32; ++b) {
      uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * D::kBlockBytes;
        std::memcpy(out + 2 * r, block + D::Layout::d, 2);
        std::memcpy(out + 8 + 16 * r, block + D::Layout::qs, 16);
      }
    }
  }
  // x: prepared quants (32 bytes per block), d: their scales.
  template <int T>
  static void tile(int64_t n_blocks, const uint8_t* group, const uint8_t* const* x, const float* const* d,
                   float* out, int64_t out_stride) {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* g = group + static_cast<size_t>(b) * kGroupBlockBytes;
      // One request per 72-byte block (8 per 9 lines): a second one per block made generation 5%
      // slower, one per line exactly was no faster, one per two blocks 20% slower (docs/PERF.md, round 7).
      prefetch_weights(g);
      const __m512i packed = _mm512_loadu_si512(g + 8);
      const __m512i nib_lo = _mm512_and_si512(packed, low4);
      const __m512i nib_hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
      const __m512i lo = D::values(nib_lo), hi = D::values(nib_hi);
      // Lane k of a row adds elements 4k..4k+3 (low nibbles) and 16+4k..16+4k+3 (high nibbles).
      const __m512i corr = D::corrections(nib_lo, nib_hi, lo, hi);
      const __m512 dw = row_scales(g, spread);
      for (int t = 0; t < T; ++t) {
        const uint8_t* xb = x[t] + static_cast<size_t>(b) * 32;
        const __m512i xlo = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(xb)));
        const __m512i xhi = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(xb + 16)));
        __m512i isum = _mm512_dpbusd_epi32(corr, xlo, lo);
        isum = _mm512_dpbusd_epi32(isum, xhi, hi);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(d[t][b])), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) {
      alignas(64) float lanes[16];  // four lane sums per row, summed as hsum's last two steps
      _mm512_store_ps(lanes, acc[t]);
      for (int r = 0; r < kRows; ++r) {
        const float* l = lanes + 4 * r;
        out[t * out_stride + r] = (l[0] + l[2]) + (l[1] + l[3]);
      }
    }
  }
};

// ---- Q8_0: 32 bytes per row and block, the file's signed bytes ---------------------------------------

struct PackedQ8_0 {
  static constexpr size_t kBlockBytes = block::Q8_0::kBytes;
  static constexpr size_t kGroupBlockBytes = 8 + 4 * 32;
  static size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kGroupBlockBytes; }
  static void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
    for (int64_t b = 0; b < n / 32; ++b) {
      uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * kBlockBytes;
        std::memcpy(out + 2 * r, block + block::Q8_0::d, 2);
        std::memcpy(out + 8 + 32 * r, block + block::Q8_0::qs, 32);
      }
    }
  }
  template <int T>
  static void tile(int64_t n_blocks, const uint8_t* group, const uint8_t* const* x, const float* const* d,
                   float* out, int64_t out_stride) {
    const __m512i spread01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i spread23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512 acc01[T], acc23[T];
    for (int t = 0; t < T; ++t) acc01[t] = acc23[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* g = group + static_cast<size_t>(b) * kGroupBlockBytes;
      prefetch_weights(g);
      prefetch_weights(g + 64);
      const __m512i w01 = _mm512_loadu_si512(g + 8);
      const __m512i w23 = _mm512_loadu_si512(g + 72);
      const __m512i corr01 = _mm512_sub_epi32(_mm512_setzero_si512(), add_128_lane_sums(_mm512_setzero_si512(), w01));
      const __m512i corr23 = _mm512_sub_epi32(_mm512_setzero_si512(), add_128_lane_sums(_mm512_setzero_si512(), w23));
      const __m512 dw01 = row_scales(g, spread01), dw23 = row_scales(g, spread23);
      for (int t = 0; t < T; ++t) {
        const __m512i xq = _mm512_broadcast_i64x4(
            _mm256_load_si256(reinterpret_cast<const __m256i*>(x[t] + static_cast<size_t>(b) * 32)));
        const __m512 dx = _mm512_set1_ps(d[t][b]);
        acc01[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr01, xq, w01)), _mm512_mul_ps(dw01, dx),
                                   acc01[t]);
        acc23[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr23, xq, w23)), _mm512_mul_ps(dw23, dx),
                                   acc23[t]);
      }
    }
    for (int t = 0; t < T; ++t) {
      // Eight partial sums per row: rows 0 and 1 in acc01's halves, rows 2 and 3 in acc23's.
      alignas(64) float lanes[32];
      _mm512_store_ps(lanes, acc01[t]);
      _mm512_store_ps(lanes + 16, acc23[t]);
      for (int r = 0; r < kRows; ++r) out[t * out_stride + r] = sum8(lanes + 8 * r);
    }
  }
};

template <class P>
void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int64_t n_rows, const uint8_t* x, size_t x_row_bytes,
          int64_t n_tokens, float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  thread_local PreparedActivations act;
  prepare_activations(n_blocks, x, x_row_bytes, n_tokens, act);
  for_each_group_and_token_tile<kRows, 8>(n_blocks, w, group_bytes, n_rows,
                                          reinterpret_cast<const uint8_t*>(act.quants.data()),
                                          static_cast<size_t>(n_blocks) * sizeof(Quants32), n_tokens, act.d.data(),
                                          out, out_stride, []<int T>(auto... args) { P::template tile<T>(args...); });
}

template <class P>
constexpr PackedKernel kernel_of() {
  return {kRows, P::group_bytes, P::pack, gemm<P>};
}
constexpr PackedKernel kQ4_0 = kernel_of<PackedNibbles<NibblesQ4_0>>();
constexpr PackedKernel kIq4Nl = kernel_of<PackedNibbles<NibblesIq4Nl>>();
constexpr PackedKernel kQ8_0 = kernel_of<PackedQ8_0>();

}  // namespace

const PackedKernel* avx512_packed_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return &kQ4_0;
    case TensorType::IQ4_NL: return &kIq4Nl;
    case TensorType::Q8_0: return &kQ8_0;
    default: return avx512_packed_kquant(type);
  }
}

}  // namespace cria::ops
