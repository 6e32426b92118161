#include "ops/kernels.h"

#include <cstdlib>
#include <cstring>

namespace cria::ops {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(__x86_64__)
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::Avx512:
      return isa_available(Isa::Avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
    default: return false;
#endif
  }
  return false;
}

Isa selected_isa() {
  static const Isa chosen = [] {
    if (const char* env = std::getenv("CRIA_ISA"); env != nullptr && *env != '\0') {
      for (int i = 0; i < kIsaCount; ++i) {
        const Isa isa = static_cast<Isa>(i);
        if (isa_name(isa) == env && isa_available(isa)) return isa;
      }
    }
    for (int i = kIsaCount - 1; i >= 0; --i) {
      if (isa_available(static_cast<Isa>(i))) return static_cast<Isa>(i);
    }
    return Isa::Scalar;
  }();
  return chosen;
}

GemmFn gemm_kernel(Isa isa, TensorType type) {
  switch (isa) {
    case Isa::Scalar: return scalar_gemm(type);
#if defined(__x86_64__)
    case Isa::Avx2: return avx2_gemm(type);
    case Isa::Avx512: return avx512_gemm(type);
#else
    default: return nullptr;
#endif
  }
  return nullptr;
}

GemmFn best_gemm_kernel(Isa isa, TensorType type) {
  for (int i = static_cast<int>(isa); i >= 0; --i) {
    if (!isa_available(static_cast<Isa>(i))) continue;
    if (GemmFn fn = gemm_kernel(static_cast<Isa>(i), type)) return fn;
  }
  return nullptr;
}

}  // namespace cria::ops
