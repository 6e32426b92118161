// Packed (repacked-at-load) kernels against the scalar reference: every instruction set this CPU has,
// every type with a packed kernel, random data, group counts and token counts that exercise every tile
// size and remainder, and matmul through Matrix (which packs) on 1 to 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/thread_pool.h"
#include "ops/kernels.h"
#include "ops/matmul.h"
#include "ops/packed_kernels.h"
#include "test_support.h"

namespace cria::ops {
namespace {

std::vector<uint8_t> quantize_rows(const TypeTraits& t, const std::vector<float>& values, int64_t n, int64_t rows) {
  std::vector<uint8_t> bytes(row_bytes(t, n) * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) t.quantize(values.data() + r * n, bytes.data() + r * row_bytes(t, n), n);
  return bytes;
}

TEST(KernelPackedConformance, EveryPackedKernelMatchesScalar) {
  int checked = 0;
  for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    for (const TypeTraits& t : all_types()) {
      const PackedKernel* packed = packed_kernel(isa, t.type);
      if (packed == nullptr) continue;
      const TypeTraits& act = traits(t.vec_dot_type);
      for (int64_t blocks : {1, 3, 64}) {
        const int64_t n = t.block_size * blocks;
        for (int64_t groups : {1, 3}) {
          const int64_t rows = groups * packed->rows;
          for (int64_t tokens : {1, 3, 4, 7, 8, 9, 17}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(t.name) + " n=" + std::to_string(n) +
                         " rows=" + std::to_string(rows) + " tokens=" + std::to_string(tokens));
            const auto w = quantize_rows(t, test::gaussian(static_cast<size_t>(n * rows), 5 + blocks, 0.5f), n, rows);
            const auto x = quantize_rows(act, test::gaussian(static_cast<size_t>(n * tokens), 9 + tokens), n, tokens);
            std::vector<uint8_t> group_data(packed->group_bytes(n) * static_cast<size_t>(groups));
            for (int64_t g = 0; g < groups; ++g) {
              packed->pack(n, w.data() + static_cast<size_t>(g * packed->rows) * row_bytes(t, n), row_bytes(t, n),
                           group_data.data() + static_cast<size_t>(g) * packed->group_bytes(n));
            }
            std::vector<float> want(static_cast<size_t>(rows * tokens)), got(want.size(), -1.0f);
            scalar_gemm(t.type)(n, w.data(), row_bytes(t, n), rows, x.data(), row_bytes(act, n), tokens, want.data(),
                                rows);
            packed->gemm(n, group_data.data(), packed->group_bytes(n), rows, x.data(), row_bytes(act, n), tokens,
                         got.data(), rows);
            for (size_t i = 0; i < want.size(); ++i) {
              ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << "output " << i;
            }
            ++checked;
          }
        }
      }
    }
  }
  std::printf("  %d packed shape/type/ISA combinations checked\n", checked);
  if (checked == 0) GTEST_SKIP() << "no packed kernel on this CPU";
}

