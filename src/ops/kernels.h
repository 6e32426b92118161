// Instruction sets and the GEMM kernels: for each set and weight type, the GEMM (many rows, many tokens)
// of a weight matrix with activations already quantized to the weight type's vec_dot_type. The set is
// chosen once at run time from the CPU (CRIA_ISA=scalar|avx2|avx512|neon|neondot overrides it); a type
// without a kernel on that set falls back to the next one down, ending at the scalar reference, which
// exists for every type that runs. Every kernel family is looked up through ops/kernel_set.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ops/vec_dot.h"
#include "quant/type_table.h"

namespace cria::ops {

// out[t * out_stride + r] = dot(row r of w, row t of x) for r < n_rows, t < n_tokens.
// w: n_rows rows of w_row_bytes; x: n_tokens rows of x_row_bytes; n: elements per row.
using GemmFn = void (*)(int64_t n, const uint8_t* w, size_t w_row_bytes, int64_t n_rows, const uint8_t* x,
                        size_t x_row_bytes, int64_t n_tokens, float* out, int64_t out_stride);

// Sets of one architecture are ordered worst to best; a build has only its own architecture's sets.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3, NeonDot = 4 };
constexpr int kIsaCount = 5;
std::string_view isa_name(Isa isa);

// What this CPU supports (and the build contains), best first.
bool isa_available(Isa isa);
// The set used by default: the best available, or CRIA_ISA when set and available.
Isa selected_isa();

// Kernels of exactly this set for this type; nullptr when that set has none for the type.
GemmFn gemm_kernel(Isa isa, TensorType type);
// The kernel used for `type` when running on `isa`: the best available at or below it.
GemmFn best_gemm_kernel(Isa isa, TensorType type);

// The scalar reference GEMM of a type (ops/cpu/scalar), which the conformance tests compare with.
GemmFn scalar_gemm(TensorType type);

}  // namespace cria::ops
