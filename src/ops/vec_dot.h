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

// A 256-element super-block unpacked to small integers: x(e) = d * scale[e / sub_size] * q[e]
// - dmin * min[e / sub_size]. Every type that pairs with Q8_K unpacks to this; the SIMD kernels use it
// for the types whose layouts they do not decode themselves.
struct SuperBlockInts {
  int8_t q[256];      // quants, signed where the type is symmetric
  int sub_size;       // 16 or 32 elements per sub-block
  int16_t scale[16];  // integer sub-block scales
  int16_t min[16];    // integer sub-block mins (subtracted); 0 for symmetric types
  float d;            // super-block scale
  float dmin;         // super-block min scale
};
using UnpackSuperBlockFn = void (*)(const uint8_t* block, SuperBlockInts& out);
UnpackSuperBlockFn scalar_unpack_super_block(TensorType weight_type);

}  // namespace cria::ops
