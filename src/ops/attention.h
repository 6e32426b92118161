// Attention of one query head over cached f16 keys and values, in llama.cpp's numerics (flash attention
// off): q rounded through f16, scores = (q . k_j) * scale, softmax with the sum in double, the
// probabilities rounded through f16, out = sum_j p_j * v_j. One kernel per instruction set.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/kernels.h"

namespace cria::ops {

// The largest head dimension the kernels take (the loader refuses larger ones; real models use <= 256).
constexpr int kMaxHeadDim = 512;

// k and v point at key/value row 0 of this head; rows are kv_stride elements apart. scores holds n_keys
// floats of scratch; out receives head_dim values.
using AttentionFn = void (*)(const float* q, const uint16_t* k, const uint16_t* v, size_t kv_stride, int n_keys,
                             int head_dim, float scale, float* scores, float* out);

AttentionFn attention_kernel(Isa isa);

AttentionFn scalar_attention();
AttentionFn avx2_attention();
AttentionFn avx512_attention();
AttentionFn neon_attention();  // the same kernel for Neon and NeonDot

}  // namespace cria::ops
