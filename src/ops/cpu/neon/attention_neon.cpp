// NEON attention over the f16 KV cache: the scalar kernel's arithmetic (q and the probabilities rounded
// through f16 by the hardware's round-to-nearest-even conversion) with 4-lane fused multiply-adds. The
// conversions are base AArch64, so one build serves both NEON instruction sets.
#include <arm_neon.h>

#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/cpu/flash_attention_impl.h"
#include "ops/cpu/kernel_parts.h"
#include "ops/cpu/neon/vec8_neon.h"

namespace cria::ops {

namespace {

inline float round_through_f16(float v) {
  return vgetq_lane_f32(vcvt_f32_f16(vcvt_f16_f32(vdupq_n_f32(v))), 0);
}

// Head dimensions that are multiples of 4 run on vectors; others use the scalar kernel.
void attention(const float* q, const uint16_t* k, const uint16_t* v, const int32_t* cells, size_t kv_stride, int n_keys, int head_dim,
               float scale, float cap, float* scores, float* out) {
  if (head_dim % 4 != 0 || head_dim > kMaxHeadDim) {
    scalar_attention()(q, k, v, cells, kv_stride, n_keys, head_dim, scale, cap, scores, out);
    return;
  }
  const int nv = head_dim / 4;
  float32x4_t q16[kMaxHeadDim / 4];
  for (int i = 0; i < nv; ++i) q16[i] = vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(q + 4 * i)));
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(cells[j]) * kv_stride;
    float32x4_t acc = vmulq_f32(q16[0], neon::load_f16x4(kj));
    for (int i = 1; i < nv; ++i) acc = vfmaq_f32(acc, q16[i], neon::load_f16x4(kj + 4 * i));
    scores[j] = vaddvq_f32(acc) * scale;
  }
  if (cap > 0.0f) softcap(scores, n_keys, cap);  // the scalar reference's std::tanh, as llama.cpp
  softmax(scores, n_keys);
  float32x4_t o[kMaxHeadDim / 4];
  for (int i = 0; i < nv; ++i) o[i] = vdupq_n_f32(0);
  for (int j = 0; j < n_keys; ++j) {
    const float p = round_through_f16(scores[j]);
    const uint16_t* vj = v + static_cast<size_t>(cells[j]) * kv_stride;
    for (int i = 0; i < nv; ++i) o[i] = vfmaq_n_f32(o[i], neon::load_f16x4(vj + 4 * i), p);
  }
  for (int i = 0; i < nv; ++i) vst1q_f32(out + 4 * i, o[i]);
}

}  // namespace

AttentionFn neon_attention() { return attention; }
FlashAttentionFn neon_flash_attention() { return flash::attention_job<neon::Vec8>; }
KvRowFn neon_kv_row() { return kv::row_to_f32<neon::Vec8>; }

}  // namespace cria::ops
