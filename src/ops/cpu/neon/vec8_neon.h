// NEON's 8-lane vector type for the kernels written once over vectors (ops/cpu/flash_attention_impl.h,
// ops/cpu/vec8_math_impl.h). Base AArch64 only, so the files of both NEON builds may include it.
#pragma once

#include <arm_neon.h>

#include <cstdint>

#include "core/fp16.h"

namespace cria::ops::neon {

inline float32x4_t load_f16x4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// Eight lanes as two float32x4_t for ops/cpu/flash_attention_impl.h and vec8_math_impl.h; blocks of 2
// keep the flash kernel's accumulators in the 32 registers.
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
  // table[f16 bits of a] per lane, a rounded to f16 to nearest even (FPCR's default rounding); NEON has
  // no gather, so eight loads.
  static T lookup_f16(const float* table, T a) {
    uint16_t h[8];
    vst1_u16(h, vreinterpret_u16_f16(vcvt_f16_f32(a.lo)));
    vst1_u16(h + 4, vreinterpret_u16_f16(vcvt_f16_f32(a.hi)));
    float r[8];
    for (int i = 0; i < 8; ++i) r[i] = table[h[i]];
    return load(r);
  }
  static T from_i8(const int8_t* p) {
    const int16x8_t w = vmovl_s8(vld1_s8(p));
    return {vcvtq_f32_s32(vmovl_s16(vget_low_s16(w))), vcvtq_f32_s32(vmovl_s16(vget_high_s16(w)))};
  }
  static void f16_to_f32(const uint16_t* src, float* dst, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, load_f16x4(src + i));
    for (; i < n; ++i) dst[i] = fp16_to_fp32_fast(src[i]);
  }
};

}  // namespace cria::ops::neon
