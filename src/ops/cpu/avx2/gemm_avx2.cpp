// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; used only when the CPU has them).
#define CRIA_X86_NAMESPACE avx2
#include "ops/cpu/x86/attention_x86_impl.h"
#include "ops/cpu/x86/gemm_x86_impl.h"

namespace cria::ops {
GemmFn avx2_gemm(TensorType type) { return avx2::table(type); }
AttentionFn avx2_attention() { return avx2::attention; }
}  // namespace cria::ops
