// NEON attention over the f16 KV cache: the scalar kernel's arithmetic (q and the probabilities rounded
// through f16 by the hardware's round-to-nearest-even conversion) with 4-lane fused multiply-adds. The
// conversions are base AArch64, so one build serves both NEON instruction sets.
#include <arm_neon.h>

#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/cpu/flash_attention_impl.h"

namespace cria::ops {

namespace {

inline float32x4_t load_f16x4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

inline float round_through_f16(float v) {
  return vgetq_lane_f32(vcvt_f32_f16(vcvt_f16_f32(vdupq_n_f32(v))), 0);
}

// Head dimensions that are multiples of 4 run on vectors; others use the scalar kernel.
void attention(const float* q, const uint16_t* k, const uint16_t* v, size_t kv_stride, int n_keys, int head_dim,
               float scale, float* scores, float* out) {
  if (head_dim % 4 != 0 || head_dim > kMaxHeadDim) {
    scalar_attention()(q, k, v, kv_stride, n_keys, head_dim, scale, scores, out);
    return;
  }
  const int nv = head_dim / 4;
  float32x4_t q16[kMaxHeadDim / 4];
  for (int i = 0; i < nv; ++i) q16[i] = vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(q + 4 * i)));
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(j) * kv_stride;
    float32x4_t acc = vmulq_f32(q16[0], load_f16x4(kj));
    for (int i = 1; i < nv; ++i) acc = vfmaq_f32(acc, q16[i], load_f16x4(kj + 4 * i));
    scores[j] = vaddvq_f32(acc) * scale;
  }
  softmax(scores, n_keys);
  float32x4_t o[kMaxHeadDim / 4];
  for (int i = 0; i < nv; ++i) o[i] = vdupq_n_f32(0);
  for (int j = 0; j < n_keys; ++j) {
    const float p = round_through_f16(scores[j]);
    const uint16_t* vj = v + static_cast<size_t>(j) * kv_stride;
    for (int i = 0; i < nv; ++i) o[i] = vfmaq_n_f32(o[i], load_f16x4(vj + 4 * i), p);
  }
  for (int i = 0; i < nv; ++i) vst1q_f32(out + 4 * i, o[i]);
}

// Eight lanes as two float32x4_t for the flash kernel; blocks of 2 keep the accumulators in the 32
// registers.
struct Vec8 {
  struct T {
    float32x4_t lo, hi;
  };
  static constexpr int kBlock = 2;
  static T zero() { return set1(0.0f); }
  static T set1(float x) { return {vdupq_n_f32(x), vdupq_n_f32(x)}; }
  static T load(const float* p) { return {vld1q_f32(p), vld1q_f32(p + 4)}; }
  static void store(float* p, T a) {
    vst1q_f32(p, a.lo);
    vst1q_f32(p + 4, a.hi);
  }
  static T add(T a, T b) { return {vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
  static T sub(T a, T b) { return {vsubq_f32(a.lo, b.lo), vsubq_f32(a.hi, b.hi)}; }
  static T mul(T a, T b) { return {vmulq_f32(a.lo, b.lo), vmulq_f32(a.hi, b.hi)}; }
  static T div(T a, T b) { return {vdivq_f32(a.lo, b.lo), vdivq_f32(a.hi, b.hi)}; }
  static T max(T a, T b) { return {vmaxq_f32(a.lo, b.lo), vmaxq_f32(a.hi, b.hi)}; }
  static T fma(T a, T b, T c) { return {vfmaq_f32(c.lo, a.lo, b.lo), vfmaq_f32(c.hi, a.hi, b.hi)}; }
  static T round(T a) { return {vrndnq_f32(a.lo), vrndnq_f32(a.hi)}; }
  static float32x4_t pow2i4(float32x4_t n) {
    const int32x4_t e = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
  static T pow2i(T n) { return {pow2i4(n.lo), pow2i4(n.hi)}; }
  static T select_ge(T a, T b, T x, T y) {
    return {vbslq_f32(vcgeq_f32(a.lo, b.lo), x.lo, y.lo), vbslq_f32(vcgeq_f32(a.hi, b.hi), x.hi, y.hi)};
  }
  static T round_f16(T a) { return {vcvt_f32_f16(vcvt_f16_f32(a.lo)), vcvt_f32_f16(vcvt_f16_f32(a.hi))}; }
  static void f16_to_f32(const uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, load_f16x4(src + i));
    for (; i < n; ++i) dst[i] = fp16_to_fp32_fast(src[i]);
  }
};

}  // namespace

AttentionFn neon_attention() { return attention; }
FlashAttentionFn neon_flash_attention() { return flash::attention_job<Vec8>; }

}  // namespace cria::ops
