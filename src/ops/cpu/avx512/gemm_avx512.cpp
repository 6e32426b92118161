// AVX-512 (F, BW, VL, DQ) with VNNI kernels: the shared x86 kernels with vpdpbusd for the int8 dot
// products and larger tiles in the 32 vector registers.
#define CRIA_X86_NAMESPACE avx512
#define CRIA_X86_VNNI 1
#include "ops/cpu/flash_attention_impl.h"
#include "ops/cpu/x86/activation_quant_x86_impl.h"
#include "ops/cpu/x86/attention_x86_impl.h"
#include "ops/cpu/x86/gemm_x86_impl.h"

namespace cria::ops {
GemmFn avx512_gemm(TensorType type) { return avx512::table(type); }
AttentionFn avx512_attention() { return avx512::attention; }
FlashAttentionFn avx512_flash_attention() { return flash::attention_job<avx512::Vec8>; }
QuantizeActivationFn avx512_activation_quantizer(TensorType type) { return avx512::activation_quantizer(type); }
ElementwiseKernels avx512_elementwise() {
  return {vec8::swiglu<avx512::Vec8>, vec8::geglu<avx512::Vec8>, vec8::softcap<avx512::Vec8>};
}
}  // namespace cria::ops
