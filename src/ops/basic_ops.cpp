#include "ops/basic_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fp16.h"
#include "ops/kernel_set.h"

namespace cria::ops {

void rmsnorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

void softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float e = (x[i] == -std::numeric_limits<float>::infinity()) ? 0.0f : std::exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = (g / (1.0f + std::exp(-g))) * up[i];
  }
}

namespace {

float gelu_tanh(float v) {
  return 0.5f * v * (1.0f + std::tanh(0.79788456080286535587989211986876f * v * (1.0f + 0.044715f * v * v)));
}

struct GeluTable {
  float values[65536];
  GeluTable() {
    for (uint32_t h = 0; h < 65536; ++h) {
      values[h] = fp16_to_fp32(fp32_to_fp16(gelu_tanh(fp16_to_fp32(static_cast<uint16_t>(h)))));
    }
  }
};

}  // namespace

const float* gelu_f16_table() {
  static const GeluTable table;
  return table.values;
}

float gelu(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return gelu_f16_table()[fp32_to_fp16(x)];
}

void geglu(const float* gate, const float* up, float* out, int64_t n) {
  const float* table = gelu_f16_table();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g <= -10.0f ? 0.0f : (g >= 10.0f ? g : table[fp32_to_fp16(g)]) * up[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

SwigluFn swiglu_kernel(Isa isa) {
  return best_kernel(isa, [](const KernelSet& set) { return set.swiglu; });
}
GegluFn geglu_kernel(Isa isa) {
  return best_kernel(isa, [](const KernelSet& set) { return set.geglu; });
}
SoftcapFn softcap_kernel(Isa isa) {
  return best_kernel(isa, [](const KernelSet& set) { return set.softcap; });
}

void rope_cos_sin(const RopeConfig& cfg, int64_t position, float* cos_out, float* sin_out) {
  const float theta_scale = std::pow(cfg.freq_base, -2.0f / static_cast<float>(cfg.n_rot));
  float theta = static_cast<float>(position);
  for (int i = 0; i < cfg.n_rot / 2; ++i) {
    const float factor = cfg.freq_factors != nullptr ? cfg.freq_factors[i] : 1.0f;
    const float angle = cfg.freq_scale * (theta / factor);
    cos_out[i] = std::cos(angle) * cfg.attn_factor;
    sin_out[i] = std::sin(angle) * cfg.attn_factor;
    theta *= theta_scale;
  }
}

namespace {

// Rotates the pairs (v[i * step], v[i * step + offset]) of each head vector v by cos_v[i], sin_v[i].
void rotate_pairs(float* x, int n_heads, int head_dim, int n_rot, int step, int offset, const float* cos_v,
                  const float* sin_v) {
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int i = 0; i < n_rot / 2; ++i) {
      const float a = v[i * step], b = v[i * step + offset];
      v[i * step] = a * cos_v[i] - b * sin_v[i];
      v[i * step + offset] = a * sin_v[i] + b * cos_v[i];
    }
  }
}

}  // namespace

void rope_norm(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v) {
  rotate_pairs(x, n_heads, head_dim, n_rot, 2, 1, cos_v, sin_v);
}

void rope_neox(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v) {
  rotate_pairs(x, n_heads, head_dim, n_rot, 1, n_rot / 2, cos_v, sin_v);
}

}  // namespace cria::ops
