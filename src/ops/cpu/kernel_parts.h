// Parts of an instruction set's KernelSet (ops/kernel_set.h) that live in another file of its folder
// than the one assembling the table (kernels_<isa>.cpp). Nothing outside ops/cpu includes this.
#pragma once

#include "ops/kernel_set.h"

namespace cria::ops {

// scalar/attention_scalar.cpp
AttentionFn scalar_attention();
FlashAttentionFn scalar_flash_attention();
KvRowFn scalar_kv_row();

// avx512/packed_blocks32_avx512.cpp, packed_q4_k_avx512.cpp (the K-quant part of the same table)
const PackedKernel* avx512_packed_kernel(TensorType type);
const PackedKernel* avx512_packed_kquant(TensorType type);

// neon/attention_neon.cpp, neon/elementwise_neon.cpp: base AArch64, shared by both NEON sets
AttentionFn neon_attention();
FlashAttentionFn neon_flash_attention();
KvRowFn neon_kv_row();
QuantizeActivationFn neon_activation_quantizer(TensorType vec_dot_type);
SwigluFn neon_swiglu();
GegluFn neon_geglu();
SoftcapFn neon_softcap();

}  // namespace cria::ops
