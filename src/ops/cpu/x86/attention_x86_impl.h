// x86 attention (F16C conversions, FMA), shared by the AVX2 and AVX-512 builds like gemm_x86_impl.h.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/cpu/kernel_parts.h"

namespace cria::ops::CRIA_X86_NAMESPACE {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Head dimensions that are multiples of 8 run on vectors; others use the scalar kernel.
inline void attention(const float* q, const uint16_t* k, const uint16_t* v, const int32_t* cells, size_t kv_stride, int n_keys,
                      int head_dim, float scale, float cap, float* scores, float* out) {
  if (head_dim % 8 != 0 || head_dim > kMaxHeadDim) {
    scalar_attention()(q, k, v, cells, kv_stride, n_keys, head_dim, scale, cap, scores, out);
    return;
  }
  const int nv = head_dim / 8;
  alignas(32) float q16[kMaxHeadDim];
  for (int i = 0; i < nv; ++i) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(q + 8 * i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_store_ps(q16 + 8 * i, _mm256_cvtph_ps(h));
  }
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(cells[j]) * kv_stride;
    __m256 acc = _mm256_mul_ps(_mm256_load_ps(q16), load_f16x8(kj));
    for (int i = 1; i < nv; ++i) acc = _mm256_fmadd_ps(_mm256_load_ps(q16 + 8 * i), load_f16x8(kj + 8 * i), acc);
    scores[j] = hsum8(acc) * scale;
  }
  if (cap > 0.0f) softcap(scores, n_keys, cap);  // the scalar reference's std::tanh, as llama.cpp
  softmax(scores, n_keys);
  __m256 o[kMaxHeadDim / 8];
  for (int i = 0; i < nv; ++i) o[i] = _mm256_setzero_ps();
  for (int j = 0; j < n_keys; ++j) {
    const __m256 p = _mm256_set1_ps(_cvtsh_ss(_cvtss_sh(scores[j], _MM_FROUND_TO_NEAREST_INT)));
    const uint16_t* vj = v + static_cast<size_t>(cells[j]) * kv_stride;
    for (int i = 0; i < nv; ++i) o[i] = _mm256_fmadd_ps(p, load_f16x8(vj + 8 * i), o[i]);
  }
  for (int i = 0; i < nv; ++i) _mm256_storeu_ps(out + 8 * i, o[i]);
}

// Eight-lane vectors for ops/cpu/flash_attention_impl.h. The AVX-512 build gets the same code with 32
// vector registers (AVX-512VL), so the 4 x 4 accumulator blocks do not spill.
struct Vec8 {
  using T = __m256;
  static constexpr int kBlock = 4;
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T round(T a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n for integral n in [-126, 127].
  static T pow2i(T n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static T select_ge(T a, T b, T x, T y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GE_OQ)); }
  static T round_f16(T a) { return _mm256_cvtph_ps(_mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT)); }
  // table[f16 bits of a] per lane, a rounded to f16 to nearest even (the table has 65536 entries).
  static T lookup_f16(const float* table, T a) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT));
    return _mm256_i32gather_ps(table, h, 4);
  }
  static T from_i8(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static void f16_to_f32(const uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(src + i));
    for (; i < n; ++i) dst[i] = fp16_to_fp32_fast(src[i]);
  }
};

}  // namespace cria::ops::CRIA_X86_NAMESPACE
