// Plain AArch64 NEON kernels (every AArch64 CPU has them): int8 dot products by widening multiplies.
#define CRIA_NEON_NAMESPACE neon
#include "ops/cpu/neon/gemm_neon_impl.h"

namespace cria::ops {
GemmFn neon_gemm(TensorType type) { return neon::table(type); }
}  // namespace cria::ops