// Packed against the row-major kernel of the same instruction set (what CRIA_REPACK=0 runs). Q8_0 and
// Q5_K must give the same bits; the others sum the same exact integer products per block or super-block
// in another float order, so they agree to float rounding of the terms (relative to sum |w * x|).
TEST(KernelPackedConformance, PackedMatchesRowMajorOfTheSameIsa) {
  int checked = 0;
  for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    for (const TypeTraits& t : all_types()) {
      const PackedKernel* packed = packed_kernel(isa, t.type);
      const GemmFn row_major = gemm_kernel(isa, t.type);
      if (packed == nullptr || row_major == nullptr) continue;
      const bool bitwise = t.type == TensorType::Q8_0 || t.type == TensorType::Q5_K;
      const TypeTraits& act = traits(t.vec_dot_type);
      for (int64_t blocks : {1, 5, 22}) {
        const int64_t n = t.block_size * blocks, groups = 3, rows = groups * packed->rows, tokens = 11;
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(t.name) + " n=" + std::to_string(n));
        const auto w = quantize_rows(t, test::gaussian(static_cast<size_t>(n * rows), 3 + blocks, 0.5f), n, rows);
        // Activations with a non-zero mean, as a model's hidden states have: the sums the packed kernels
        // use to take off their weight bias are then large.
        auto xf = test::gaussian(static_cast<size_t>(n * tokens), 19 + blocks);
        for (size_t i = 0; i < xf.size(); ++i) xf[i] += (i % 7 == 0) ? 4.0f : 0.3f;
        const auto x = quantize_rows(act, xf, n, tokens);
        std::vector<uint8_t> group_data(packed->group_bytes(n) * static_cast<size_t>(groups));
        for (int64_t g = 0; g < groups; ++g) {
          packed->pack(n, w.data() + static_cast<size_t>(g * packed->rows) * row_bytes(t, n), row_bytes(t, n),
                       group_data.data() + static_cast<size_t>(g) * packed->group_bytes(n));
        }
        std::vector<float> want(static_cast<size_t>(rows * tokens)), got(want.size(), -1.0f);
        row_major(n, w.data(), row_bytes(t, n), rows, x.data(), row_bytes(act, n), tokens, want.data(), rows);
        packed->gemm(n, group_data.data(), packed->group_bytes(n), rows, x.data(), row_bytes(act, n), tokens,
                     got.data(), rows);
        std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
        for (int64_t k = 0; k < tokens; ++k) {
          act.dequantize(x.data() + k * row_bytes(act, n), xd.data(), n);
          for (int64_t r = 0; r < rows; ++r) {
            const float a = got[static_cast<size_t>(k * rows + r)], b = want[static_cast<size_t>(k * rows + r)];
            if (bitwise) {
              ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "row " << r << " token " << k << ": " << a << " vs " << b;
              continue;
            }
            t.dequantize(w.data() + r * row_bytes(t, n), wd.data(), n);
            double magnitude = 0;
            for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wd[i]) * xd[i]);
            ASSERT_NEAR(a, b, 2e-6 * magnitude) << "row " << r << " token " << k;
          }
        }
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no packed kernel on this CPU";
}

