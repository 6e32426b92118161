// NEON kernels with the dot-product extension (sdot), compiled with -march=armv8.2-a+dotprod and used
// only when the CPU reports HWCAP_ASIMDDP (ops/kernels.cpp). Only the GEMMs differ from the plain NEON
// set; every other family falls back to it.
#define CRIA_NEON_NAMESPACE neondot
#define CRIA_NEON_DOTPROD 1
#include "ops/cpu/neon/gemm_neon_impl.h"
#include "ops/kernel_set.h"

namespace cria::ops {
const KernelSet& neondot_kernels() {
  static const KernelSet set{.gemm = neondot::table};
  return set;
}
}  // namespace cria::ops
