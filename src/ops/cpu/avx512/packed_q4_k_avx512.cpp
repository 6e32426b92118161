// Q4_K weights packed four rows to a group for AVX-512 VNNI. Per 256-element super-block a group holds
// the four rows' d and dmin (f16), their eight 6-bit sub-block scales and mins unpacked to bytes (so the
// kernel never unpacks them; 16 more bytes per 576), then the nibbles in chunks of 64 elements: for each
// chunk, 32 bytes per row (low nibbles: the chunk's first sub-block, high: its second), so that a zmm
// holds two rows and an activation sub-block is broadcast to both 256-bit lanes.
//
// Per chunk, vpdpbusd sums nibble x activation products four at a time into int32 (at most 4 * 15 * 128,
// so vpackssdw narrows the two sub-blocks' sums to int16 exactly), and one vpdpwssd multiplies those by
// the sub-block scales and adds them to the row's int32 sum. The super-block's sum(scale * isum) is exact
// in integers, as in the reference; mins use the activations' sums per 16.
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 broadcast and cast intrinsics.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/cpu/avx512/packed_driver.h"
#include "ops/cpu/avx512/packed_kquant.h"
#include "ops/cpu/kernel_parts.h"
#include "ops/prefetch.h"
#include "quant/block_layouts.h"

namespace cria::ops {
namespace {

constexpr int kRows = 4;
using Q4K = block::Q4_K;
using Q8K = block::Q8_K;
constexpr size_t kBlockBytes = Q4K::kBytes;
using packed_kquant::kActBytes;
using packed_kquant::kMins;
using packed_kquant::kScales;
// The packed group block: the header (packed_kquant.h), then the four rows' nibbles.
constexpr size_t kQuants = packed_kquant::kHeaderBytes;
constexpr size_t kGroupBlockBytes = kQuants + 4 * 128;

size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 256) * kGroupBlockBytes; }

void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
  for (int64_t b = 0; b < n / 256; ++b) {
    uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * kBlockBytes;
      packed_kquant::pack_header(block, r, out);
      // The file's chunk bytes already hold sub-block 2j in the low nibbles and 2j + 1 in the high ones.
      for (int j = 0; j < 4; ++j) std::memcpy(out + kQuants + 128 * j + 32 * r, block + Q4K::qs + 32 * j, 32);
    }
  }
}

// Per activation super-block: its scale and its sums per sub-block of 32 (pairs of the stored sums of 16),
// repeated for the four rows as int16 lanes [row * 8 + sub-block].
struct ActSuper {
  float d;
  alignas(64) int16_t sums[32];
};

void prepare_activations(int64_t n_super, const uint8_t* x, size_t x_row_bytes, int64_t n_tokens,
                         std::vector<ActSuper>& out) {
  out.resize(static_cast<size_t>(n_super * n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t b = 0; b < n_super; ++b) {
      const uint8_t* xb = x + static_cast<size_t>(t) * x_row_bytes + static_cast<size_t>(b) * kActBytes;
      ActSuper& a = out[static_cast<size_t>(t * n_super + b)];
      std::memcpy(&a.d, xb + Q8K::d, 4);
      int16_t sums16[16];
      std::memcpy(sums16, xb + Q8K::bsums, 32);
      for (int s = 0; s < 8; ++s) {
        const auto pair = static_cast<int16_t>(sums16[2 * s] + sums16[2 * s + 1]);
        for (int r = 0; r < kRows; ++r) a.sums[8 * r + s] = pair;
      }
    }
  }
}

// The scales for one chunk of rows (r, r + 1) in the int16 order vpackssdw leaves: 128-bit lane k holds
// four sums of sub-block 2j of row r + k / 2, then four of sub-block 2j + 1. `scales` holds int16
// [8 * row + sub-block].
inline __m512i chunk_scales(__m512i scales, int r, int j) {
  const __m512i base = _mm512_set_epi64(0x0009000900090009, 0x0008000800080008, 0x0009000900090009,
                                        0x0008000800080008, 0x0001000100010001, 0, 0x0001000100010001, 0);
  return _mm512_permutexvar_epi16(_mm512_add_epi16(base, _mm512_set1_epi16(static_cast<int16_t>(8 * r + 2 * j))),
                                  scales);
}

