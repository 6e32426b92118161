// allocate_huge_pages hands out zeroed, writable memory of the asked size, 2 MiB-aligned when it is
// large enough for a huge page, and ordinary page-aligned memory below that or when turned off.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <numeric>

#include "core/huge_pages.h"

namespace cria {
namespace {

void expect_zeroed_and_writable(uint8_t* p, size_t bytes) {
  ASSERT_NE(p, nullptr);
  for (size_t i = 0; i < bytes; i += 4093) ASSERT_EQ(p[i], 0) << "byte " << i;
  ASSERT_EQ(p[bytes - 1], 0);
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  for (size_t i = 0; i < bytes; i += 4093) ASSERT_EQ(p[i], static_cast<uint8_t>(i * 7 + 3)) << "byte " << i;
  ASSERT_EQ(p[bytes - 1], static_cast<uint8_t>((bytes - 1) * 7 + 3));
}

TEST(HugePages, LargeBuffersAreAlignedToHugePages) {
  // Sizes that are not multiples of a huge page, or even of a 4 KiB page.
  for (size_t bytes : {kHugePageBytes, 3 * kHugePageBytes + 12345, 7 * kHugePageBytes - 1}) {
    auto buffer = allocate_huge_pages(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.get()) % kHugePageBytes, 0u) << bytes << " bytes";
    expect_zeroed_and_writable(buffer.get(), bytes);
  }
}

TEST(HugePages, SmallBuffersAreOrdinaryMemory) {
  for (size_t bytes : {size_t{1}, size_t{4096}, kHugePageBytes - 1}) {
    auto buffer = allocate_huge_pages(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.get()) % 4096, 0u) << bytes << " bytes";
    expect_zeroed_and_writable(buffer.get(), bytes);
  }
}

TEST(HugePages, OrdinaryPagesWhenTurnedOff) {
  setenv("CRIA_HUGE_PAGES", "0", 1);
  auto buffer = allocate_huge_pages(3 * kHugePageBytes + 5);
  unsetenv("CRIA_HUGE_PAGES");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.get()) % 4096, 0u);
  expect_zeroed_and_writable(buffer.get(), 3 * kHugePageBytes + 5);
}

TEST(HugePages, BuffersAreIndependentAndOutliveCopiesOfTheHandle) {
  auto a = allocate_huge_pages(2 * kHugePageBytes);
  auto b = allocate_huge_pages(2 * kHugePageBytes);
  a[0] = 1;
  b[0] = 2;
  std::shared_ptr<const uint8_t[]> keep = a;
  a.reset();
  EXPECT_EQ(keep[0], 1);
  EXPECT_EQ(b[0], 2);
}

}  // namespace
}  // namespace cria
