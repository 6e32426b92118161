// AVX-512 (F, BW, VL, DQ) with VNNI kernels: the shared x86 kernels with vpdpbusd for the int8 dot
// products and larger tiles in the 32 vector registers, and the repacked layouts (packed_*_avx512.cpp).
#define CRIA_X86_NAMESPACE avx512
#define CRIA_X86_VNNI 1
#include "ops/cpu/flash_attention_impl.h"
#include "ops/cpu/kernel_parts.h"
#include "ops/cpu/vec8_math_impl.h"
#include "ops/cpu/x86/activation_quant_x86_impl.h"
#include "ops/cpu/x86/attention_x86_impl.h"
#include "ops/cpu/x86/gemm_x86_impl.h"

namespace cria::ops {
const KernelSet& avx512_kernels() {
  static const KernelSet set{
      .gemm = avx512::table,
      .packed = avx512_packed_kernel,
      .quantize_activation = avx512::activation_quantizer,
      .attention = avx512::attention,
      .flash_attention = flash::attention_job<avx512::Vec8>,  // the same 8-lane code, 32 vector registers
      .kv_row = kv::row_to_f32<avx512::Vec8>,
      .swiglu = vec8::swiglu<avx512::Vec8>,
      .geglu = vec8::geglu<avx512::Vec8>,
      .softcap = vec8::softcap<avx512::Vec8>,
  };
  return set;
}
}  // namespace cria::ops
