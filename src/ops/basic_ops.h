// Element-wise and row-wise operations of the forward pass, in llama.cpp's CPU numerics where that
// matters for matching its outputs (sums of squares and softmax sums in double).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/kernels.h"

namespace cria::ops {

// out = x / sqrt(mean(x^2) + eps) * weight, over n values.
void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps);

// In-place softmax over n values; returns nothing, the values become probabilities.
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i]; the scalar reference.
void swiglu(const float* gate, const float* up, float* out, int64_t n);
// The same on an instruction set's vectors where it has them (exp to within a few ulp), else the reference.
using SwigluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
SwigluFn swiglu_kernel(Isa isa);

// GELU (tanh form) as llama.cpp's CPU backend computes it (GGML_GELU_FP16): 0 for x <= -10, x for
// x >= 10, otherwise x rounded to f16 (nearest even) looks up a table of every f16 value h holding
// f16(0.5f*v*(1.0f + tanhf(sqrt(2/pi)*v*(1.0f + 0.044715f*v*v)))), v = f32(h), all in float.
float gelu(float x);
// That table as f32, indexed by the f16's bits (65536 values, built once on first use).
const float* gelu_f16_table();
// out[i] = gelu(gate[i]) * up[i], as ggml_vec_geglu_f32: gate <= -10 gives +0 whatever up is; the
// scalar reference.
void geglu(const float* gate, const float* up, float* out, int64_t n);
// The same on an instruction set's vectors where it has them, bit for bit, else the reference.
using GegluFn = void (*)(const float* gate, const float* up, float* out, int64_t n);
GegluFn geglu_kernel(Isa isa);

// Soft-capping (Gemma 2's final logits): x[i] = tanhf(x[i] * (1.0f / cap)) * cap, in that order of
// roundings (llama.cpp's scale, tanh, scale); the scalar reference, with std::tanh.
void softcap(float* x, int64_t n, float cap);
// The same on an instruction set's vectors where it has them (tanh to within ~2 ulp), else the reference.
using SoftcapFn = void (*)(float* x, int64_t n, float cap);
SoftcapFn softcap_kernel(Isa isa);

// Rotary embedding tables for one position: cos and sin for each of n_rot/2 pairs (FORMATS.md 5.4).
struct RopeConfig {
  int n_rot = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;
  float attn_factor = 1.0f;
  const float* freq_factors = nullptr;  // optional per-pair divisors (Llama 3.1 rope_freqs), n_rot/2 values
};
void rope_cos_sin(const RopeConfig& cfg, int64_t position, float* cos_out, float* sin_out);

// Rotates adjacent pairs (NORM mode, llama) of each of n_heads head vectors of head_dim values.
void rope_norm(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v);
// Rotates dimension i with dimension i + n_rot/2 (NEOX mode: Qwen, Gemma, Phi-3), pair i by cos_v[i] and
// sin_v[i] in rope_norm's arithmetic; dimensions n_rot .. head_dim - 1 are left as they are.
void rope_neox(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v);
using RopeFn = void (*)(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v);

}  // namespace cria::ops
