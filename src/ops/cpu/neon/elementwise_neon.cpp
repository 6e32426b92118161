// NEON activation quantizers and element-wise kernels (base AArch64, one build for both NEON sets). The
// quantizers give the scalar reference's bytes: the same products, and vcvtnq rounds half to even like
// nearbyint and nearest_int. SwiGLU, GEGLU and soft-capping are vec8_math_impl.h's, on two float32x4_t.
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "ops/activation_quant.h"
#include "ops/basic_ops.h"
#include "ops/cpu/kernel_parts.h"
#include "ops/cpu/neon/vec8_neon.h"
#include "quant/block_layouts.h"
#include "ops/cpu/vec8_math_impl.h"

namespace cria::ops {

namespace {

// Sixteen int32 (each within int8 after saturation) to 16 int8 in element order.
void store_int8x16(const int32x4_t q[4], uint8_t* out) {
  const int16x8_t lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
  const int16x8_t hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
  vst1q_s8(reinterpret_cast<int8_t*>(out), vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
}

template <bool kWithSum>
void quantize_q8(const float* x, void* out, int64_t n) {
  using Block = Q8Block<kWithSum>;
  auto* blocks = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + b * 32;
    uint8_t* block = blocks + b * Block::kBytes;
    float32x4_t f[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int i = 0; i < 8; ++i) {
      f[i] = vld1q_f32(v + 4 * i);
      m = vmaxq_f32(m, vabsq_f32(f[i]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float32x4_t id = vdupq_n_f32(amax != 0.0f ? 127.0f / amax : 0.0f);
    int32x4_t q[8];
    int32x4_t sum = vdupq_n_s32(0);
    for (int i = 0; i < 8; ++i) {
      q[i] = vcvtnq_s32_f32(vmulq_f32(f[i], id));
      sum = vaddq_s32(sum, q[i]);
    }
    store_int8x16(q, block + Block::kQuants);
    store_int8x16(q + 4, block + Block::kQuants + 16);
    Block::write_scales(block, d, vaddvq_s32(sum));
  }
}

// Q8_K: the scale from the first element of largest magnitude, with its sign; quants clamped to 127.
void quantize_q8_k(const float* x, void* out, int64_t n) {
  using Q8K = block::Q8_K;
  constexpr size_t kBytes = Q8K::kBytes, kQs = Q8K::qs, kSums = Q8K::bsums;
  auto* block = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < n / 256; ++b, block += kBytes, x += 256) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int i = 0; i < 256; i += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + i)));
    const float amax = vmaxvq_f32(m);
    if (amax == 0.0f) {
      std::memset(block, 0, kBytes);
      continue;
    }
    float max = 0.0f;
    for (int i = 0; i < 256; ++i) {
      if (std::fabs(x[i]) == amax) {
        max = x[i];
        break;
      }
    }
    const float32x4_t iscale = vdupq_n_f32(-127.0f / max);
    const int32x4_t top = vdupq_n_s32(127);
    for (int i = 0; i < 256; i += 16) {
      int32x4_t q[4];
      for (int k = 0; k < 4; ++k) q[k] = vminq_s32(vcvtnq_s32_f32(vmulq_f32(iscale, vld1q_f32(x + i + 4 * k))), top);
      store_int8x16(q, block + kQs + i);
      const auto s = static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
      std::memcpy(block + kSums + 2 * (i / 16), &s, 2);
    }
    const float d = 1.0f / (-127.0f / max);
    std::memcpy(block, &d, 4);
  }
}

}  // namespace

QuantizeActivationFn neon_activation_quantizer(TensorType vec_dot_type) {
  switch (vec_dot_type) {
    case TensorType::Q8_0: return quantize_q8<false>;
    case TensorType::Q8_1: return quantize_q8<true>;
    case TensorType::Q8_K: return quantize_q8_k;
    default: return nullptr;
  }
}

SwigluFn neon_swiglu() { return vec8::swiglu<neon::Vec8>; }
GegluFn neon_geglu() { return vec8::geglu<neon::Vec8>; }
SoftcapFn neon_softcap() { return vec8::softcap<neon::Vec8>; }

}  // namespace cria::ops
