#include <cmath>
#include <cstring>
#include "core/fp16.h"
#include "ops/basic_ops.h"
namespace cria::ops {
void rope_neox(float* x, int n_heads, int head_dim, int n_rot, const float* cos_v, const float* sin_v) {
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int i = 0; i < n_rot / 2; ++i) {
      const float x0 = v[i], x1 = v[i + n_rot / 2];
      v[i] = x0 * cos_v[i] - x1 * sin_v[i];
      v[i + n_rot / 2] = x0 * sin_v[i] + x1 * cos_v[i];
    }
  }
}
static float gelu16(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  const float v = fp16_to_fp32(fp32_to_fp16(x));
  const float g = 0.5f * v * (1.0f + std::tanh(0.79788456080286535587989211986876f * v * (1.0f + 0.044715f * v * v)));
  return fp16_to_fp32(fp32_to_fp16(g));
}
static void geglu_s(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu16(gate[i]) * up[i];
}
GegluFn geglu_kernel(Isa) { return geglu_s; }
static void softcap_s(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * (1.0f / cap)) * cap;
}
SoftcapFn softcap_kernel(Isa) { return softcap_s; }
}
