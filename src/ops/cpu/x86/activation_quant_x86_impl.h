// x86 activation quantizers (AVX2), bit-identical to ops/activation_quant.cpp's Q8_0/Q8_1 and the type
// table's Q8_K: the same products, and vcvtps2dq rounds half to even like nearbyint and nearest_int.
// Included by the AVX2 and AVX-512 builds like gemm_x86_impl.h.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "quant/block_layouts.h"
#include "ops/activation_quant.h"
#include "ops/cpu/x86/gemm_x86_impl.h"  // hsum_i32

namespace cria::ops::CRIA_X86_NAMESPACE {

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

inline float hmax_ps(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// Four vectors of int32 (each in [-128, 127] after saturation) to 32 int8 in element order.
inline void store_int8x32(const __m256i q[4], uint8_t* out) {
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  const __m256i ordered = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), ordered);
}

// Q8_0 (34-byte blocks: d, qs) and Q8_1 (36-byte blocks: d, s, qs) with 127/amax and half-to-even.
template <bool kWithSum>
void quantize_q8(const float* x, void* out, int64_t n) {
  using Block = Q8Block<kWithSum>;
  auto* blocks = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + b * 32;
    uint8_t* block = blocks + b * Block::kBytes;
    __m256 f[4];
    for (int i = 0; i < 4; ++i) f[i] = _mm256_loadu_ps(v + 8 * i);
    const float amax = hmax_ps(_mm256_max_ps(_mm256_max_ps(abs_ps(f[0]), abs_ps(f[1])),
                                             _mm256_max_ps(abs_ps(f[2]), abs_ps(f[3]))));
    const float d = amax / 127.0f;
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(f[i], id));
    store_int8x32(q, block + Block::kQuants);
    int32_t sum = 0;
    if constexpr (kWithSum) {
      sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    }
    Block::write_scales(block, d, sum);
  }
}

// Q8_K (block::Q8_K: f32 d, 256 int8, 16 int16 sums of 16): the scale comes from the first element
// of largest magnitude, with its sign, and quants are clamped to 127.
inline void quantize_q8_k(const float* x, void* out, int64_t n) {
  using Q8K = block::Q8_K;
  constexpr size_t kBytes = Q8K::kBytes, kQs = Q8K::qs, kSums = Q8K::bsums;
  auto* block = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < n / 256; ++b, block += kBytes, x += 256) {
    __m256 vmax = _mm256_setzero_ps();
    for (int i = 0; i < 256; i += 8) vmax = _mm256_max_ps(vmax, abs_ps(_mm256_loadu_ps(x + i)));
    const float amax = hmax_ps(vmax);
    if (amax == 0.0f) {
      std::memset(block, 0, kBytes);
      continue;
    }
    float max = 0.0f;
    const __m256 target = _mm256_set1_ps(amax);
    for (int i = 0; i < 256; i += 8) {
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + i)), target, _CMP_EQ_OQ));
      if (mask != 0) {
        max = x[i + __builtin_ctz(static_cast<unsigned>(mask))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i top = _mm256_set1_epi32(127);
    for (int i = 0; i < 256; i += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + i + 8 * k))), top);
      }
      store_int8x32(q, block + kQs + i);
      for (int g = 0; g < 2; ++g) {
        const auto s = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[2 * g], q[2 * g + 1])));
        std::memcpy(block + kSums + 2 * (i / 16 + g), &s, 2);
      }
    }
    const float d = 1.0f / iscale;
    std::memcpy(block, &d, 4);
  }
}

inline QuantizeActivationFn activation_quantizer(TensorType vec_dot_type) {
  switch (vec_dot_type) {
    case TensorType::Q8_0: return quantize_q8<false>;
    case TensorType::Q8_1: return quantize_q8<true>;
    case TensorType::Q8_K: return quantize_q8_k;
    default: return nullptr;
  }
}

}  // namespace cria::ops::CRIA_X86_NAMESPACE
