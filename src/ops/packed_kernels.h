// Weights repacked at load into a kernel-friendly layout: groups of `rows` consecutive rows whose blocks
// are interleaved, so that one 512-bit load brings the same block of several rows and the activation
// block is loaded once for all of them. Used where it measurably pays (docs/PERF.md); every other
// (instruction set, type) pair runs the row-major kernels of kernels.h on the file's bytes in place.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/kernels.h"

namespace cria::ops {

struct PackedKernel {
  int rows;                                   // rows per group
  size_t (*group_bytes)(int64_t n);           // bytes of one group of rows of n elements
  // Packs `rows` rows (row-major, src_row_bytes apart) into one group.
  void (*pack)(int64_t n, const uint8_t* src, size_t src_row_bytes, uint8_t* group);
  // The GEMM over packed groups: `w` points at the first group, `w_row_bytes` is the group size and
  // n_rows a multiple of `rows`; the rest as GemmFn.
  GemmFn gemm;
};

// nullptr where no packed kernel exists, or when repacking is off.
const PackedKernel* packed_kernel(Isa isa, TensorType type);

// Whether Matrix::make repacks: on unless CRIA_REPACK=0. Switchable so that one process can load a model
// both ways and compare (tests, A/B measurements); matrices already made keep their layout.
bool repacking_enabled();
void set_repacking(bool enabled);

}  // namespace cria::ops
