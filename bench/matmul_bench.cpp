// Matrix-vector (generation) and matrix-matrix (prompt) speed of the matmul kernels per weight type, at
// TinyLlama's FFN shape (2048 x 5632): one thread on cached weights, and matvec_dram on weights streamed
// from memory. Reports weight bytes read per second.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "ops/matmul.h"
#include "quant/type_table.h"

namespace {

using namespace cria;

struct Fixture {
  std::vector<uint8_t> weights;
  std::vector<float> x;
  ops::Matrix m;
};

Fixture make(TensorType type, int64_t n_in, int64_t n_out, int64_t tokens) {
  Fixture f;
  const TypeTraits& t = traits(type);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(n_in));
  f.weights.resize(row_bytes(t, n_in) * static_cast<size_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : row) v = dist(rng);
    t.quantize(row.data(), f.weights.data() + r * row_bytes(t, n_in), n_in);
  }
  f.x.resize(static_cast<size_t>(n_in * tokens));
  for (auto& v : f.x) v = dist(rng) * 50;
  f.m = ops::Matrix::make(type, n_in, n_out, f.weights.data()).value();
  return f;
}

void run(benchmark::State& state, TensorType type, int64_t tokens) {
  const int64_t n_in = 2048, n_out = 5632;
  Fixture f = make(type, n_in, n_out, tokens);
  ThreadPool pool(1);
  ops::MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(n_out * tokens));
  for (auto _ : state) {
    ops::matmul(f.m, f.x.data(), tokens, y.data(), scratch, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(f.weights.size()) * state.iterations() / 1e9,
                                                     benchmark::Counter::kIsRate);
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(n_in * n_out * tokens) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

// Generation from memory: enough copies of the matrix (about 400 MB in all) that each call reads its
// weights from DRAM, not the cache, on 1 or 2 threads (the argument); weight_GB/s compares with `cria bench
// --memory-bandwidth -t N`.
void run_dram(benchmark::State& state, TensorType type) {
  const int64_t n_in = 2048, n_out = 5632;
  Fixture f = make(type, n_in, n_out, 1);
  const int copies = static_cast<int>(400e6 / static_cast<double>(f.weights.size())) + 1;
  std::vector<std::vector<uint8_t>> data(static_cast<size_t>(copies), f.weights);
  std::vector<ops::Matrix> ms;
  for (const auto& d : data) ms.push_back(ops::Matrix::make(type, n_in, n_out, d.data()).value());
  ThreadPool pool(static_cast<int>(state.range(0)));
  ops::MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(n_out));
  size_t i = 0;
  for (auto _ : state) {
    ops::matmul(ms[i++ % ms.size()], f.x.data(), 1, y.data(), scratch, pool);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(f.weights.size()) * state.iterations() / 1e9,
                                                     benchmark::Counter::kIsRate);
}

#define CRIA_MATMUL_BENCH(TYPE)                                                             \
  void BM_matvec_##TYPE(benchmark::State& s) { run(s, TensorType::TYPE, 1); }               \
  BENCHMARK(BM_matvec_##TYPE)->Unit(benchmark::kMillisecond);                               \
  void BM_matmul64_##TYPE(benchmark::State& s) { run(s, TensorType::TYPE, 64); }            \
  BENCHMARK(BM_matmul64_##TYPE)->Unit(benchmark::kMillisecond);                               \
  void BM_matvec_dram_##TYPE(benchmark::State& s) { run_dram(s, TensorType::TYPE); }        \
  BENCHMARK(BM_matvec_dram_##TYPE)->Unit(benchmark::kMillisecond)->UseRealTime()->Arg(1)->Arg(2);

CRIA_MATMUL_BENCH(Q4_0)
CRIA_MATMUL_BENCH(Q8_0)
CRIA_MATMUL_BENCH(Q4_K)
CRIA_MATMUL_BENCH(Q6_K)
CRIA_MATMUL_BENCH(F16)

}  // namespace