TEST(KernelPackedConformance, MatmulPacksWholeGroupsOnly) {
  for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    for (const TypeTraits& t : all_types()) {
      const PackedKernel* packed = packed_kernel(isa, t.type);
      if (packed == nullptr) continue;
      const int64_t n = 8 * t.block_size;
      for (int64_t rows : {int64_t{5} * packed->rows, int64_t{5} * packed->rows + 1}) {
        const auto w = quantize_rows(t, test::gaussian(static_cast<size_t>(n * rows), 3, 0.5f), n, rows);
        auto m = Matrix::make(t.type, n, rows, w.data(), isa);
        ASSERT_TRUE(m.ok());
        EXPECT_EQ(m->rows_per_group, rows % packed->rows == 0 ? packed->rows : 1);
        auto reference = Matrix::make(t.type, n, rows, w.data(), Isa::Scalar);
        ASSERT_TRUE(reference.ok());
        for (int64_t tokens : {1, 13, 70}) {
          const auto x = test::gaussian(static_cast<size_t>(n * tokens), 17, 1.0f);
          ThreadPool one(1);
          MatmulScratch scratch;
          std::vector<float> want(static_cast<size_t>(rows * tokens));
          matmul(*reference, x.data(), tokens, want.data(), scratch, one);
          for (int threads : {1, 2, 3}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(t.name) + " rows=" + std::to_string(rows) +
                         " tokens=" + std::to_string(tokens) + " threads=" + std::to_string(threads));
            ThreadPool pool(threads);
            std::vector<float> got(want.size());
            matmul(*m, x.data(), tokens, got.data(), scratch, pool);
            for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << i;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops

namespace cria::ops {
namespace {

// Q, K and V style: three matrices of one input, packed and unpacked mixed, split across threads together.
TEST(KernelPackedConformance, SharedInputMatchesSeparateProducts) {
  const int64_t n = 512;
  struct Spec {
    TensorType type;
    int64_t rows;
  };
  for (const auto& specs : {std::vector<Spec>{{TensorType::Q4_0, 64}, {TensorType::Q4_0, 17}, {TensorType::Q8_0, 8}},
                            std::vector<Spec>{{TensorType::Q4_K, 36}, {TensorType::Q6_K, 12}},
                            std::vector<Spec>{{TensorType::Q4_K, 8}, {TensorType::Q4_0, 8}}}) {
    std::vector<std::vector<uint8_t>> weights;
    std::vector<Matrix> ms;
    for (const Spec& s : specs) {
      weights.push_back(quantize_rows(traits(s.type), test::gaussian(static_cast<size_t>(n * s.rows), 11, 0.5f), n, s.rows));
      ms.push_back(Matrix::make(s.type, n, s.rows, weights.back().data()).value());
    }
    for (int64_t tokens : {1, 5, 66}) {
      const auto x = test::gaussian(static_cast<size_t>(n * tokens), 23, 1.0f);
      for (int threads : {1, 2, 3}) {
        SCOPED_TRACE("tokens=" + std::to_string(tokens) + " threads=" + std::to_string(threads));
        ThreadPool pool(threads);
        MatmulScratch scratch;
        std::vector<std::vector<float>> want, got;
        std::vector<const Matrix*> ptrs;
        std::vector<float*> outs;
        for (const Matrix& m : ms) {
          want.emplace_back(static_cast<size_t>(m.n_out * tokens));
          got.emplace_back(static_cast<size_t>(m.n_out * tokens), -7.0f);
          matmul(m, x.data(), tokens, want.back().data(), scratch, pool);
          ptrs.push_back(&m);
        }
        for (auto& g : got) outs.push_back(g.data());
        matmul_shared_input(ptrs, x.data(), tokens, outs, scratch, pool);
        for (size_t i = 0; i < ms.size(); ++i) {
          for (size_t k = 0; k < want[i].size(); ++k) {
            ASSERT_NEAR(got[i][k], want[i][k], 1e-5 * (1 + std::fabs(want[i][k]))) << "matrix " << i << " output " << k;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops

namespace cria::ops {
namespace {

// Experts style: each job its own matrix and its own rows (gathered from one input), a job without
// make_row reading the previous job's rows, all split across threads together: every output is the bits
// of that matrix's matmul over those rows alone.
TEST(KernelPackedConformance, JobsMatchSeparateProducts) {
  const int64_t n = 512, n_src = 9;
  struct Spec {
    TensorType type;
    int64_t rows, tokens;
    bool same_input;  // reads the previous job's rows
  };
  const std::vector<Spec> specs = {{TensorType::Q4_K, 36, 3, false}, {TensorType::Q4_K, 36, 3, true},
                                   {TensorType::Q5_K, 16, 1, false}, {TensorType::Q6_K, 12, 7, false},
                                   {TensorType::Q4_K, 8, 7, true},   {TensorType::Q8_0, 8, 5, false},
                                   {TensorType::F32, 8, 2, false}};
  const auto src = test::gaussian(static_cast<size_t>(n * n_src), 29, 1.0f);
  std::vector<std::vector<uint8_t>> weights;
  std::vector<Matrix> ms;
  for (const Spec& s : specs) {
    weights.push_back(quantize_rows(traits(s.type), test::gaussian(static_cast<size_t>(n * s.rows), 13, 0.5f), n, s.rows));
    ms.push_back(Matrix::make(s.type, n, s.rows, weights.back().data()).value());
  }
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE("threads=" + std::to_string(threads));
    ThreadPool pool(threads);
    MatmulScratch scratch;
    std::vector<std::vector<float>> want, got;
    std::vector<MatmulJob> jobs;
    for (size_t i = 0; i < specs.size(); ++i) {
      // Job i reads source rows (i + 2t) % n_src, gathered as an expert's tokens are.
      const size_t first = specs[i].same_input ? i - 1 : i;
      std::vector<float> x;
      for (int64_t t = 0; t < specs[i].tokens; ++t) {
        const float* row = &src[static_cast<size_t>((static_cast<int64_t>(first) + 2 * t) % n_src * n)];
        x.insert(x.end(), row, row + n);
      }
      want.emplace_back(static_cast<size_t>(ms[i].n_out * specs[i].tokens));
      got.emplace_back(want.back().size(), -7.0f);
      matmul(ms[i], x.data(), specs[i].tokens, want.back().data(), scratch, pool);
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      RowFn gathered = [&src, i](int64_t t, float*) {
        return &src[static_cast<size_t>((static_cast<int64_t>(i) + 2 * t) % n_src * n)];
      };
      jobs.push_back({&ms[i], specs[i].same_input ? RowFn() : gathered, specs[i].tokens, got[i].data()});
    }
    matmul_jobs(jobs, scratch, pool);
    for (size_t i = 0; i < specs.size(); ++i) {
      ASSERT_EQ(std::memcmp(got[i].data(), want[i].data(), want[i].size() * sizeof(float)), 0) << "job " << i;
    }
  }
}

}  // namespace
}  // namespace cria::ops
