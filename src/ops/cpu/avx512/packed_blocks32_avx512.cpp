// 32-element block types (Q4_0, IQ4_NL, Q8_0) packed four rows to a group for AVX-512 VNNI. Per block a
// group holds the four rows' f16 scales (8 bytes), then their quant bytes row after row: one zmm load
// brings the block of all four rows (nibble types: one 128-bit lane per row; Q8_0: two loads, one
// 256-bit lane per row) and each activation piece is broadcast to the lanes once for all four rows.
//
// vpdpbusd multiplies unsigned weight bytes by signed activations, so the weights are held with a bias:
// Q4_0's raw nibbles are q + 8, IQ4_NL's table gives value + 128 and Q8_0's bytes are stored as q + 128.
// Each int32 lane starts at -bias * (sum of its own four activations), which takes the bias off exactly
// in every lane. (Starting only the first lane of a row at -bias * the block's sum gives the same integer
// total but lanes far from it, whose float sums then cancel at the end: that lost precision and changed
// greedy tokens.)
//
// Q8_0's results are the row-major AVX-512 kernel's bit for bit (gemm_x86_impl.h, tile_32): the same
// exact int32 sums of four products per lane, eight lanes per row, each times d_w * d_x in f32 and added
// with one FMA per block, the lanes summed in hsum's order at the end. The nibble types add elements
// 4k..4k+3 and 16+4k..16+4k+3 in one int32 lane (the row-major kernel's lanes k and k + 4) before the
// FMA: the same exact integers in another float order. Keeping them apart gives the row-major bits too,
// but its second convert and FMA per block made prompt processing about 25% slower.
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 broadcast and cast intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/cpu/avx512/packed_driver.h"
#include "ops/packed_kernels.h"
#include "ops/prefetch.h"

namespace cria::ops {
namespace {

constexpr int kRows = 4;
constexpr size_t kActBlockBytes = 34;  // Q8_0 activations: f16 d, 32 int8

// Per activation block: -bias times the sums of its quants in groups of four (the int32 lanes of a
// 256-bit dot product: elements 4k..4k+3 in lane k; with `halves` lanes k and k + 4 added into lane k),
// and its scale as float. Unaligned, to keep the array small: a token block's entries are read once per
// group of rows and should stay in L2 beside the activations.
struct ActBlock {
  int32_t bias[8];
  float d;
};

void prepare_activations(int64_t n_blocks, const uint8_t* x, size_t x_row_bytes, int64_t n_tokens, int bias,
                         bool halves, std::vector<ActBlock>& out) {
  out.resize(static_cast<size_t>(n_blocks * n_tokens));
  const __m256i ones = _mm256_set1_epi8(1);
  const __m256i minus_bias = _mm256_set1_epi32(-bias);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* xb = x + static_cast<size_t>(t) * x_row_bytes + static_cast<size_t>(b) * kActBlockBytes;
      ActBlock& a = out[static_cast<size_t>(t * n_blocks + b)];
      uint16_t h;
      std::memcpy(&h, xb, 2);
      a.d = _cvtsh_ss(h);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2));
      const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
      __m256i v = _mm256_mullo_epi32(sums, minus_bias);
      if (halves) v = _mm256_add_epi32(v, _mm256_permute2x128_si256(v, v, 0x01));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.bias), v);
    }
  }
}

// A row's eight lane sums added as hsum in gemm_x86_impl.h adds them: ((0+4)+(2+6)) + ((1+5)+(3+7)).
inline float sum8(const float* l) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

// The four rows' scales of a group block, each repeated over its row's lanes (4 or 8 lanes per row).
inline __m512 row_scales(const uint8_t* g, __m512i spread) {
  const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g)));
  return _mm512_permutexvar_ps(spread, _mm512_zextps128_ps512(d4));
}

// ---- nibble types: 16 bytes per row and block, low nibbles = elements 0-15, high = 16-31 -------------

