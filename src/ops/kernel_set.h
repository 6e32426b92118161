// The kernels of one instruction set, as one table: each set's folder ops/cpu/<isa>/ fills a KernelSet
// (kernels_<isa>.cpp), and kernel_set() in kernels.cpp is the one place that maps an Isa to its table.
// A member left empty means "this set has none": every family falls back to the best available set
// below (AVX-512 -> AVX2 -> scalar, NEON dotprod -> NEON -> scalar), ending at the scalar references.
#pragma once

#include "ops/activation_quant.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/kernels.h"
#include "ops/packed_kernels.h"

namespace cria::ops {

struct KernelSet {
  GemmFn (*gemm)(TensorType type) = nullptr;                   // nullptr per type where the set has none
  const PackedKernel* (*packed)(TensorType type) = nullptr;    // repacked layouts, where they pay
  QuantizeActivationFn (*quantize_activation)(TensorType vec_dot_type) = nullptr;
  AttentionFn attention = nullptr;
  FlashAttentionFn flash_attention = nullptr;
  KvRowFn kv_row = nullptr;
  SwigluFn swiglu = nullptr;
  GegluFn geglu = nullptr;
  SoftcapFn softcap = nullptr;
};

// The table of exactly this set; nullptr where this build does not contain it.
const KernelSet* kernel_set(Isa isa);

// The first non-empty get(set) from `isa` down through the sets this CPU runs; empty if none has one.
template <class Get>
auto best_kernel(Isa isa, Get get) -> decltype(get(KernelSet{})) {
  for (int i = static_cast<int>(isa); i >= 0; --i) {
    const Isa candidate = static_cast<Isa>(i);
    if (!isa_available(candidate)) continue;
    const KernelSet* set = kernel_set(candidate);
    if (set == nullptr) continue;
    if (auto kernel = get(*set)) return kernel;
  }
  return {};
}

// The tables, one per set (defined in ops/cpu/<isa>/kernels_<isa>.cpp).
const KernelSet& scalar_kernels();
const KernelSet& avx2_kernels();
const KernelSet& avx512_kernels();
const KernelSet& neon_kernels();
const KernelSet& neondot_kernels();

}  // namespace cria::ops
