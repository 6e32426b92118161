#include "ops/matmul.h"

#include "core/huge_pages.h"
#include "ops/activation_quant.h"
#include "ops/packed_kernels.h"
#include "ops/prefetch.h"

#include <algorithm>
#include <string>

namespace cria::ops {

Result<Matrix> Matrix::make(TensorType type, int64_t n_in, int64_t n_out, const uint8_t* data, Isa isa) {
  Matrix m;
  m.type = &traits(type);
  m.n_in = n_in;
  m.n_out = n_out;
  m.data = data;
  m.row_bytes = cria::row_bytes(*m.type, n_in);
  m.gemm = best_gemm_kernel(isa, type);
  m.quantize_input = activation_quantizer(isa, m.type->vec_dot_type);
  if (m.gemm == nullptr || (type != TensorType::F32 && traits(m.type->vec_dot_type).quantize == nullptr)) {
    return make_error("tensor type " + std::string(m.type->name) + " is not supported yet");
  }
  const PackedKernel* packed = packed_kernel(isa, type);
  if (packed != nullptr && n_out % packed->rows == 0 && n_in % m.type->block_size == 0) {
    const int64_t n_groups = n_out / packed->rows;
    m.rows_per_group = packed->rows;
    m.group_bytes = packed->group_bytes(n_in);
    std::shared_ptr<uint8_t[]> storage = allocate_huge_pages(m.group_bytes * static_cast<size_t>(n_groups));
    for (int64_t g = 0; g < n_groups; ++g) {
      packed->pack(n_in, data + static_cast<size_t>(g * packed->rows) * m.row_bytes, m.row_bytes,
                   storage.get() + static_cast<size_t>(g) * m.group_bytes);
    }
    m.data = storage.get();
    m.packed = std::move(storage);
    m.gemm = packed->gemm;
  }
  return m;
}

namespace {

// The weights' input: rows from make_row quantized to the weights' vec_dot_type (in scratch), or the f32
// rows themselves.
const uint8_t* prepare_activations(const Matrix& w, const RowFn& make_row, int64_t n_tokens, size_t& act_row_bytes,
                                   MatmulScratch& scratch, ThreadPool& pool) {
  const TypeTraits& act_type = traits(w.type->vec_dot_type);
  const size_t n_in = static_cast<size_t>(w.n_in);
  if (act_type.type == TensorType::F32) {
    act_row_bytes = n_in * sizeof(float);
    if (scratch.rows.size() < n_in * static_cast<size_t>(n_tokens)) scratch.rows.resize(n_in * static_cast<size_t>(n_tokens));
    float* rows = scratch.rows.data();
    pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        float* dst = rows + static_cast<size_t>(t) * n_in;
        const float* row = make_row(t, dst);
        if (row != dst) std::copy(row, row + n_in, dst);
      }
    });
    return reinterpret_cast<const uint8_t*>(rows);
  }
  act_row_bytes = row_bytes(act_type, w.n_in);
  const size_t needed = act_row_bytes * static_cast<size_t>(n_tokens);
  if (scratch.activations.size() < needed) scratch.activations.resize(needed);
  if (scratch.rows.size() < n_in * static_cast<size_t>(pool.size())) scratch.rows.resize(n_in * static_cast<size_t>(pool.size()));
  uint8_t* out = scratch.activations.data();
  const QuantizeActivationFn quantize = w.quantize_input;
  const size_t row_bytes_out = act_row_bytes;
  pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end, int thread) {
    float* row = scratch.rows.data() + static_cast<size_t>(thread) * n_in;  // this thread's buffer
    for (int64_t t = begin; t < end; ++t) quantize(make_row(t, row), out + t * row_bytes_out, w.n_in);
  });
  return out;
}

