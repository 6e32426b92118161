// Every fast kernel against the scalar reference: each instruction set this CPU has, each weight type of
// the type table that runs, random data (never zeros), odd shapes (rows that do not fill a tile, 1, 7 and
// 513 tokens), and matmul on 1 to 3 threads.
#include <gtest/gtest.h>

#include <cmath>

#include "core/thread_pool.h"
#include "ops/kernels.h"
#include "ops/matmul.h"
#include "random_weights.h"
#include "test_support.h"

namespace cria::ops {
namespace {

using test_data::random_weights;

std::vector<uint8_t> quantized_activations(const TypeTraits& act, int64_t n, int64_t tokens, uint32_t seed) {
  const auto values = test::gaussian(static_cast<size_t>(n * tokens), seed, 1.0f);
  std::vector<uint8_t> bytes(row_bytes(act, n) * static_cast<size_t>(tokens));
  for (int64_t t = 0; t < tokens; ++t) act.quantize(values.data() + t * n, bytes.data() + t * row_bytes(act, n), n);
  return bytes;
}

// Scale of the result for the tolerance: sum over the row of |w| * |x|.
double magnitude(const TypeTraits& wt, const uint8_t* w, const TypeTraits& at, const uint8_t* x, int64_t n) {
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  wt.dequantize(w, a.data(), n);
  at.dequantize(x, b.data(), n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(a[i]) * b[i]);
  return s;
}

TEST(KernelGemmConformance, EveryIsaEveryTypeMatchesScalar) {
  int checked = 0;
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) {
      std::printf("  %s: not available on this CPU, skipped\n", std::string(isa_name(isa)).c_str());
      continue;
    }
    for (const TypeTraits& t : all_types()) {
      const GemmFn reference = scalar_gemm(t.type);
      const GemmFn fast = gemm_kernel(isa, t.type);
      if (reference == nullptr) continue;
      if (fast == nullptr) {
        std::printf("  %s %s: no kernel, falls back to scalar\n", std::string(isa_name(isa)).c_str(),
                    std::string(t.name).c_str());
        continue;
      }
      const TypeTraits& act = traits(t.vec_dot_type);
      for (int64_t blocks : {1, 3}) {
        const int64_t n = t.block_size == 1 ? 37 * blocks : t.block_size * blocks;
        for (int64_t rows : {1, 5, 13}) {
          for (int64_t tokens : {1, 7, 9}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(t.name) + " n=" + std::to_string(n) +
                         " rows=" + std::to_string(rows) + " tokens=" + std::to_string(tokens));
            const auto w = random_weights(t, n, rows, static_cast<uint32_t>(rows * 31 + blocks));
            const auto x = quantized_activations(act, n, tokens, static_cast<uint32_t>(tokens * 17 + blocks));
            std::vector<float> want(static_cast<size_t>(rows * tokens)), got(want.size(), -1.0f);
            reference(n, w.data(), row_bytes(t, n), rows, x.data(), row_bytes(act, n), tokens, want.data(), rows);
            fast(n, w.data(), row_bytes(t, n), rows, x.data(), row_bytes(act, n), tokens, got.data(), rows);
            for (int64_t r = 0; r < rows; ++r) {
              for (int64_t k = 0; k < tokens; ++k) {
                const double mag = magnitude(t, w.data() + r * row_bytes(t, n), act, x.data() + k * row_bytes(act, n), n);
                ASSERT_NEAR(got[k * rows + r], want[k * rows + r], 1e-5 * mag + 1e-6) << "row " << r << " token " << k;
              }
            }
            ++checked;
          }
        }
      }
    }
  }
  std::printf("  %d shape/type/ISA combinations checked\n", checked);
}

// matmul over threads and large token counts (the token blocking) agrees with the scalar kernel.
TEST(KernelGemmConformance, MatmulThreadsAndTokenBlocks) {
  for (TensorType type : {TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K, TensorType::F16}) {
    const TypeTraits& t = traits(type);
    const int64_t n = 512, rows = 19;
    const auto w = random_weights(t, n, rows, 7);
    auto m = Matrix::make(type, n, rows, w.data());
    ASSERT_TRUE(m.ok());
    for (int64_t tokens : {1, 7, 513}) {
      const auto x = test::gaussian(static_cast<size_t>(n * tokens), 99, 1.0f);
      const TypeTraits& act = traits(t.vec_dot_type);
      std::vector<uint8_t> xq(row_bytes(act, n) * static_cast<size_t>(tokens));
      for (int64_t k = 0; k < tokens; ++k) act.quantize(x.data() + k * n, xq.data() + k * row_bytes(act, n), n);
      std::vector<float> want(static_cast<size_t>(rows * tokens));
      scalar_gemm(type)(n, w.data(), row_bytes(t, n), rows, xq.data(), row_bytes(act, n), tokens, want.data(), rows);
      for (int threads : {1, 2, 3}) {
        SCOPED_TRACE(std::string(t.name) + " tokens=" + std::to_string(tokens) + " threads=" + std::to_string(threads));
        ThreadPool pool(threads);
        MatmulScratch scratch;
        std::vector<float> got(want.size());
        matmul(*m, x.data(), tokens, got.data(), scratch, pool);
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-3 + 1e-4 * std::fabs(want[i])) << i;
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops
