// The one dispatch point (ops/kernel_set.h): every set this CPU runs is in the build, every family gives
// a kernel on every available set, and a member a set leaves empty is the kernel of the set below it.
#include <gtest/gtest.h>

#include "ops/kernel_set.h"

namespace cria::ops {
namespace {

// The best set below `isa` that this CPU runs (the scalar one at the bottom).
Isa set_below(Isa isa) {
  for (int i = static_cast<int>(isa) - 1; i > 0; --i) {
    if (isa_available(static_cast<Isa>(i))) return static_cast<Isa>(i);
  }
  return Isa::Scalar;
}

TEST(KernelSetDispatch, EveryAvailableSetIsBuiltAndEveryFamilyHasAKernel) {
  const KernelSet* scalar = kernel_set(Isa::Scalar);
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->gemm && scalar->quantize_activation && scalar->attention && scalar->flash_attention &&
              scalar->swiglu && scalar->geglu && scalar->softcap)
      << "the scalar set is the fallback of every family and must be complete";
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (!isa_available(isa)) continue;
    SCOPED_TRACE(std::string(isa_name(isa)));
    EXPECT_NE(kernel_set(isa), nullptr) << "the CPU has this set but the build does not";
    EXPECT_NE(attention_kernel(isa), nullptr);
    EXPECT_NE(flash_attention_kernel(isa), nullptr);
    EXPECT_NE(swiglu_kernel(isa), nullptr);
    EXPECT_NE(geglu_kernel(isa), nullptr);
    EXPECT_NE(softcap_kernel(isa), nullptr);
    for (TensorType act : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K}) {
      EXPECT_NE(activation_quantizer(isa, act), nullptr) << traits(act).name;
    }
    for (TensorType type : {TensorType::F32, TensorType::Q4_0, TensorType::Q4_K, TensorType::IQ1_M}) {
      EXPECT_NE(best_gemm_kernel(isa, type), nullptr) << traits(type).name;
    }
  }
}

TEST(KernelSetDispatch, AnEmptyMemberFallsBackToTheSetBelow) {
  int checked = 0;
  for (int i = 1; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (!isa_available(isa)) continue;
    SCOPED_TRACE(std::string(isa_name(isa)));
    const KernelSet& set = *kernel_set(isa);
    const Isa below = set_below(isa);
    EXPECT_EQ(attention_kernel(isa), set.attention ? set.attention : attention_kernel(below));
    EXPECT_EQ(flash_attention_kernel(isa), set.flash_attention ? set.flash_attention : flash_attention_kernel(below));
    EXPECT_EQ(swiglu_kernel(isa), set.swiglu ? set.swiglu : swiglu_kernel(below));
    EXPECT_EQ(geglu_kernel(isa), set.geglu ? set.geglu : geglu_kernel(below));
    EXPECT_EQ(softcap_kernel(isa), set.softcap ? set.softcap : softcap_kernel(below));
    for (int t = 0; t < 40; ++t) {
      const auto type = static_cast<TensorType>(t);
      const GemmFn own = set.gemm ? set.gemm(type) : nullptr;
      EXPECT_EQ(best_gemm_kernel(isa, type), own ? own : best_gemm_kernel(below, type)) << t;
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "this CPU has no vector set";
}

}  // namespace
}  // namespace cria::ops
