#include "ops/attention.h"

namespace cria::ops {

AttentionFn attention_kernel(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512 && isa_available(Isa::Avx512)) return avx512_attention();
  if ((isa == Isa::Avx512 || isa == Isa::Avx2) && isa_available(Isa::Avx2)) return avx2_attention();
#elif defined(__aarch64__)
  if (isa == Isa::Neon || isa == Isa::NeonDot) return neon_attention();
#endif
  return scalar_attention();
}

}  // namespace cria::ops
