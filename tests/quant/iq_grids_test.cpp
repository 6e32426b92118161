// Decoders of the grid i-quants against FORMATS.md 2.6: the two worked examples, then random blocks (every
// byte random, including NaN/inf scales) decoded and compared bit for bit with the closed forms
//   IQ2_*: sgn·d·(2s+1)·level/8   IQ3_XXS: sgn·d·(2s+1)·level/4   IQ3_S: sgn·d·(2s+1)·level
//   IQ1_*: d·(2s+1)·(8·level ± 1)/8
// evaluated in double from a per-element transcription of the layouts. The random blocks reach every grid
// index (checked), so under the ASan/UBSan build this also shows that no block content reads outside a
// table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "quant/iq_tables.h"
#include "quant/type_table.h"

namespace cria {
namespace {

uint32_t u16at(const uint8_t* b, int at) { return b[at] | (b[at + 1] << 8); }
uint32_t u32at(const uint8_t* b, int at) { return u16at(b, at) | (u16at(b, at + 2) << 16); }
double f16at(const uint8_t* b, int at) { return fp16_to_fp32(static_cast<uint16_t>(u16at(b, at))); }
int lo(uint8_t v) { return v & 0x0F; }
int hi(uint8_t v) { return v >> 4; }
int sgn(uint32_t S, int j) { return ((S >> j) & 1) ? -1 : 1; }

// Lane k of entry i; .at() so that a wrong index in this transcription fails loudly, not silently.
template <typename E, size_t N>
int lane(const std::array<E, N>& t, uint32_t i, int k) {
  return static_cast<int>((t.at(i) >> (8 * k)) & 0xFF);
}
int signed_lane(uint32_t i, int k) { return static_cast<int8_t>(lane(iq::kIq1sGrid, i, k)); }

// Element e of a block by FORMATS.md 2.6, in double; *index = the grid index it uses.
double expected(TensorType type, const uint8_t* b, int e, uint32_t* index) {
  const int ib = e / 32, g = e / 8, l = g % 4, j = e % 8;
  switch (type) {
    case TensorType::IQ2_XXS: {
      *index = b[2 + 8 * ib + l];
      const uint32_t W = u32at(b, 6 + 8 * ib);
      const int S = iq::kKsignsIq2xs[(W >> (7 * l)) & 127];
      return sgn(S, j) * f16at(b, 0) * (2 * (W >> 28) + 1) * lane(iq::kIq2xxsGrid, *index, j) / 8;
    }
    case TensorType::IQ2_XS: {
      const uint32_t w = u16at(b, 2 + 2 * g);
      *index = w & 511;
      const int s = e % 32 < 16 ? lo(b[66 + ib]) : hi(b[66 + ib]);
      return sgn(iq::kKsignsIq2xs[w >> 9], j) * f16at(b, 0) * (2 * s + 1) * lane(iq::kIq2xsGrid, *index, j) /
             8;
    }
    case TensorType::IQ2_S: {
      *index = b[2 + g] | (((b[66 + ib] >> (2 * l)) & 3) << 8);
      const int s = e % 32 < 16 ? lo(b[74 + ib]) : hi(b[74 + ib]);
      return sgn(b[34 + g], j) * f16at(b, 0) * (2 * s + 1) * lane(iq::kIq2sGrid, *index, j) / 8;
    }
    case TensorType::IQ3_XXS: {
      *index = b[2 + e / 4];
      const uint32_t W = u32at(b, 66 + 4 * ib);
      const int S = iq::kKsignsIq2xs[(W >> (7 * l)) & 127];
      return sgn(S, j) * f16at(b, 0) * (2 * (W >> 28) + 1) * lane(iq::kIq3xxsGrid, *index, e % 4) / 4;
    }
    case TensorType::IQ3_S: {
      const int k = e / 4;
      *index = b[2 + k] | (((b[66 + ib] >> (k % 8)) & 1) << 8);
      const int s = ib % 2 == 0 ? lo(b[106 + ib / 2]) : hi(b[106 + ib / 2]);
      return sgn(b[74 + g], j) * f16at(b, 0) * (2 * s + 1) * lane(iq::kIq3sGrid, *index, e % 4);
    }
    case TensorType::IQ1_S: {
      const uint32_t h = u16at(b, 34 + 2 * ib);
      *index = b[2 + g] | (((h >> (3 * l)) & 7) << 8);
      const int s = (h >> 12) & 7;
      const int delta8 = (h & 0x8000) ? -1 : 1;
      return f16at(b, 0) * (2 * s + 1) * (8 * signed_lane(*index, j) + delta8) / 8;
    }
    case TensorType::IQ1_M: {
      uint32_t W[4];
      for (int i = 0; i < 4; ++i) W[i] = u16at(b, 48 + 2 * i);
      const auto D = static_cast<uint16_t>((W[0] >> 12) | ((W[1] >> 12) << 4) | ((W[2] >> 12) << 8) |
                                           ((W[3] >> 12) << 12));
      const int t = e / 16;
      const int s = (W[t / 4] >> (3 * (t % 4))) & 7;
      const int n = g % 2 == 0 ? lo(b[32 + g / 2]) : hi(b[32 + g / 2]);
      *index = b[g] | ((n & 7) << 8);
      const int delta8 = (n & 8) ? -1 : 1;
      return static_cast<double>(fp16_to_fp32(D)) * (2 * s + 1) * (8 * signed_lane(*index, j) + delta8) / 8;
    }
    default:
      ADD_FAILURE() << "not a grid type";
      return 0;
  }
}

struct GridType {
  TensorType type;
  size_t table_size;
};
constexpr GridType kGridTypes[] = {
    {TensorType::IQ2_XXS, 256}, {TensorType::IQ2_XS, 512}, {TensorType::IQ2_S, 1024},
    {TensorType::IQ3_XXS, 256}, {TensorType::IQ3_S, 512},  {TensorType::IQ1_S, 2048},
    {TensorType::IQ1_M, 2048},
};

TEST(QuantIqGrids, DecodeOnlyTypesInTheTable) {
  for (const auto& gt : kGridTypes) {
    const auto& t = traits(gt.type);
    EXPECT_NE(t.dequantize, nullptr) << t.name;
    EXPECT_EQ(t.quantize, nullptr) << t.name << ": no quantizer expected until an imatrix quantizer exists";
    EXPECT_EQ(t.block_size, 256) << t.name;
  }
}

TEST(QuantIqGrids, RandomBlocksMatchTheClosedFormsAndReachEveryIndex) {
  constexpr int kBlocks = 2048;  // 32 or 64 indices per block: every index of a 2048 table is all but certain
  for (const auto& gt : kGridTypes) {
    const auto& t = traits(gt.type);
    SCOPED_TRACE(std::string(t.name));
    std::mt19937 rng(static_cast<uint32_t>(gt.type) * 7919u);
    std::vector<uint8_t> blocks(kBlocks * t.block_bytes);
    for (auto& byte : blocks) byte = static_cast<uint8_t>(rng());
    std::vector<float> out(kBlocks * 256);
    t.dequantize(blocks.data(), out.data(), static_cast<int64_t>(out.size()));

    std::vector<bool> seen(gt.table_size, false);
    size_t mismatches = 0;
    for (int blk = 0; blk < kBlocks; ++blk) {
      const uint8_t* b = blocks.data() + blk * t.block_bytes;
      for (int e = 0; e < 256; ++e) {
        uint32_t index = 0;
        const double x = expected(gt.type, b, e, &index);
        seen.at(index) = true;
        const float got = out[blk * 256 + e];
        const bool same = std::isnan(x) ? std::isnan(got) : static_cast<float>(x) == got;
        if (!same && ++mismatches <= 5)
          ADD_FAILURE() << "block " << blk << " element " << e << ": " << got << " vs " << x;
      }
    }
    EXPECT_EQ(mismatches, 0u);
    size_t hit = 0;
    for (bool s : seen) hit += s;
    EXPECT_EQ(hit, gt.table_size) << "random blocks did not reach every grid index";
  }
}

// FORMATS.md 2.6, IQ2_XXS example: d = 1, all indices 0 (all lanes 8), W of sub-block 0 = 0x10000001
// (s = 1, group 0 sign index 1 -> ksigns 0x81: lanes 0 and 7 negative).
TEST(QuantIqGrids, Iq2XxsWorkedExample) {
  std::vector<uint8_t> b(66, 0);
  b[1] = 0x3C;
  const uint32_t W = 0x10000001;
  std::memcpy(&b[6], &W, 4);
  std::vector<float> y(256);
  traits(TensorType::IQ2_XXS).dequantize(b.data(), y.data(), 256);
  EXPECT_EQ(y[0], -3.0f);
  EXPECT_EQ(y[7], -3.0f);
  for (int e = 1; e < 7; ++e) EXPECT_EQ(y[e], 3.0f) << e;
  for (int e = 8; e < 32; ++e) EXPECT_EQ(y[e], 3.0f) << e;
  for (int e = 32; e < 256; ++e) EXPECT_EQ(y[e], 1.0f) << e;
}

// FORMATS.md 2.6, IQ1_M example: bytes @48..55 = 01 00 00 00 00 C0 00 30 -> d = f16 0x3C00 = 1, the first
// 16-element sub-block has s = 1; index 0 is all -1 lanes, delta +1/8.
TEST(QuantIqGrids, Iq1MWorkedExample) {
  std::vector<uint8_t> b(56, 0);
  const uint8_t scales[8] = {0x01, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x30};
  std::memcpy(&b[48], scales, 8);
  std::vector<float> y(256);
  traits(TensorType::IQ1_M).dequantize(b.data(), y.data(), 256);
  for (int e = 0; e < 16; ++e) EXPECT_EQ(y[e], -2.625f) << e;
  for (int e = 16; e < 256; ++e) EXPECT_EQ(y[e], -0.875f) << e;
}

// IQ1_S: the delta sign (bit 15 of qh) applies to all 32 elements of its sub-block; scale bits 12-14.
TEST(QuantIqGrids, Iq1SDeltaAndScale) {
  std::vector<uint8_t> b(50, 0);
  b[1] = 0x3C;                             // d = 1
  const uint16_t h1 = 0x8000 | (3 << 12);  // sub-block 1: delta -1/8, s = 3 -> 7
  std::memcpy(&b[34 + 2], &h1, 2);
  std::vector<float> y(256);
  traits(TensorType::IQ1_S).dequantize(b.data(), y.data(), 256);
  for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], -0.875f) << e;   // 1 * (-1 + 0.125)
  for (int e = 32; e < 64; ++e) EXPECT_EQ(y[e], -7.875f) << e;  // 7 * (-1 - 0.125)
  for (int e = 64; e < 256; ++e) EXPECT_EQ(y[e], -0.875f) << e;
}

