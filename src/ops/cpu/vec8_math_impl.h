// Vector math written once against the 8-lane vector types of ops/cpu (x86: Vec8 in
// x86/attention_x86_impl.h; NEON: neon/vec8_neon.h; scalar: Lanes8): exp (the attention softmax's and
// SwiGLU's) and SwiGLU. Templates only, so each instruction set's build gets its own code.
#pragma once

#include <cmath>
#include <cstdint>

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

}  // namespace cria::ops::vec8