template <int T>
void tile(int64_t n_super, const uint8_t* group, const uint8_t* const* x, const ActSuper* const* act, float* out,
          int64_t out_stride) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i spread01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const __m512i spread23 = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m512i spread4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc01[T], acc23[T], acc_min[T];
  for (int t = 0; t < T; ++t) acc01[t] = acc23[t] = acc_min[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_super; ++b) {
    const uint8_t* g = group + static_cast<size_t>(b) * kGroupBlockBytes;
    prefetch_weights(g);
    const __m512i scales = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kScales)));
    __m512i isum01[T], isum23[T];
    for (int t = 0; t < T; ++t) isum01[t] = isum23[t] = _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      prefetch_weights(g + 64 + 128 * j);
      prefetch_weights(g + 128 + 128 * j);
      const __m512i v01 = _mm512_loadu_si512(g + kQuants + 128 * j);
      const __m512i v23 = _mm512_loadu_si512(g + kQuants + 128 * j + 64);
      const __m512i lo01 = _mm512_and_si512(v01, low4), hi01 = _mm512_and_si512(_mm512_srli_epi16(v01, 4), low4);
      const __m512i lo23 = _mm512_and_si512(v23, low4), hi23 = _mm512_and_si512(_mm512_srli_epi16(v23, 4), low4);
      const __m512i sc01 = chunk_scales(scales, 0, j), sc23 = chunk_scales(scales, 2, j);
      for (int t = 0; t < T; ++t) {
        const uint8_t* xq = x[t] + static_cast<size_t>(b) * kActBytes + Q8K::qs + 64 * j;
        const __m512i xlo = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)));
        const __m512i xhi = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32)));
        const __m512i zero = _mm512_setzero_si512();
        const __m512i p01 = _mm512_packs_epi32(_mm512_dpbusd_epi32(zero, lo01, xlo), _mm512_dpbusd_epi32(zero, hi01, xhi));
        const __m512i p23 = _mm512_packs_epi32(_mm512_dpbusd_epi32(zero, lo23, xlo), _mm512_dpbusd_epi32(zero, hi23, xhi));
        isum01[t] = _mm512_dpwssd_epi32(isum01[t], p01, sc01);
        isum23[t] = _mm512_dpwssd_epi32(isum23[t], p23, sc23);
      }
    }
    const __m512 d4 = _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g))));
    const __m512 dmin4 =
        _mm512_zextps128_ps512(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g + 8))));
    const __m512 d01 = _mm512_permutexvar_ps(spread01, d4), d23 = _mm512_permutexvar_ps(spread23, d4);
    const __m512 dmin = _mm512_permutexvar_ps(spread4, dmin4);
    const __m512i mins = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + kMins)));
    for (int t = 0; t < T; ++t) {
      const ActSuper& a = act[t][b];
      const __m512 dx = _mm512_set1_ps(a.d);
      acc01[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum01[t]), _mm512_mul_ps(d01, dx), acc01[t]);
      acc23[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum23[t]), _mm512_mul_ps(d23, dx), acc23[t]);
      // int32 lanes [4 * row + k]: that row's min * sum products, two sub-blocks per lane.
      const __m512i m = _mm512_madd_epi16(mins, _mm512_load_si512(a.sums));
      acc_min[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dmin, dx), acc_min[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    alignas(64) float lanes[48];
    _mm512_store_ps(lanes, acc01[t]);
    _mm512_store_ps(lanes + 16, acc23[t]);
    _mm512_store_ps(lanes + 32, acc_min[t]);
    for (int r = 0; r < kRows; ++r) {
      const float* l = lanes + 8 * r;
      const float* m = lanes + 32 + 4 * r;
      const float sum = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
      out[t * out_stride + r] = sum - ((m[0] + m[1]) + (m[2] + m[3]));
    }
  }
}

void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int64_t n_rows, const uint8_t* x, size_t x_row_bytes,
          int64_t n_tokens, float* out, int64_t out_stride) {
  const int64_t n_super = n / 256;
  thread_local std::vector<ActSuper> act;
  prepare_activations(n_super, x, x_row_bytes, n_tokens, act);
  for_each_group_and_token_tile<kRows, 4>(n_super, w, group_bytes, n_rows, x, x_row_bytes, n_tokens, act.data(), out,
                                          out_stride, []<int T>(auto... args) { tile<T>(args...); });
}

constexpr PackedKernel kQ4_K{kRows, group_bytes, pack, gemm};

}  // namespace

extern const PackedKernel kAvx512Q5_K;  // packed_q5_k_avx512.cpp
extern const PackedKernel kAvx512Q6_K;  // packed_q6_k_avx512.cpp

const PackedKernel* avx512_packed_kquant(TensorType type) {
  switch (type) {
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kAvx512Q5_K;
    case TensorType::Q6_K: return &kAvx512Q6_K;
    default: return nullptr;
  }
}

}  // namespace cria::ops
