// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; used only when the CPU has them).
#define CRIA_X86_NAMESPACE avx2
#include "ops/cpu/flash_attention_impl.h"
#include "ops/cpu/vec8_math_impl.h"
#include "ops/cpu/x86/activation_quant_x86_impl.h"
#include "ops/cpu/x86/attention_x86_impl.h"
#include "ops/cpu/x86/gemm_x86_impl.h"
#include "ops/kernel_set.h"

namespace cria::ops {
const KernelSet& avx2_kernels() {
  static const KernelSet set{
      .gemm = avx2::table,
      .quantize_activation = avx2::activation_quantizer,
      .attention = avx2::attention,
      .flash_attention = flash::attention_job<avx2::Vec8>,
      .kv_row = kv::row_to_f32<avx2::Vec8>,
      .swiglu = vec8::swiglu<avx2::Vec8>,
      .geglu = vec8::geglu<avx2::Vec8>,
      .softcap = vec8::softcap<avx2::Vec8>,
  };
  return set;
}
}  // namespace cria::ops
