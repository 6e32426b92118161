// GENERATED FILE: do not edit. Made by scripts/gen_iq_tables.py from ../shared/docs/iq-tables.json
// (a copy of the codebooks in llama.cpp's ggml-common.h, MIT). Regenerate with
//     python3 scripts/gen_iq_tables.py [path/to/iq-tables.json]
//
// Codebooks of the grid i-quants (FORMATS.md 2.6). Lane k of an entry is its k-th least significant
// byte; kIq1sGrid lanes are signed (0xFF = -1). Every table has a power-of-two size, so a decoder that
// masks an index to that many bits cannot read outside it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace cria::iq {

extern const std::array<uint64_t, 256> kIq2xxsGrid;
extern const std::array<uint64_t, 512> kIq2xsGrid;
extern const std::array<uint64_t, 1024> kIq2sGrid;
extern const std::array<uint32_t, 256> kIq3xxsGrid;
extern const std::array<uint32_t, 512> kIq3sGrid;
extern const std::array<uint64_t, 2048> kIq1sGrid;

// Entry `index` of a grid, the index masked to the table's size: out-of-range reads are impossible.
template <typename E, size_t N>
constexpr E grid_entry(const std::array<E, N>& table, uint32_t index) {
  static_assert(N > 0 && (N & (N - 1)) == 0, "grid sizes are powers of two");
  return table[index & (N - 1)];
}

// ksigns_iq2xs[n]: the 7-bit sign index n gives the signs of lanes 0-6 (bit k = lane k negative); lane 7
// is negative when that makes the count of negative lanes even. llama.cpp stores this as a table; the
// formula reproduces all 128 entries (checked by the generator and by tests/quant/iq_tables_test.cpp).
constexpr uint8_t ksigns_iq2xs(uint32_t n) {
  n &= 127;
  return static_cast<uint8_t>(n | (__builtin_popcount(n) % 2 != 0 ? 0x80 : 0));
}

constexpr std::array<uint8_t, 128> kKsignsIq2xs = [] {
  std::array<uint8_t, 128> t{};
  for (uint32_t n = 0; n < 128; ++n) t[n] = ksigns_iq2xs(n);
  return t;
}();

}  // namespace cria::iq
