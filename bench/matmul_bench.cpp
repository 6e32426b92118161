// Matrix-vector (generation), 8-token (a step of eight sequences decoded together) and 64-token (prompt)
// speed of the matmul kernels per weight type, at TinyLlama's FFN shape (2048 x 5632): one thread on
// cached weights, and matvec_dram / matmul8_dram on weights streamed from memory. Reports weight bytes
// read per second and multiply-adds per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/memory_bandwidth.h"
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

// TinyLlama's FFN matrix: n_in x n_out.
constexpr int64_t kNIn = 2048, kNOut = 5632;

void set_weight_rate(benchmark::State& state, size_t bytes) {
  state.counters["weight_GB/s"] =
      benchmark::Counter(static_cast<double>(bytes) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void run(benchmark::State& state, TensorType type, int64_t tokens) {
  Fixture f = make(type, kNIn, kNOut, tokens);
  ThreadPool pool(1);
  ops::MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(kNOut * tokens));
  for (auto _ : state) {
    ops::matmul(f.m, f.x.data(), tokens, y.data(), scratch, pool);
    benchmark::DoNotOptimize(y.data());
  }
  set_weight_rate(state, f.weights.size());
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(kNIn * kNOut * tokens) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

// Generation from memory: enough copies of the matrix (about 400 MB in all) that each call reads its
// weights from DRAM, not the cache, on 1 or 2 threads (the argument). matvec_dram runs the kernel;
// read_dram reads the same bytes with the same split across threads as `cria bench --memory-bandwidth`
// reads its buffer, so weight_GB/s of the two compare the kernel with a plain read.
struct DramFixture {
  Fixture f;
  std::vector<std::vector<uint8_t>> copies;
  std::vector<ops::Matrix> ms;
};

DramFixture make_dram(TensorType type, int64_t tokens = 1) {
  DramFixture d{make(type, kNIn, kNOut, tokens), {}, {}};
  const auto n = static_cast<size_t>(400e6 / static_cast<double>(d.f.weights.size())) + 1;
  d.copies.assign(n, d.f.weights);
  for (const auto& c : d.copies) d.ms.push_back(ops::Matrix::make(type, kNIn, kNOut, c.data()).value());
  return d;
}

// tokens: 1 for one sequence's generation, 8 for a step of eight sequences decoded together.
void run_dram(benchmark::State& state, TensorType type, int64_t tokens) {
  DramFixture d = make_dram(type, tokens);
  ThreadPool pool(static_cast<int>(state.range(0)));
  ops::MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(kNOut * tokens));
  size_t i = 0;
  for (auto _ : state) {
    ops::matmul(d.ms[i++ % d.ms.size()], d.f.x.data(), tokens, y.data(), scratch, pool);
    benchmark::DoNotOptimize(y.data());
  }
  set_weight_rate(state, d.f.weights.size());
  state.counters["GMAC/s"] = benchmark::Counter(static_cast<double>(kNIn * kNOut * tokens) * state.iterations() / 1e9,
                                                benchmark::Counter::kIsRate);
}

void read_dram(benchmark::State& state, TensorType type) {
  DramFixture d = make_dram(type);
  ThreadPool pool(static_cast<int>(state.range(0)));
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.size()));
  const int64_t blocks = static_cast<int64_t>(d.f.weights.size() / 256) - 1;  // leaves room to align
  size_t i = 0;
  for (auto _ : state) {
    const uint8_t* base = d.ms[i++ % d.ms.size()].data;
    base += (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64;
    pool.parallel_for(blocks, [&](int64_t begin, int64_t end, int thread) {
      sinks[static_cast<size_t>(thread)] ^= read_memory(base + begin * 256, static_cast<size_t>(end - begin) * 256);
    });
  }
  benchmark::DoNotOptimize(sinks.data());
  set_weight_rate(state, static_cast<size_t>(blocks) * 256);
}

#define CRIA_MATMUL_BENCH(TYPE)                                                             \
  void BM_matvec_##TYPE(benchmark::State& s) { run(s, TensorType::TYPE, 1); }               \
  BENCHMARK(BM_matvec_##TYPE)->Unit(benchmark::kMillisecond);                               \
  void BM_matmul64_##TYPE(benchmark::State& s) { run(s, TensorType::TYPE, 64); }            \
  BENCHMARK(BM_matmul64_##TYPE)->Unit(benchmark::kMillisecond);                               \
  void BM_matmul8_##TYPE(benchmark::State& s) { run(s, TensorType::TYPE, 8); }              \
  BENCHMARK(BM_matmul8_##TYPE)->Unit(benchmark::kMillisecond);                              \
  void BM_matvec_dram_##TYPE(benchmark::State& s) { run_dram(s, TensorType::TYPE, 1); }     \
  BENCHMARK(BM_matvec_dram_##TYPE)->Unit(benchmark::kMillisecond)->UseRealTime()->Arg(1)->Arg(2);   \
  void BM_matmul8_dram_##TYPE(benchmark::State& s) { run_dram(s, TensorType::TYPE, 8); }    \
  BENCHMARK(BM_matmul8_dram_##TYPE)->Unit(benchmark::kMillisecond)->UseRealTime()->Arg(1)->Arg(2);   \
  void BM_read_dram_##TYPE(benchmark::State& s) { read_dram(s, TensorType::TYPE); }         \
  BENCHMARK(BM_read_dram_##TYPE)->Unit(benchmark::kMillisecond)->UseRealTime()->Arg(1)->Arg(2);

CRIA_MATMUL_BENCH(Q4_0)
CRIA_MATMUL_BENCH(Q8_0)
CRIA_MATMUL_BENCH(Q4_K)
CRIA_MATMUL_BENCH(Q5_K)
CRIA_MATMUL_BENCH(Q6_K)
CRIA_MATMUL_BENCH(F16)

// The other K types and their relatives: generation's kernel only (one thread, cached weights).
#define CRIA_MATVEC_BENCH(TYPE)                                                \
  void BM_matvec_##TYPE(benchmark::State& s) { run(s, TensorType::TYPE, 1); }  \
  BENCHMARK(BM_matvec_##TYPE)->Unit(benchmark::kMillisecond);

CRIA_MATVEC_BENCH(Q2_K)
CRIA_MATVEC_BENCH(Q3_K)
CRIA_MATVEC_BENCH(IQ4_XS)
CRIA_MATVEC_BENCH(TQ2_0)

}  // namespace
