// Batch invariance: a token's matmul output must not depend on what else is in the batch. For every
// weight type with a kernel of its own on every kernel layout this CPU runs (scalar, AVX2, AVX-512
// row-major, AVX-512 packed), ops::matmul through Matrix::make (so packing is included) of many tokens
// at once, of the same tokens split in other ways and on 1 to 3 threads must equal, bit for bit, each
// token computed alone: each (weight row, token) pair is reduced in one fixed order whichever token tile,
// remainder path, token block or thread handles it. The batched engine's promise of identical logits
// rests on this.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>

#include "core/thread_pool.h"
#include "ops/kernels.h"
#include "ops/matmul.h"
#include "ops/packed_kernels.h"
#include "random_weights.h"
#include "test_support.h"

namespace cria::ops {
namespace {

// One kernel layout: an instruction set, repacked at load or row-major.
struct Layout {
  Isa isa;
  bool packed;
  std::string name() const { return std::string(isa_name(isa)) + (packed ? " packed" : ""); }
};

std::vector<Layout> layouts() {
  std::vector<Layout> out;
  for (int i = 0; i < kIsaCount; ++i) {
    const auto isa = static_cast<Isa>(i);
    if (!isa_available(isa)) continue;
    out.push_back({isa, false});
    if (isa == Isa::Avx512) out.push_back({isa, true});
  }
  return out;
}

// The matrix of this layout, or nothing when the layout has no kernel of its own for the type (it would
// run a lower set's kernel, checked under that set).
std::optional<Matrix> make_matrix(const Layout& layout, TensorType type, int64_t n, int64_t rows, const uint8_t* w) {
  const bool before = repacking_enabled();
  set_repacking(layout.packed);
  const bool has_packed = packed_kernel(layout.isa, type) != nullptr;
  auto m = Matrix::make(type, n, rows, w, layout.isa);
  set_repacking(before);
  if (!m.ok()) return std::nullopt;
  if (layout.packed ? !has_packed : gemm_kernel(layout.isa, type) == nullptr) return std::nullopt;
  EXPECT_EQ(m->rows_per_group > 1, layout.packed);
  return *m;
}

// y for tokens [begin, end) of x, computed in calls of the given sizes on `threads` threads.
void run_split(const Matrix& m, const std::vector<float>& x, const std::vector<int64_t>& sizes, int threads,
               std::vector<float>& y) {
  ThreadPool pool(threads);
  MatmulScratch scratch;
  int64_t t = 0;
  for (int64_t size : sizes) {
    matmul(m, x.data() + t * m.n_in, size, y.data() + t * m.n_out, scratch, pool);
    t += size;
  }
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(KernelBatchInvariance, EveryTypeEveryLayoutSplitAndThreadCount) {
  constexpr int64_t kTokens = 19;  // > 2 tiles of 8, with remainders of every tile size
  // (sizes of consecutive calls, threads): all at once, uneven splits, and 70 tokens across the
  // 64-token block of matmul.
  const std::vector<std::pair<std::vector<int64_t>, int>> splits = {
      {{kTokens}, 1}, {{kTokens}, 2}, {{kTokens}, 3}, {{5, 14}, 1}, {{8, 11}, 2}, {{3, 9, 7}, 3},
      {{2, 4, 6, 7}, 1}, {{16, 3}, 2}};
  int checked = 0;
  for (const Layout& layout : layouts()) {
    for (const TypeTraits& t : all_types()) {
      if (scalar_gemm(t.type) == nullptr) continue;
      // Odd shapes: an odd number of blocks (a float tail for float types), rows that leave a remainder
      // tile (row-major) or an odd number of groups split over threads (packed).
      const int64_t n = t.block_size == 1 ? 75 : t.block_size * (t.block_size == 256 ? 3 : 7);
      const int64_t rows = layout.packed ? 4 * 7 : 23;
      const auto w = test_data::random_weights(t, n, rows, 41);
      const auto m = make_matrix(layout, t.type, n, rows, w.data());
      if (!m) continue;
      SCOPED_TRACE(layout.name() + " " + std::string(t.name));
      for (int64_t total : {kTokens, int64_t{70}}) {
        const auto x = test::gaussian(static_cast<size_t>(n * total), 7, 1.0f);
        std::vector<float> alone(static_cast<size_t>(rows * total));
        run_split(*m, x, std::vector<int64_t>(static_cast<size_t>(total), 1), 1, alone);
        const auto cases = total == kTokens ? splits : decltype(splits){{{total}, 1}, {{total}, 3}, {{65, 5}, 2}};
        for (const auto& [sizes, threads] : cases) {
          std::vector<float> y(alone.size(), -1.0f);
          run_split(*m, x, sizes, threads, y);
          std::string split;
          for (int64_t s : sizes) split += (split.empty() ? "" : "+") + std::to_string(s);
          for (size_t i = 0; i < y.size(); ++i) {
            ASSERT_TRUE(same_bits(y[i], alone[i]))
                << "split " << split << " on " << threads << " threads: token " << i / rows << " row " << i % rows
                << ": " << y[i] << " vs " << alone[i] << " alone";
          }
        }
      }
      ++checked;
    }
  }
  std::printf("  %d (type, layout) pairs checked\n", checked);
}

}  // namespace
}  // namespace cria::ops
