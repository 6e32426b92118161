// Scalar attention: the reference for the SIMD versions.
#include <algorithm>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"

namespace cria::ops {

namespace {
void attention(const float* q, const uint16_t* k, const uint16_t* v, size_t kv_stride, int n_keys, int head_dim,
               float scale, float* scores, float* out) {
  float q16[kMaxHeadDim];
  if (head_dim <= 0 || head_dim > kMaxHeadDim) return;  // the model loader refuses such shapes
  for (int d = 0; d < head_dim; ++d) q16[d] = fp16_to_fp32_fast(fp32_to_fp16(q[d]));
  for (int j = 0; j < n_keys; ++j) {
    const uint16_t* kj = k + static_cast<size_t>(j) * kv_stride;
    float dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += q16[d] * fp16_to_fp32_fast(kj[d]);
    scores[j] = dot * scale;
  }
  softmax(scores, n_keys);
  std::fill(out, out + head_dim, 0.0f);
  for (int j = 0; j < n_keys; ++j) {
    const float p = fp16_to_fp32_fast(fp32_to_fp16(scores[j]));
    const uint16_t* vj = v + static_cast<size_t>(j) * kv_stride;
    for (int d = 0; d < head_dim; ++d) out[d] += p * fp16_to_fp32_fast(vj[d]);
  }
}
}  // namespace

AttentionFn scalar_attention() { return attention; }

}  // namespace cria::ops
