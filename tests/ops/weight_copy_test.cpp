// copy_to_huge_pages: a matrix that is not repacked gets its rows in memory of its own (2 MiB-aligned),
// with the same bytes and bitwise the same products, and keeps working after the original rows are gone;
// it refuses repacked and small matrices and runs where huge pages are turned off.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/huge_pages.h"
#include "core/thread_pool.h"
#include "ops/matmul.h"
#include "random_weights.h"
#include "test_support.h"

namespace cria::ops {
namespace {

constexpr int64_t kIn = 2048, kOut = 1024, kTokens = 3;  // Q8_0: 2.1 MiB of rows

std::vector<float> product(const Matrix& m, const std::vector<float>& x) {
  ThreadPool pool(2);
  MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(m.n_out * kTokens));
  matmul(m, x.data(), kTokens, y.data(), scratch, pool);
  return y;
}

TEST(WeightCopy, CopiedRowsGiveTheSameProductsFromMemoryOfTheirOwn) {
  if (!huge_pages_available()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  std::vector<uint8_t> rows = test_data::random_weights(traits(TensorType::Q8_0), kIn, kOut, 7);
  const std::vector<float> x = test::gaussian(static_cast<size_t>(kIn * kTokens), 8, 1.0f);
  auto m = Matrix::make(TensorType::Q8_0, kIn, kOut, rows.data(), Isa::Scalar);
  ASSERT_TRUE(m.ok()) << m.error().message;
  const std::vector<float> before = product(*m, x);

  ASSERT_TRUE(copy_to_huge_pages(*m));
  EXPECT_NE(m->data, rows.data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data) % kHugePageBytes, 0u);
  EXPECT_EQ(std::memcmp(m->data, rows.data(), rows.size()), 0);
  std::fill(rows.begin(), rows.end(), uint8_t{0});
  rows = {};
  const std::vector<float> after = product(*m, x);
  ASSERT_EQ(before.size(), after.size());
  EXPECT_EQ(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)), 0) << "products differ";
  EXPECT_FALSE(copy_to_huge_pages(*m)) << "a copy is not copied again";
}

TEST(WeightCopy, SmallRepackedOrTurnedOffMatricesStayWhereTheyAre) {
  std::vector<uint8_t> small = test_data::random_weights(traits(TensorType::Q8_0), kIn, 64, 9);
  auto s = Matrix::make(TensorType::Q8_0, kIn, 64, small.data(), Isa::Scalar);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(copy_to_huge_pages(*s));
  EXPECT_EQ(s->data, small.data());

  std::vector<uint8_t> rows = test_data::random_weights(traits(TensorType::Q8_0), kIn, kOut, 10);
  setenv("CRIA_HUGE_PAGES", "0", 1);
  auto off = Matrix::make(TensorType::Q8_0, kIn, kOut, rows.data(), Isa::Scalar);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(copy_to_huge_pages(*off));
  unsetenv("CRIA_HUGE_PAGES");
  EXPECT_EQ(off->data, rows.data());

  // The selected instruction set's matrix: repacked ones (AVX-512 Q8_0) already own their memory.
  auto best = Matrix::make(TensorType::Q8_0, kIn, kOut, rows.data());
  ASSERT_TRUE(best.ok());
  const bool repacked = best->owned != nullptr;
  EXPECT_EQ(copy_to_huge_pages(*best), !repacked && huge_pages_available());
}

}  // namespace
}  // namespace cria::ops