// Rows [begin, end) of the units of w (rows, or groups of packed rows) against every token, in token
// blocks small enough to stay in cache while the rows stream past. `cold`: this thread was not just
// reading the weights before `begin`, so nothing has prefetched them yet.
void gemm_rows(const Matrix& w, int64_t begin, int64_t end, bool cold, const uint8_t* act, size_t act_row_bytes,
               int64_t n_tokens, float* y) {
  constexpr int64_t kTokenBlock = 64;
  const int64_t unit = w.rows_per_group;
  const size_t unit_bytes = unit > 1 ? w.group_bytes : w.row_bytes;
  if (cold) {
    prefetch_weights_start(w.data + static_cast<size_t>(begin) * unit_bytes, static_cast<size_t>(end - begin) * unit_bytes);
  }
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t nt = std::min(kTokenBlock, n_tokens - t0);
    w.gemm(w.n_in, w.data + static_cast<size_t>(begin) * unit_bytes, unit_bytes, (end - begin) * unit,
           act + static_cast<size_t>(t0) * act_row_bytes, act_row_bytes, nt, y + t0 * w.n_out + begin * unit,
           w.n_out);
  }
}

// The matrices' units laid end to end and cut into chunks, about 16 per thread, handed out by
// WorkShares: each thread streams its own contiguous share and then helps with the others'.
void gemm_all(std::span<const Matrix* const> ws, const uint8_t* act, size_t act_row_bytes, int64_t n_tokens,
              std::span<float* const> ys, WorkShares& shares, ThreadPool& pool) {
  int64_t total = 0;
  for (const Matrix* w : ws) total += w->n_out / w->rows_per_group;
  const int n_threads = pool.size();
  const int64_t chunk = std::max<int64_t>(1, total / (int64_t{16} * n_threads));
  shares.reset((total + chunk - 1) / chunk, n_threads);
  pool.parallel_for(n_threads, [&](int64_t, int64_t, int thread) {
    int64_t previous = -2;
    for (int64_t c; (c = shares.next(thread)) >= 0; previous = c) {
      const int64_t begin = c * chunk, end = std::min(total, begin + chunk);
      int64_t first = 0;
      for (size_t i = 0; i < ws.size(); ++i) {
        const int64_t units = ws[i]->n_out / ws[i]->rows_per_group;
        const int64_t b = std::max(begin, first), e = std::min(end, first + units);
        // Each matrix is its own buffer: its first unit is cold even right after the previous matrix.
        const bool cold = c != previous + 1 || b == first;
        if (b < e) gemm_rows(*ws[i], b - first, e - first, cold, act, act_row_bytes, n_tokens, ys[i]);
        first += units;
      }
    }
  });
}

}  // namespace

void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, MatmulScratch& scratch, ThreadPool& pool) {
  const Matrix* ws[] = {&w};
  float* ys[] = {y};
  matmul_shared_input(ws, x, n_tokens, ys, scratch, pool);
}

void matmul_shared_input(std::span<const Matrix* const> ws, const float* x, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool) {
  const int64_t n_in = ws[0]->n_in;
  // f32 weights read x in place; the others quantize its rows.
  bool all_f32 = true;
  for (const Matrix* w : ws) all_f32 = all_f32 && w->n_in == n_in && w->type->vec_dot_type == TensorType::F32;
  if (all_f32) {
    gemm_all(ws, reinterpret_cast<const uint8_t*>(x), static_cast<size_t>(n_in) * sizeof(float), n_tokens, ys,
             scratch.shares, pool);
    return;
  }
  matmul_shared_input(ws, [x, n_in](int64_t t, float*) { return x + t * n_in; }, n_tokens, ys, scratch, pool);
}

void matmul_shared_input(std::span<const Matrix* const> ws, const RowFn& make_row, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool) {
  for (const Matrix* w : ws) {
    if (w->n_in != ws[0]->n_in || w->type->vec_dot_type != ws[0]->type->vec_dot_type) {
      for (size_t i = 0; i < ws.size(); ++i) {
        const Matrix* one[] = {ws[i]};
        float* y[] = {ys[i]};
        matmul_shared_input(one, make_row, n_tokens, y, scratch, pool);
      }
      return;
    }
  }
  size_t act_row_bytes = 0;
  const uint8_t* act = prepare_activations(*ws[0], make_row, n_tokens, act_row_bytes, scratch, pool);
  gemm_all(ws, act, act_row_bytes, n_tokens, ys, scratch.shares, pool);
}

}  // namespace cria::ops
