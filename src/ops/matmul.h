// Matrix products of a weight matrix (any tensor type, read in place from the mapped file) with a batch
// of f32 activation rows. This is the interface the forward pass uses; faster kernels plug in beneath it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "core/work_shares.h"
#include "ops/activation_quant.h"
#include "ops/kernels.h"
#include "quant/type_table.h"

namespace cria::ops {

// A weight with ne = [n_in, n_out]: row j (n_in values) produces output j.
struct Matrix {
  const TypeTraits* type = nullptr;
  int64_t n_in = 0;
  int64_t n_out = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  GemmFn gemm = nullptr;  // the kernel of the selected instruction set for this type
  QuantizeActivationFn quantize_input = nullptr;  // to the type's vec_dot_type; nullptr for f32 input
  // When the instruction set has a packed kernel for the type (ops/packed_kernels.h), `data` points into
  // `packed`: groups of rows_per_group rows, group_bytes each, and `gemm` is the packed kernel.
  int rows_per_group = 1;
  size_t group_bytes = 0;
  std::shared_ptr<const uint8_t[]> packed;  // on huge pages where possible (core/huge_pages.h)

  // Fails with "tensor type Q8_K is not supported yet" for types without a kernel. `isa` chooses the
  // instruction set (default: the one selected for this CPU). Repacks the weights when that set has a
  // packed kernel for the type and n_out fills whole groups.
  static Result<Matrix> make(TensorType type, int64_t n_in, int64_t n_out, const uint8_t* data,
                             Isa isa = selected_isa());
};

// Reused buffers, so that no call allocates once they have grown: quantized activations, input rows made
// by a RowFn (one per thread, or all of them for f32 input), and the threads' shares of the rows.
struct MatmulScratch {
  std::vector<uint8_t> activations;
  std::vector<float> rows;
  WorkShares shares;  // how the threads split the rows
};

// Input row t (n_in floats): written to buf and returned, or returned from elsewhere. Lets the operation
// before a matmul (RMSNorm, SwiGLU) run inside it: on all threads, one row at a time straight into the
// quantizer, so the batch-sized f32 array between the two is never written and read back.
using RowFn = std::function<const float*(int64_t t, float* buf)>;

// y[t * n_out + j] = dot(row j of w, x[t * n_in ...]) for t < n_tokens.
void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, MatmulScratch& scratch, ThreadPool& pool);

// Several matrices over the same input (Q, K and V; gate and up): the activations are quantized once
// and the threads split all the rows together. Matrices with different input formats run one by one.
void matmul_shared_input(std::span<const Matrix* const> ws, const float* x, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool);

// The same with input rows made by make_row (called once per row).
void matmul_shared_input(std::span<const Matrix* const> ws, const RowFn& make_row, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool);

}  // namespace cria::ops