struct NibblesQ4_0 {
  static constexpr size_t kBlockBytes = 18;
  static constexpr int kBias = 8;
  static __m512i values(__m512i nibbles) { return nibbles; }
};
struct NibblesIq4Nl {
  static constexpr size_t kBlockBytes = 18;
  static constexpr int kBias = 128;
  static __m512i values(__m512i nibbles) {
    // The IQ4_NL table plus 128, as unsigned bytes.
    const __m512i table = _mm512_broadcast_i32x4(
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, static_cast<char>(129), static_cast<char>(141),
                      static_cast<char>(153), static_cast<char>(166), static_cast<char>(181), static_cast<char>(197),
                      static_cast<char>(217), static_cast<char>(241)));
    return _mm512_shuffle_epi8(table, nibbles);
  }
};

template <class D>
struct PackedNibbles {
  static constexpr size_t kGroupBlockBytes = 8 + 4 * 16;
  static constexpr int kBias = D::kBias;
  static constexpr bool kHalves = true;  // one int32 lane per four low and four high nibbles
  static size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kGroupBlockBytes; }
  static void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
    for (int64_t b = 0; b < n / 32; ++b) {
      uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * D::kBlockBytes;
        std::memcpy(out + 2 * r, block, 2);
        std::memcpy(out + 8 + 16 * r, block + 2, 16);
      }
    }
  }
  template <int T>
  static void tile(int64_t n_blocks, const uint8_t* group, const uint8_t* const* x, const ActBlock* const* act,
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
      const __m512i lo = D::values(_mm512_and_si512(packed, low4));
      const __m512i hi = D::values(_mm512_and_si512(_mm512_srli_epi16(packed, 4), low4));
      const __m512 dw = row_scales(g, spread);
      for (int t = 0; t < T; ++t) {
        const uint8_t* xb = x[t] + static_cast<size_t>(b) * kActBlockBytes;
        const ActBlock& a = act[t][b];
        const __m512i xlo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 2)));
        const __m512i xhi = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 18)));
        __m512i isum = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bias)));
        isum = _mm512_dpbusd_epi32(isum, lo, xlo);
        isum = _mm512_dpbusd_epi32(isum, hi, xhi);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(a.d)), acc[t]);
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

// ---- Q8_0: 32 bytes per row and block, stored as q + 128 ---------------------------------------------

struct PackedQ8_0 {
  static constexpr size_t kBlockBytes = 34;
  static constexpr size_t kGroupBlockBytes = 8 + 4 * 32;
  static constexpr int kBias = 128;
  static constexpr bool kHalves = false;
  static size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kGroupBlockBytes; }
  static void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
    for (int64_t b = 0; b < n / 32; ++b) {
      uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * kBlockBytes;
        std::memcpy(out + 2 * r, block, 2);
        for (int i = 0; i < 32; ++i) out[8 + 32 * r + i] = static_cast<uint8_t>(block[2 + i] ^ 0x80);
      }
    }
  }
  template <int T>
  static void tile(int64_t n_blocks, const uint8_t* group, const uint8_t* const* x, const ActBlock* const* act,
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
      const __m512 dw01 = row_scales(g, spread01), dw23 = row_scales(g, spread23);
      for (int t = 0; t < T; ++t) {
        const uint8_t* xb = x[t] + static_cast<size_t>(b) * kActBlockBytes;
        const __m512i xq = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2)));
        const __m512i bias = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t][b].bias)));
        const __m512 dx = _mm512_set1_ps(act[t][b].d);
        acc01[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(bias, w01, xq)), _mm512_mul_ps(dw01, dx),
                                   acc01[t]);
        acc23[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(bias, w23, xq)), _mm512_mul_ps(dw23, dx),
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
  thread_local std::vector<ActBlock> act;
  prepare_activations(n_blocks, x, x_row_bytes, n_tokens, P::kBias, P::kHalves, act);
  for_each_group_and_token_tile<kRows, 8>(n_blocks, w, group_bytes, n_rows, x, x_row_bytes, n_tokens, act.data(), out,
                                          out_stride, []<int T>(auto... args) { P::template tile<T>(args...); });
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
