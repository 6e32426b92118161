#include "ops/packed_kernels.h"

#include <cstdlib>
#include <cstring>

namespace cria::ops {

const PackedKernel* packed_kernel(Isa isa, TensorType type) {
  static const bool enabled = [] {
    const char* env = std::getenv("CRIA_REPACK");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  if (!enabled) return nullptr;
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == Isa::Avx512) return avx512_packed_kernel(type);
#endif
  (void)isa;
  (void)type;
  return nullptr;
}

}  // namespace cria::ops
