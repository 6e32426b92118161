// Q4_0 weights packed four rows to a group for AVX-512 VNNI. Per 32-element block a group holds the four
// rows' f16 scales (8 bytes) and then their 16 nibble bytes each (64 bytes): one zmm load brings the
// block of all four rows, one 128-bit lane per row, and the activation half-blocks are broadcast to the
// four lanes. The nibbles go into vpdpbusd unsigned; their bias of 8 is taken off by starting each row's
// integer sum at -8 * (sum of the activation block). Arithmetic per block is the reference's:
// d_w * d_x * sum(q_w * q_x) with exact integer sums; only the float summation order differs.
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 broadcast and cast intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include <cstring>
#include <vector>

#include "ops/packed_kernels.h"

namespace cria::ops {
namespace {

constexpr int kRows = 4;
constexpr size_t kBlockBytes = 18;            // Q4_0: f16 d, 16 bytes of nibbles
constexpr size_t kGroupBlockBytes = 4 * 18;  // 4 scales + 4 x 16 nibble bytes
constexpr size_t kActBlockBytes = 34;        // Q8_0: f16 d, 32 int8

size_t group_bytes(int64_t n) { return static_cast<size_t>(n / 32) * kGroupBlockBytes; }

void pack(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group) {
  for (int64_t b = 0; b < n / 32; ++b) {
    uint8_t* out = group + static_cast<size_t>(b) * kGroupBlockBytes;
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* block = src + static_cast<size_t>(r) * src_row_bytes + static_cast<size_t>(b) * kBlockBytes;
      std::memcpy(out + 2 * r, block, 2);
      std::memcpy(out + 8 + 16 * r, block + 2, 16);
    }
  }
}

// Per activation block: its scale as float and -8 times the sum of its quants.
struct ActBlock {
  float d;
  int32_t bias;
};

void prepare_activations(int64_t n_blocks, const uint8_t* x, size_t x_row_bytes, int64_t n_tokens,
                         std::vector<ActBlock>& out) {
  out.resize(static_cast<size_t>(n_blocks * n_tokens));
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t b = 0; b < n_blocks; ++b) {
      const uint8_t* xb = x + static_cast<size_t>(t) * x_row_bytes + static_cast<size_t>(b) * kActBlockBytes;
      uint16_t h;
      std::memcpy(&h, xb, 2);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 2));
      const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
      out[static_cast<size_t>(t * n_blocks + b)] = {_cvtsh_ss(h), -8 * _mm_cvtsi128_si32(s)};
    }
  }
}

// T tokens against one group of four rows: out[t * out_stride + r].
template <int T>
void group_tile(int64_t n_blocks, const uint8_t* group, const uint8_t* const* x, const ActBlock* const* act,
                float* out, int64_t out_stride) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* g = group + static_cast<size_t>(b) * kGroupBlockBytes;
    _mm_prefetch(reinterpret_cast<const char*>(g + 16 * kGroupBlockBytes), _MM_HINT_T0);
    const __m512i packed = _mm512_loadu_si512(g + 8);
    const __m512i lo = _mm512_and_si512(packed, low4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
    const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g)));
    const __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(d4));
    for (int t = 0; t < T; ++t) {
      const uint8_t* xb = x[t] + static_cast<size_t>(b) * kActBlockBytes;
      const __m512i xlo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 2)));
      const __m512i xhi = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb + 18)));
      __m512i isum = _mm512_maskz_set1_epi32(0x1111, act[t][b].bias);
      isum = _mm512_dpbusd_epi32(isum, lo, xlo);
      isum = _mm512_dpbusd_epi32(isum, hi, xhi);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(act[t][b].d)), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    // Each 128-bit lane holds four partial sums of one row.
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, acc[t]);
    for (int r = 0; r < kRows; ++r) {
      out[t * out_stride + r] = (lanes[4 * r] + lanes[4 * r + 1]) + (lanes[4 * r + 2] + lanes[4 * r + 3]);
    }
  }
}

// Groups outer, tokens inner: a group's weights (a few KB) stay in L1 while every token passes over them;
// the activations of the token block stay in L2.
void gemm(int64_t n, const uint8_t* w, size_t group_bytes, int64_t n_rows, const uint8_t* x, size_t x_row_bytes,
          int64_t n_tokens, float* out, int64_t out_stride) {
  const int64_t n_blocks = n / 32;
  thread_local std::vector<ActBlock> act;
  prepare_activations(n_blocks, x, x_row_bytes, n_tokens, act);
  constexpr int kTokens = 8;
  for (int64_t g = 0; g < n_rows / kRows; ++g) {
    const uint8_t* group = w + static_cast<size_t>(g) * group_bytes;
    float* out_g = out + g * kRows;
    int64_t t = 0;
    auto run = [&]<int T>() {
      const uint8_t* xt[T];
      const ActBlock* at[T];
      for (int i = 0; i < T; ++i) {
        xt[i] = x + static_cast<size_t>(t + i) * x_row_bytes;
        at[i] = act.data() + (t + i) * n_blocks;
      }
      group_tile<T>(n_blocks, group, xt, at, out_g + t * out_stride, out_stride);
      t += T;
    };
    while (t + kTokens <= n_tokens) run.template operator()<kTokens>();
    if (n_tokens - t >= 4) run.template operator()<4>();
    while (t < n_tokens) run.template operator()<1>();
  }
}

constexpr PackedKernel kQ4_0{kRows, group_bytes, pack, gemm};

}  // namespace

const PackedKernel* avx512_packed_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return &kQ4_0;
    default: return nullptr;
  }
}

}  // namespace cria::ops
