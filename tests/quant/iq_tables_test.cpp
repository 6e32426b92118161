// The generated codebooks (src/quant/iq_tables.*, from scripts/gen_iq_tables.py) against the shared JSON
// copy of llama.cpp's tables, and the ksigns formula against the stored ksigns table.
#include "quant/iq_tables.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "test_support.h"

namespace cria::iq {
namespace {

std::filesystem::path json_path() { return test::shared_dir() / "docs" / "iq-tables.json"; }

nlohmann::json load_json() {
  std::ifstream in(json_path());
  return nlohmann::json::parse(in);
}

template <typename E, size_t N>
void expect_table_equals(const nlohmann::json& doc, const char* name, const std::array<E, N>& table) {
  SCOPED_TRACE(name);
  const auto& values = doc.at(name).at("values");
  ASSERT_EQ(values.size(), N);
  for (size_t i = 0; i < N; ++i) ASSERT_EQ(values[i].get<uint64_t>(), table[i]) << "entry " << i;
}

TEST(QuantIqTables, GridsEqualTheSharedJson) {
  CRIA_REQUIRE_FIXTURE(json_path());
  const auto doc = load_json();
  expect_table_equals(doc, "iq2xxs_grid", kIq2xxsGrid);
  expect_table_equals(doc, "iq2xs_grid", kIq2xsGrid);
  expect_table_equals(doc, "iq2s_grid", kIq2sGrid);
  expect_table_equals(doc, "iq3xxs_grid", kIq3xxsGrid);
  expect_table_equals(doc, "iq3s_grid", kIq3sGrid);
  expect_table_equals(doc, "iq1s_grid", kIq1sGrid);
}

TEST(QuantIqTables, KsignsFormulaEqualsTheStoredTable) {
  CRIA_REQUIRE_FIXTURE(json_path());
  const auto doc = load_json();
  expect_table_equals(doc, "ksigns_iq2xs", kKsignsIq2xs);
  // kmask_iq2xs[k] = 1 << k: the decoders test bit k directly instead.
  const auto& kmask = doc.at("kmask_iq2xs").at("values");
  ASSERT_EQ(kmask.size(), 8u);
  for (int k = 0; k < 8; ++k) EXPECT_EQ(kmask[k].get<int>(), 1 << k);
}

// Without the JSON: the parity rule itself (lane 7 makes the count of negative lanes even) and masking.
TEST(QuantIqTables, KsignsHasEvenParityAndKeepsLowBits) {
  for (uint32_t n = 0; n < 256; ++n) {
    const uint8_t s = ksigns_iq2xs(n);
    EXPECT_EQ(__builtin_popcount(s) % 2, 0) << n;
    EXPECT_EQ(s & 127, n & 127) << n;
  }
  EXPECT_EQ(kKsignsIq2xs[1], 0x81);
  EXPECT_EQ(kKsignsIq2xs[3], 0x03);
}

// Lane values as FORMATS.md 2.6 lists them, and every entry distinct.
template <typename E, size_t N>
void expect_lanes_in(const std::array<E, N>& table, std::set<int> allowed, bool signed_lanes) {
  std::set<E> distinct(table.begin(), table.end());
  EXPECT_EQ(distinct.size(), N);
  for (size_t i = 0; i < N; ++i) {
    for (size_t k = 0; k < sizeof(E); ++k) {
      const auto byte = static_cast<uint8_t>(table[i] >> (8 * k));
      const int lane = signed_lanes ? static_cast<int8_t>(byte) : byte;
      ASSERT_TRUE(allowed.count(lane)) << "entry " << i << " lane " << k << " = " << lane;
    }
  }
}

TEST(QuantIqTables, LaneValuesAreTheDocumentedLevels) {
  expect_lanes_in(kIq2xxsGrid, {8, 25, 43}, false);
  expect_lanes_in(kIq2xsGrid, {8, 25, 43}, false);
  expect_lanes_in(kIq2sGrid, {8, 25, 43}, false);
  expect_lanes_in(kIq3xxsGrid, {4, 12, 20, 28, 36, 44, 52, 62}, false);
  expect_lanes_in(kIq3sGrid, {1, 3, 5, 7, 9, 11, 13, 15}, false);
  expect_lanes_in(kIq1sGrid, {-1, 0, 1}, true);
  EXPECT_EQ(kIq2xxsGrid[0], 0x0808080808080808u);
  EXPECT_EQ(kIq1sGrid[0], 0xffffffffffffffffu);  // index 0: all lanes -1 (FORMATS.md IQ1_M example)
}

TEST(QuantIqTables, GridEntryMasksTheIndex) {
  EXPECT_EQ(grid_entry(kIq2xxsGrid, 256 + 5), kIq2xxsGrid[5]);
  EXPECT_EQ(grid_entry(kIq1sGrid, 0xFFFFFFFFu), kIq1sGrid[2047]);
}

}  // namespace
}  // namespace cria::iq
