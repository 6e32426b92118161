// Dot products of one weight row with one activation row, in llama.cpp's numerics (FORMATS.md section 4):
// the activations are first quantized to the weight type's vec_dot_type (type table), then each block
// contributes an integer dot product times its scales. These scalar kernels are the reference that the
// SIMD kernels are checked against.
#pragma once

#include <cstdint>

#include "quant/type_table.h"

namespace cria::ops {

// n: elements in the row (a multiple of the block size); w: weight blocks; x: activation blocks in the
// weight type's vec_dot_type.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);

// nullptr when the type has no dot product yet (the caller reports "not supported yet").
VecDotFn scalar_vec_dot(TensorType weight_type);

}  // namespace cria::ops
