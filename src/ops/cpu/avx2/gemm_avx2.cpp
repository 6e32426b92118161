// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; used only when the CPU has them).
#define CRIA_X86_NAMESPACE avx2
#include "ops/cpu/flash_attention_impl.h"
#include "ops/cpu/x86/activation_quant_x86_impl.h"
#include "ops/cpu/x86/attention_x86_impl.h"
#include "ops/cpu/x86/gemm_x86_impl.h"

namespace cria::ops {
GemmFn avx2_gemm(TensorType type) { return avx2::table(type); }
AttentionFn avx2_attention() { return avx2::attention; }
FlashAttentionFn avx2_flash_attention() { return flash::attention_job<avx2::Vec8>; }
QuantizeActivationFn avx2_activation_quantizer(TensorType type) { return avx2::activation_quantizer(type); }
ElementwiseKernels avx2_elementwise() {
  return {vec8::swiglu<avx2::Vec8>, vec8::geglu<avx2::Vec8>, vec8::softcap<avx2::Vec8>};
}
}  // namespace cria::ops
