// Scalar attention: the reference for the SIMD versions.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/cpu/flash_attention_impl.h"
#include "ops/cpu/kernel_parts.h"

namespace cria::ops {

namespace {
void attention(const float* q, const uint16_t* k, const uint16_t* v, const int32_t* cells, size_t kv_stride, int n_keys, int head_dim,
               float scale, float cap, float* scores, float* out) {
  float q16[kMaxHeadDim];
  if (head_dim <= 0 || head_dim > kMaxHeadDim) return;  // the model loader refuses such shapes
  for (int d = 0; d < head_dim; ++d) q16[d] = fp16_to_fp32_fast(fp32_to_fp16(q[d]));
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(cells[j]) * kv_stride;
    float dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += q16[d] * fp16_to_fp32_fast(kj[d]);
    scores[j] = dot * scale;
  }
  if (cap > 0.0f) softcap(scores, n_keys, cap);
  softmax(scores, n_keys);
  std::fill(out, out + head_dim, 0.0f);
  for (int j = 0; j < n_keys; ++j) {
    const float p = fp16_to_fp32_fast(fp32_to_fp16(scores[j]));
    const uint16_t* vj = v + static_cast<size_t>(cells[j]) * kv_stride;
    for (int d = 0; d < head_dim; ++d) out[d] += p * fp16_to_fp32_fast(vj[d]);
  }
}
// Eight floats as the flash kernel's vector: plain loops (the compiler may vectorise them for the
// baseline instruction set).
struct Lanes8 {
  struct T {
    float v[8];
  };
  static constexpr int kBlock = 4;
  template <class F>
  static T map(F f) {
    T r;
    for (int i = 0; i < 8; ++i) r.v[i] = f(i);
    return r;
  }
  static T zero() { return set1(0.0f); }
  static T set1(float x) {
    return map([x](int) { return x; });
  }
  static T load(const float* p) {
    T r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static void store(float* p, T a) { std::memcpy(p, a.v, sizeof a.v); }
  static T add(T a, T b) {
    return map([&](int i) { return a.v[i] + b.v[i]; });
  }
  static T sub(T a, T b) {
    return map([&](int i) { return a.v[i] - b.v[i]; });
  }
  static T mul(T a, T b) {
    return map([&](int i) { return a.v[i] * b.v[i]; });
  }
  static T div(T a, T b) {
    return map([&](int i) { return a.v[i] / b.v[i]; });
  }
  static T round_f16(T a) {
    return map([&](int i) { return fp16_to_fp32_fast(fp32_to_fp16(a.v[i])); });
  }
  static T max(T a, T b) {
    return map([&](int i) { return std::max(a.v[i], b.v[i]); });
  }
  static T fma(T a, T b, T c) {
    return map([&](int i) { return a.v[i] * b.v[i] + c.v[i]; });
  }
  static T round(T a) {
    return map([&](int i) { return std::nearbyint(a.v[i]); });
  }
  // Lanes that the caller discards (keys past the end) may hold any value, NaN included: they are
  // clamped before the conversion to int, which would be undefined for them.
  static T pow2i(T n) {
    return map([&](int i) {
      return std::ldexp(1.0f, static_cast<int>(std::fmin(std::fmax(n.v[i], -150.0f), 150.0f)));
    });
  }
  static T select_ge(T a, T b, T x, T y) {
    return map([&](int i) { return a.v[i] >= b.v[i] ? x.v[i] : y.v[i]; });
  }
  static T from_i8(const int8_t* p) {
    return map([p](int i) { return static_cast<float>(p[i]); });
  }
  static void f16_to_f32(const uint16_t* src, float* dst, int n) {
    for (int i = 0; i < n; ++i) dst[i] = fp16_to_fp32_fast(src[i]);
  }
};

}  // namespace

AttentionFn scalar_attention() { return attention; }
FlashAttentionFn scalar_flash_attention() { return flash::attention_job<Lanes8>; }
KvRowFn scalar_kv_row() { return kv::row_to_f32<Lanes8>; }

}  // namespace cria::ops
