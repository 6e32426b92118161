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
  // `owned`: groups of rows_per_group rows, group_bytes each, and `gemm` is the packed kernel. After
  // copy_to_huge_pages, `owned` holds the rows as they were (groups of one row).
  int rows_per_group = 1;
  size_t group_bytes = 0;
  std::shared_ptr<const uint8_t[]> owned;  // on huge pages where possible (core/huge_pages.h)

  // Fails with "tensor type Q8_K is not supported yet" for types without a kernel. `isa` chooses the
  // instruction set (default: the one selected for this CPU). Repacks the weights when that set has a
  // packed kernel for the type and n_out fills whole groups.
  static Result<Matrix> make(TensorType type, int64_t n_in, int64_t n_out, const uint8_t* data,
                             Isa isa = selected_isa());
};

// Copies the rows of a matrix that is not repacked into memory of its own on 2 MiB pages and points `data`
// at the copy. Generation streams every weight once per token; from a file mapping's 4 KiB pages it
// paid a page walk every 4 KiB and read 10-15% slower (docs/PERF.md). Returns false, changing nothing,
// for a repacked matrix, one under 2 MiB, or when huge pages are unavailable (core/huge_pages.h).
bool copy_to_huge_pages(Matrix& m);

// Input row t (n_in floats): written to buf and returned, or returned from elsewhere. Lets the operation
// before a matmul (RMSNorm, SwiGLU) run inside it: on all threads, one row at a time straight into the
// quantizer, so the batch-sized f32 array between the two is never written and read back.
using RowFn = std::function<const float*(int64_t t, float* buf)>;

// One matrix over its own input rows (an expert over the tokens routed to it).
struct MatmulJob {
  const Matrix* w = nullptr;
  // Input row t of this job (n_in floats), as for matmul_shared_input; empty: the previous job's rows
  // (same n_in, vec_dot_type and n_tokens), prepared once for both (gate and up).
  RowFn make_row;
  int64_t n_tokens = 0;
  float* y = nullptr;  // y[t * w->n_out + j]
};

// A matrix and the prepared input rows it runs over: what the threads split (matmul.cpp).
struct GemmPart {
  const Matrix* w = nullptr;
  const uint8_t* act = nullptr;  // n_tokens rows in the form w's kernel reads, act_row_bytes apart
  size_t act_row_bytes = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;
};

// Reused buffers, so that no call allocates once they have grown: prepared activations (quantized, or
// f32 rows made by a RowFn) with each job's offset in them, one input row per thread for the RowFn, the
// parts of the current call and the threads' shares of their rows.
struct MatmulScratch {
  std::vector<uint8_t> activations;
  std::vector<size_t> offsets;
  std::vector<float> rows;
  std::vector<GemmPart> parts;
  std::vector<MatmulJob> jobs;  // matmul_shared_input's
  WorkShares shares;  // how the threads split the rows
};

// y[t * n_out + j] = dot(row j of w, x[t * n_in ...]) for t < n_tokens.
void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, MatmulScratch& scratch, ThreadPool& pool);

// Several matrices over the same input (Q, K and V; gate and up): the activations are quantized once
// per input format and the threads split all the rows together.
void matmul_shared_input(std::span<const Matrix* const> ws, const float* x, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool);

// The same with input rows made by make_row (called once per row and input format).
void matmul_shared_input(std::span<const Matrix* const> ws, const RowFn& make_row, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool);

// Several jobs as one: each job's input rows are prepared for its matrix, then the threads split all the
// jobs' rows together, so a mixture-of-experts step is two parallel sections whatever the number of
// experts. Each output is the bits matmul would give for that job alone.
void matmul_jobs(std::span<const MatmulJob> jobs, MatmulScratch& scratch, ThreadPool& pool);

}  // namespace cria::ops