// IQ3_S: bit m of qh[ib] is index bit 8 of qs[8ib + m]; explicit signs; scale 1 + 2s without /4.
TEST(QuantIqGrids, Iq3SHighIndexBitAndSigns) {
  std::vector<uint8_t> b(110, 0);
  b[1] = 0x3C;         // d = 1
  b[2 + 9] = 0;        // sub-block 1, index byte m = 1 (elements 36..39) ...
  b[66 + 1] = 1 << 1;  // ... gets index bit 8: index 256
  b[74 + 4] = 0x20;    // sub-block 1 group 0: lane 5 (element 37) negative
  b[106] = 0x20;       // sub-block 0: s = 0 (scale 1); sub-block 1: s = 2 (scale 5)
  std::vector<float> y(256);
  traits(TensorType::IQ3_S).dequantize(b.data(), y.data(), 256);
  const uint32_t entry256 = iq::kIq3sGrid[256];
  for (int k = 0; k < 4; ++k) {
    const float level = static_cast<float>((entry256 >> (8 * k)) & 0xFF);
    EXPECT_EQ(y[36 + k], (k == 1 ? -5.0f : 5.0f) * level) << k;
  }
  EXPECT_EQ(y[0], static_cast<float>(iq::kIq3sGrid[0] & 0xFF));
  EXPECT_EQ(y[32], 5.0f * static_cast<float>(iq::kIq3sGrid[0] & 0xFF));
}

}  // namespace
}  // namespace cria
