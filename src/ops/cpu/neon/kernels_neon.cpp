// Plain AArch64 NEON kernels (every AArch64 CPU has them): int8 dot products by widening multiplies.
// The attention, activation quantizers and element-wise kernels are base AArch64 and serve both sets.
#define CRIA_NEON_NAMESPACE neon
#include "ops/cpu/kernel_parts.h"
#include "ops/cpu/neon/gemm_neon_impl.h"

namespace cria::ops {
const KernelSet& neon_kernels() {
  static const KernelSet set{
      .gemm = neon::table,
      .quantize_activation = neon_activation_quantizer,
      .attention = neon_attention(),
      .flash_attention = neon_flash_attention(),
      .kv_row = neon_kv_row(),
      .swiglu = neon_swiglu(),
      .geglu = neon_geglu(),
      .softcap = neon_softcap(),
  };
  return set;
}
}  // namespace cria::ops
