#include "ops/matmul.h"

#include "core/huge_pages.h"
#include "ops/activation_quant.h"
#include "ops/packed_kernels.h"
#include "ops/prefetch.h"

#include <algorithm>
#include <cstring>
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
    m.owned = std::move(storage);
    m.gemm = packed->gemm;
  }
  return m;
}

bool copy_to_huge_pages(Matrix& m) {
  const size_t bytes = m.row_bytes * static_cast<size_t>(m.n_out);
  if (m.owned || bytes < kHugePageBytes || !huge_pages_available()) return false;
  std::shared_ptr<uint8_t[]> storage = allocate_huge_pages(bytes);
  std::memcpy(storage.get(), m.data, bytes);
  m.data = storage.get();
  m.group_bytes = m.row_bytes;
  m.owned = std::move(storage);
  return true;
}

namespace {

// Below this many input elements (rows x n_in) the rows are prepared on the calling thread: a parallel
// step costs more than quantizing a few rows (one token's input, or the two experts' inputs of one
// generated token).
constexpr int64_t kSerialPrepareElements = 16384;

// Bytes of one input row in the form w's kernel reads: its vec_dot_type's row, or n_in floats.
size_t input_row_bytes(const Matrix& w) {
  const TypeTraits& act_type = traits(w.type->vec_dot_type);
  return act_type.type == TensorType::F32 ? static_cast<size_t>(w.n_in) * sizeof(float) : row_bytes(act_type, w.n_in);
}

// The inputs of `jobs` prepared for their matrices, each job's rows in its own 64-byte aligned region
// of scratch.activations (a job without make_row shares the previous job's), and one part per job in
// scratch.parts. The jobs' rows are split across threads together.
void prepare_inputs(std::span<const MatmulJob> jobs, MatmulScratch& scratch, ThreadPool& pool) {
  auto& parts = scratch.parts;
  parts.clear();
  size_t bytes = 0, max_in = 0;
  int64_t rows = 0, elements = 0;
  std::vector<size_t>& offsets = scratch.offsets;
  offsets.clear();
  for (const MatmulJob& job : jobs) {
    if (!job.make_row) {
      offsets.push_back(offsets.back());
      continue;
    }
    bytes = (bytes + 63) / 64 * 64;
    offsets.push_back(bytes);
    bytes += input_row_bytes(*job.w) * static_cast<size_t>(job.n_tokens);
    max_in = std::max(max_in, static_cast<size_t>(job.w->n_in));
    rows += job.n_tokens;
    elements += job.n_tokens * job.w->n_in;
  }
  if (scratch.activations.size() < bytes + 64) scratch.activations.resize(bytes + 64);
  if (scratch.rows.size() < max_in * static_cast<size_t>(pool.size())) scratch.rows.resize(max_in * static_cast<size_t>(pool.size()));
  // Regions aligned in memory, not only relative to the buffer's start.
  uint8_t* base = scratch.activations.data();
  base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
  for (size_t i = 0; i < jobs.size(); ++i) {
    parts.push_back({jobs[i].w, base + offsets[i], input_row_bytes(*jobs[i].w), jobs[i].n_tokens, jobs[i].y});
  }
  // Rows [begin, end) of the jobs laid end to end.
  auto prepare = [&](int64_t begin, int64_t end, int thread) {
    float* buf = scratch.rows.data() + static_cast<size_t>(thread) * max_in;
    int64_t first = 0;
    for (size_t i = 0; i < jobs.size() && first < end; ++i) {
      const MatmulJob& job = jobs[i];
      const GemmPart& part = parts[i];
      if (!job.make_row) continue;
      for (int64_t t = std::max(begin, first) - first; t < std::min(end, first + job.n_tokens) - first; ++t) {
        const float* row = job.make_row(t, buf);
        uint8_t* dst = base + offsets[i] + static_cast<size_t>(t) * part.act_row_bytes;
        if (part.w->type->vec_dot_type == TensorType::F32) {
          std::memcpy(dst, row, part.act_row_bytes);
        } else {
          part.w->quantize_input(row, dst, part.w->n_in);
        }
      }
      first += job.n_tokens;
    }
  };
  if (elements <= kSerialPrepareElements) {
    prepare(0, rows, 0);
  } else {
    pool.parallel_for(rows, prepare);
  }
}

// Rows [begin, end) of the units of p.w (rows, or groups of packed rows) against every token of the
// part, in token blocks small enough to stay in cache while the rows stream past. `cold`: this thread
// was not just reading the weights before `begin`, so nothing has prefetched them yet.
void gemm_rows(const GemmPart& p, int64_t begin, int64_t end, bool cold) {
  constexpr int64_t kTokenBlock = 64;
  const Matrix& w = *p.w;
  const int64_t unit = w.rows_per_group;
  const size_t unit_bytes = unit > 1 ? w.group_bytes : w.row_bytes;
  if (cold) {
    prefetch_weights_start(w.data + static_cast<size_t>(begin) * unit_bytes, static_cast<size_t>(end - begin) * unit_bytes);
  }
  for (int64_t t0 = 0; t0 < p.n_tokens; t0 += kTokenBlock) {
    const int64_t nt = std::min(kTokenBlock, p.n_tokens - t0);
    w.gemm(w.n_in, w.data + static_cast<size_t>(begin) * unit_bytes, unit_bytes, (end - begin) * unit,
           p.act + static_cast<size_t>(t0) * p.act_row_bytes, p.act_row_bytes, nt, p.y + t0 * w.n_out + begin * unit,
           w.n_out);
  }
}

// The parts' units laid end to end and cut into chunks, about 16 per thread, handed out by WorkShares:
// each thread streams its own contiguous share and then helps with the others'.
void gemm_all(std::span<const GemmPart> parts, WorkShares& shares, ThreadPool& pool) {
  int64_t total = 0;
  for (const GemmPart& p : parts) total += p.w->n_out / p.w->rows_per_group;
  const int n_threads = pool.size();
  const int64_t chunk = std::max<int64_t>(1, total / (int64_t{16} * n_threads));
  shares.reset((total + chunk - 1) / chunk, n_threads);
  pool.parallel_for(n_threads, [&](int64_t, int64_t, int thread) {
    int64_t previous = -2;
    for (int64_t c; (c = shares.next(thread)) >= 0; previous = c) {
      const int64_t begin = c * chunk, end = std::min(total, begin + chunk);
      int64_t first = 0;
      for (const GemmPart& p : parts) {
        const int64_t units = p.w->n_out / p.w->rows_per_group;
        const int64_t b = std::max(begin, first), e = std::min(end, first + units);
        // Each matrix is its own buffer: its first unit is cold even right after the previous matrix.
        const bool cold = c != previous + 1 || b == first;
        if (b < e) gemm_rows(p, b - first, e - first, cold);
        first += units;
        if (first >= end) break;
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
    scratch.parts.clear();
    for (size_t i = 0; i < ws.size(); ++i) {
      scratch.parts.push_back({ws[i], reinterpret_cast<const uint8_t*>(x), static_cast<size_t>(n_in) * sizeof(float),
                               n_tokens, ys[i]});
    }
    gemm_all(scratch.parts, scratch.shares, pool);
    return;
  }
  matmul_shared_input(ws, [x, n_in](int64_t t, float*) { return x + t * n_in; }, n_tokens, ys, scratch, pool);
}

void matmul_shared_input(std::span<const Matrix* const> ws, const RowFn& make_row, int64_t n_tokens,
                         std::span<float* const> ys, MatmulScratch& scratch, ThreadPool& pool) {
  // Each matrix reads the rows prepared for the one before it when their input formats agree.
  auto& jobs = scratch.jobs;
  jobs.clear();
  for (size_t i = 0; i < ws.size(); ++i) {
    const bool same_input = i > 0 && ws[i]->n_in == ws[i - 1]->n_in &&
                            ws[i]->type->vec_dot_type == ws[i - 1]->type->vec_dot_type;
    jobs.push_back({ws[i], same_input ? RowFn() : make_row, n_tokens, ys[i]});
  }
  matmul_jobs(jobs, scratch, pool);
}

void matmul_jobs(std::span<const MatmulJob> jobs, MatmulScratch& scratch, ThreadPool& pool) {
  prepare_inputs(jobs, scratch, pool);
  gemm_all(scratch.parts, scratch.shares, pool);
}

}  // namespace cria::ops
