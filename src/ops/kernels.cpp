#include "ops/kernels.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "ops/kernel_set.h"

namespace cria::ops {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
    case Isa::NeonDot: return "neondot";
  }
  return "?";
}

#if defined(__x86_64__)
namespace {
// CPU features from CPUID, and whether the OS saves the vector registers (XGETBV): what the kernels of
// each set need. (Read directly: compilers differ in which names __builtin_cpu_supports accepts.)
struct X86Features {
  bool avx2_fma_f16c = false;
  bool avx512_bw_vl_dq_vnni = false;
};

X86Features detect_x86() {
  X86Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_saved = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_saved = (xcr0_lo & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  const bool vnni = c & (1u << 11);
  f.avx2_fma_f16c = ymm_saved && avx2 && fma && f16c;
  f.avx512_bw_vl_dq_vnni = f.avx2_fma_f16c && zmm_saved && avx512f && avx512dq && avx512bw && avx512vl && vnni;
  return f;
}

const X86Features& x86_features() {
  static const X86Features features = detect_x86();
  return features;
}
}  // namespace
#endif

bool isa_available(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
#if defined(__x86_64__)
    case Isa::Avx2: return x86_features().avx2_fma_f16c;
    case Isa::Avx512: return x86_features().avx512_bw_vl_dq_vnni;
    default: return false;
#elif defined(__aarch64__)
    case Isa::Neon: return true;  // Advanced SIMD is part of every AArch64 CPU
    case Isa::NeonDot: return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
    default: return false;
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

// The one place that maps an instruction set to its table: a build holds only its architecture's sets.
const KernelSet* kernel_set(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return &scalar_kernels();
#if defined(__x86_64__)
    case Isa::Avx2: return &avx2_kernels();
    case Isa::Avx512: return &avx512_kernels();
#elif defined(__aarch64__)
    case Isa::Neon: return &neon_kernels();
    case Isa::NeonDot: return &neondot_kernels();
#endif
    default: return nullptr;
  }
}

GemmFn gemm_kernel(Isa isa, TensorType type) {
  const KernelSet* set = kernel_set(isa);
  return set != nullptr && set->gemm != nullptr ? set->gemm(type) : nullptr;
}

GemmFn best_gemm_kernel(Isa isa, TensorType type) {
  return best_kernel(isa, [type](const KernelSet& set) { return set.gemm != nullptr ? set.gemm(type) : nullptr; });
}

}  // namespace cria::ops
