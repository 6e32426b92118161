// Vector math written once against the 8-lane vector types of ops/cpu (x86: Vec8 in
// x86/attention_x86_impl.h; NEON: neon/vec8_neon.h; scalar: Lanes8): exp (the attention softmax's and
// SwiGLU's), tanh (soft-capping's), SwiGLU, GEGLU and soft-capping. Templates only, so each instruction
// set's build gets its own code.
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/basic_ops.h"

namespace cria::ops::vec8 {

// e^x for x in [-87.3, 88] (callers clamp): Cody-Waite range reduction and a degree-7 polynomial
// (relative error ~1e-7).
template <class V>
typename V::T exp_clamped(typename V::T x) {
  using T = typename V::T;
  const T n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  T r = V::fma(n, V::set1(-0.693145751953125f), x);  // ln 2 split into an exact high part ...
  r = V::fma(n, V::set1(-1.428606765330187045e-6f), r);  // ... and the rest
  T p = V::set1(1.0f / 5040);
  p = V::fma(p, r, V::set1(1.0f / 720));
  p = V::fma(p, r, V::set1(1.0f / 120));
  p = V::fma(p, r, V::set1(1.0f / 24));
  p = V::fma(p, r, V::set1(1.0f / 6));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(p, r, V::set1(1.0f));
  p = V::fma(p, r, V::set1(1.0f));
  return V::mul(p, V::pow2i(n));
}

// e^x for x <= 0; anything below -87.3, where e^x leaves the normal floats, gives 0.
template <class V>
typename V::T exp_nonpositive(typename V::T x) {
  const typename V::T floor = V::set1(-87.3f);
  return V::select_ge(x, floor, exp_clamped<V>(V::max(x, floor)), V::zero());
}

// out[i] = silu(gate[i]) * up[i] = gate[i] / (1 + e^-gate[i]) * up[i], with -gate clamped to [-87, 88].
template <class V>
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  using T = typename V::T;
  const T lo = V::set1(-87.0f), hi = V::set1(88.0f), one = V::set1(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const T g = V::load(gate + i);
    const T minus_g = V::max(V::sub(V::zero(), g), lo);
    const T e = exp_clamped<V>(V::select_ge(minus_g, hi, hi, minus_g));
    V::store(out + i, V::mul(V::div(g, V::add(one, e)), V::load(up + i)));
  }
  for (; i < n; ++i) out[i] = (gate[i] / (1.0f + std::exp(-gate[i]))) * up[i];
}

// tanh(x) with a relative error below 1.5e-7 (glibc's tanhf: 1.7e-7), so within 2 ulp of std::tanh:
// below |x| = 0.625, x + x^3 * Q(x^2) with a minimax Q; above, sign(x) * (1 - 2 / (e^(2|x|) + 1)), with
// e^(2|x|) clamped at e^80 (tanh is 1 in float from |x| ~ 9). Keeps -0 and NaN.
template <class V>
typename V::T tanh(typename V::T x) {
  using T = typename V::T;
  const T one = V::set1(1.0f), limit = V::set1(80.0f);
  const T x2 = V::mul(x, x);
  T q = V::set1(-0.005659989081323147f);
  q = V::fma(q, x2, V::set1(0.02059098891913891f));
  q = V::fma(q, x2, V::set1(-0.05372106656432152f));
  q = V::fma(q, x2, V::set1(0.13331127166748047f));
  q = V::fma(q, x2, V::set1(-0.3333325982093811f));
  // x + x^3 q rounds once at the end; below |x| = 2^-12, where tanh(x) rounds to x, x itself (-0 stays).
  const T ax = V::max(x, V::sub(V::zero(), x));
  const T small = V::select_ge(ax, V::set1(0x1p-12f), V::fma(V::mul(x, x2), q, x), x);
  const T ax2 = V::add(ax, ax);
  const T e = exp_clamped<V>(V::select_ge(limit, ax2, ax2, limit));  // NaN goes in as 80
  const T t = V::sub(one, V::div(V::set1(2.0f), V::add(e, one)));
  const T large = V::select_ge(x, V::zero(), t, V::sub(V::zero(), t));
  return V::select_ge(x, x, V::select_ge(ax, V::set1(0.625f), large, small), x);
}

// x[i] = tanh(x[i] * (1 / cap)) * cap.
template <class V>
void softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  const typename V::T vinv = V::set1(inv), vcap = V::set1(cap);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) V::store(x + i, V::mul(tanh<V>(V::mul(V::load(x + i), vinv)), vcap));
  if (i < n) ops::softcap(x + i, n - i, cap);
}

// out[i] = gelu(gate[i]) * up[i] bit for bit as ops::geglu: V::lookup_f16 rounds to f16 (nearest even, as
// fp32_to_fp16) and reads the table at those bits.
template <class V>
void geglu(const float* gate, const float* up, float* out, int64_t n) {
  using T = typename V::T;
  const float* table = gelu_f16_table();
  const T lo = V::set1(-10.0f), hi = V::set1(10.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const T g = V::load(gate + i);
    const T act = V::select_ge(g, hi, g, V::lookup_f16(table, g));
    V::store(out + i, V::select_ge(lo, g, V::zero(), V::mul(act, V::load(up + i))));
  }
  if (i < n) ops::geglu(gate + i, up + i, out + i, n - i);
}

}  // namespace cria::ops::vec8
