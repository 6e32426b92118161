// NEON kernels with the dot-product extension (sdot), compiled with -march=armv8.2-a+dotprod and used
// only when the CPU reports HWCAP_ASIMDDP (ops/kernels.cpp).
#define CRIA_NEON_NAMESPACE neondot
#define CRIA_NEON_DOTPROD 1
#include "ops/cpu/neon/gemm_neon_impl.h"

namespace cria::ops {
GemmFn neondot_gemm(TensorType type) { return neondot::table(type); }
}  // namespace cria::ops
