// Hand-built blocks for the layouts that are easiest to get wrong, with expected values worked out by hand
// from FORMATS.md section 2 (the working is in the comments), plus quantizer rounding on exact ties
// (3.1/3.2).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/codecs.h"

namespace cria::codec {
namespace {

// f16 bit patterns used below.
constexpr uint16_t kHalf = 0x3800;     // 0.5
constexpr uint16_t kOne = 0x3C00;      // 1.0
constexpr uint16_t kTwo = 0x4000;      // 2.0
constexpr uint16_t kQuarter = 0x3400;  // 0.25

void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}

TEST(QuantBlocks, Q3KScalesAndHighBits) {
  std::vector<uint8_t> b(110, 0);
  // scales @96: bytes 0-7 give low4 (j<8: low nibble of byte j, j>=8: high nibble of byte j-8);
  // bytes 8-11 give high2 of j at bits 2*(j/4) of byte 8 + j%4.
  const uint8_t scales[12] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE, 0xE4, 0x1B, 0x00, 0xFF};
  std::memcpy(&b[96], scales, 12);
  // low4:  j0..7 = 0,2,4,6,8,10,12,14; j8..15 = 1,3,5,7,9,11,13,15
  // high2: byte 8 = 0xE4 = pairs 0,1,2,3 -> j0:0 j4:1 j8:2 j12:3; byte 9 = 0x1B = pairs 3,2,1,0 -> j1:3 j5:2
  //        j9:1 j13:0; byte 10 = 0 -> j2,6,10,14: 0; byte 11 = 0xFF -> j3,7,11,15: 3
  // sc = (low4 | high2 << 4) - 32:
  const int sc[16] = {-32, 18, -28, 22, -8, 10, -20, 30, 1, -13, -27, 23, 25, -21, -19, 31};
  // hmask all set (no -4) and every 2-bit field 1, so q = 1 everywhere ...
  std::memset(&b[0], 0xFF, 32);
  std::memset(&b[32], 0x55, 64);
  // ... except element 3 (hmask byte 3, bit 0 cleared: q = 1 - 4 = -3) and element 197 (half 1, l = 5,
  // shift 2*((197-128)/32) = 4: qs byte 32 + 5 bits 4-5 = 3, hmask byte 197%32 = 5 bit 6 set: q = 3).
  b[3] = 0xFE;
  b[32 + 37] = 0x75;  // 0b01'11'01'01
  put_u16(b, 108, kHalf);
  std::vector<float> y(256);
  dequantize_row_q3_k(b.data(), y.data(), 256);
  for (int e = 0; e < 256; ++e) {
    int q = 1;
    if (e == 3) q = -3;
    if (e == 197) q = 3;
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(sc[e / 16]) * static_cast<float>(q)) << "element " << e;
  }
  EXPECT_EQ(y[3], 48.0f);    // 0.5 * -32 * -3
  EXPECT_EQ(y[197], 37.5f);  // 0.5 * 25 * 3
}

// Q4_K's packed (scale, min) pairs, decoded by hand:
//   j<4:  sc = byte j & 63, m = byte j+4 & 63
//   j>=4: sc = lo(byte j+4) | (byte j-4 >> 6) << 4, m = hi(byte j+4) | (byte j >> 6) << 4
const uint8_t kK4Scales[12] = {0x41, 0x82, 0xC3, 0x04, 0x45, 0x86, 0xC7, 0x08, 0x9A, 0xBC, 0xDE, 0xF0};
// j0..3: sc 1,2,3,4; m 5,6,7,8. j4: sc 10|1<<4 = 26, m 9|1<<4 = 25. j5: 12|2<<4 = 44, m 11|2<<4 = 43.
// j6: 14|3<<4 = 62, m 13|3<<4 = 61. j7: 0|0 = 0, m 15|0 = 15.
const int kK4Sc[8] = {1, 2, 3, 4, 26, 44, 62, 0};
const int kK4M[8] = {5, 6, 7, 8, 25, 43, 61, 15};

TEST(QuantBlocks, Q4KScaleMinUnpacking) {
  std::vector<uint8_t> b(144, 0);
  put_u16(b, 0, kOne);   // d
  put_u16(b, 2, kHalf);  // dmin
  std::memcpy(&b[4], kK4Scales, 12);
  std::memset(&b[16], 0x21, 128);  // low nibble 1 (even sub-blocks), high nibble 2 (odd sub-blocks)
  std::vector<float> y(256);
  dequantize_row_q4_k(b.data(), y.data(), 256);
  // x = (d*sc)*q - dmin*m: -1.5, 1, -0.5, 4, 13.5, 66.5, 31.5, -7.5
  const float expected[8] = {-1.5f, 1.0f, -0.5f, 4.0f, 13.5f, 66.5f, 31.5f, -7.5f};
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], static_cast<float>(kK4Sc[j] * (j % 2 == 0 ? 1 : 2)) - 0.5f * static_cast<float>(kK4M[j]));
    EXPECT_EQ(y[e], expected[j]) << "element " << e;
  }
}

TEST(QuantBlocks, Q5KFifthBit) {
  std::vector<uint8_t> b(176, 0);
  put_u16(b, 0, kOne);
  put_u16(b, 2, kHalf);
  std::memcpy(&b[4], kK4Scales, 12);
  std::memset(&b[16], 0x81, 32);   // qh: bit j of byte l is element 32j + l; bits 0 and 7 -> sub-blocks 0, 7
  std::memset(&b[48], 0x21, 128);  // nibbles as in the Q4_K test
  std::vector<float> y(256);
  dequantize_row_q5_k(b.data(), y.data(), 256);
  // Sub-block 0: 1*(1+16) - 2.5 = 14.5; sub-block 7: 0*(2+16) - 7.5 = -7.5; others as Q4_K.
  const float expected[8] = {14.5f, 1.0f, -0.5f, 4.0f, 13.5f, 66.5f, 31.5f, -7.5f};
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], expected[e / 32]) << "element " << e;
}

TEST(QuantBlocks, Q50HighBits) {
  std::vector<uint8_t> b(22, 0);
  put_u16(b, 0, kTwo);
  // H = 0x80010001: the 5th bit of elements 0, 16 and 31.
  b[2] = 0x01;
  b[3] = 0x00;
  b[4] = 0x01;
  b[5] = 0x80;
  std::memset(&b[6], 0x88, 16);  // every nibble 8
  b[6 + 1] = 0x3F;               // element 1: low nibble 15; element 17: high nibble 3
  std::vector<float> y(32);
  dequantize_row_q5_0(b.data(), y.data(), 32);
  // x = (q - 16) * 2 with q = nibble | bit << 4.
  for (int e = 0; e < 32; ++e) {
    float expected = -16.0f;                             // (8 - 16) * 2
    if (e == 0 || e == 16 || e == 31) expected = 16.0f;  // (24 - 16) * 2
    if (e == 1) expected = -2.0f;                        // (15 - 16) * 2
    if (e == 17) expected = -26.0f;                      // (3 - 16) * 2
    EXPECT_EQ(y[e], expected) << "element " << e;
  }
}

// TQ1_0: a byte stores ceil(N*256/243) for the base-3 number N of its trits, first trit most significant.
std::vector<uint8_t> hand_built_tq1() {
  std::vector<uint8_t> b(54, 0);
  // All-zero values are trits (1,1,1,1,1): N = 121 -> ceil(30976/243) = 128; for qh bytes (1,1,1,1,0):
  // N = 120 -> ceil(30720/243) = 127.
  std::memset(&b[0], 128, 48);
  std::memset(&b[48], 127, 4);
  // qs[0] holds elements 0, 32, 64, 96, 128. Trits (2,0,1,2,1) = values (+1,-1,0,+1,0):
  // N = 162 + 0 + 9 + 6 + 1 = 178 -> ceil(45568/243) = 188.
  b[0] = 188;
  // qs[37] (second group, m = 5) holds elements 165, 181, 197, 213, 229. Trits (1,1,1,1,2): N = 122 -> 129.
  b[37] = 129;
  // qh[2] holds elements 242, 246, 250, 254. Trits (0,2,2,0) then 0: N = 54 + 18 = 72 -> ceil(18432/243)
  // = 76.
  b[48 + 2] = 76;
  put_u16(b, 52, kQuarter);
  return b;
}

std::array<float, 256> tq1_expected_values() {
  std::array<float, 256> v{};
  v[0] = 0.25f;
  v[32] = -0.25f;
  v[96] = 0.25f;
  v[229] = 0.25f;
  v[242] = -0.25f;
  v[246] = 0.25f;
  v[250] = 0.25f;
  v[254] = -0.25f;
  return v;
}

TEST(QuantBlocks, Tq10BaseThree) {
  const std::vector<uint8_t> b = hand_built_tq1();
  const auto expected = tq1_expected_values();
  std::vector<float> y(256);
  dequantize_row_tq1_0(b.data(), y.data(), 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], expected[e]) << "element " << e;
}

TEST(QuantBlocks, Tq10QuantizerReproducesHandBuiltBlock) {
  // max |x| = 0.25 = d exactly, so every trit is exact and the bytes must be the hand-built ones.
  const auto values = tq1_expected_values();
  std::vector<uint8_t> b(54, 0xAA);
  quantize_row_tq1_0(values.data(), b.data(), 256);
  EXPECT_EQ(b, hand_built_tq1());
}

TEST(QuantBlocks, Q80RoundsHalfAwayFromZero) {
  // amax 127 -> d = 1, id = 1, so the quants are roundf(x) directly.
  std::array<float, 32> x{};
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -0.5f;
  x[5] = 3.5f;
  std::vector<uint8_t> b(34);
  quantize_row_q8_0(x.data(), b.data(), 32);
  EXPECT_EQ(b[0] | (b[1] << 8), kOne);
  const auto* qs = reinterpret_cast<const int8_t*>(&b[2]);
  EXPECT_EQ(qs[0], 127);
  EXPECT_EQ(qs[1], 3);
  EXPECT_EQ(qs[2], -3);
  EXPECT_EQ(qs[3], 1);
  EXPECT_EQ(qs[4], -1);
  EXPECT_EQ(qs[5], 4);
  EXPECT_EQ(qs[6], 0);
}

TEST(QuantBlocks, Q40TruncatesAfterAddingHalfAndClampsTheTop) {
  // Signed max -8 -> d = -8/-8 = 1, id = 1; q = min(15, trunc(x + 8.5)).
  std::array<float, 32> x{};
  x[0] = -8.0f;   // 0.5 -> 0
  x[1] = 0.5f;    // 9.0 exactly -> 9
  x[2] = -0.5f;   // 8.0 exactly -> 8
  x[3] = 7.9f;    // 16.4 -> 16 -> clamped to 15
  x[16] = -1.5f;  // 7.0 -> 7 (high nibble of byte 0)
  std::vector<uint8_t> b(18);
  quantize_row_q4_0(x.data(), b.data(), 32);
  EXPECT_EQ(b[0] | (b[1] << 8), kOne);
  EXPECT_EQ(b[2 + 0], 0x70);      // element 0 low nibble 0, element 16 high nibble 7
  EXPECT_EQ(b[2 + 1], 0x89);      // element 1: 9; element 17 (x = 0): trunc(8.5) = 8
  EXPECT_EQ(b[2 + 2], 0x88);      // element 2: 8
  EXPECT_EQ(b[2 + 3] & 0xF, 15);  // element 3 clamped
}

TEST(QuantBlocks, Q8KRoundsTiesToEvenAndSumsGroups) {
  // Signed max -127 -> iscale = -127/-127 = 1 and d = 1/iscale = 1; nearest_int rounds ties to even.
  std::array<float, 256> x{};
  x[0] = -127.0f;
  x[1] = 2.5f;   // -> 2
  x[2] = 3.5f;   // -> 4
  x[3] = -2.5f;  // -> -2
  x[16] = 0.5f;  // -> 0
  x[17] = 1.5f;  // -> 2
  std::vector<uint8_t> b(292);
  quantize_row_q8_k(x.data(), b.data(), 256);
  float d = 0.0f;
  std::memcpy(&d, &b[0], 4);
  EXPECT_EQ(d, 1.0f);
  const auto* qs = reinterpret_cast<const int8_t*>(&b[4]);
  EXPECT_EQ(qs[0], -127);
  EXPECT_EQ(qs[1], 2);
  EXPECT_EQ(qs[2], 4);
  EXPECT_EQ(qs[3], -2);
  EXPECT_EQ(qs[16], 0);
  EXPECT_EQ(qs[17], 2);
  int16_t bsums[16];
  std::memcpy(bsums, &b[260], sizeof bsums);
  EXPECT_EQ(bsums[0], -127 + 2 + 4 - 2);
  EXPECT_EQ(bsums[1], 2);
  for (int g = 2; g < 16; ++g) EXPECT_EQ(bsums[g], 0);
}

TEST(QuantBlocks, Iq4XsSubBlockScales) {
  std::vector<uint8_t> b(136, 0);
  put_u16(b, 0, kOne);
  // ls(ib) = ((scales_l[ib/2] >> 4*(ib%2)) & 15) | ((scales_h >> 2*ib) & 3) << 4.
  // scales_h = 0x8421 -> pairs (ib 0..7) = 1,0,2,0,0,1,0,2; scales_l = {0x10, 0x32, 0x54, 0x76} ->
  // low parts 0,1,2,3,4,5,6,7. ls = 16, 1, 34, 3, 4, 21, 6, 39; ls - 32 = -16,-31,2,-29,-28,-11,-26,7.
  put_u16(b, 2, 0x8421);
  b[4] = 0x10;
  b[5] = 0x32;
  b[6] = 0x54;
  b[7] = 0x76;
  std::memset(&b[8], 0xF0, 128);  // first 16 of each 32: index 0 (-127); last 16: index 15 (113)
  std::vector<float> y(256);
  dequantize_row_iq4_xs(b.data(), y.data(), 256);
  const int scale[8] = {-16, -31, 2, -29, -28, -11, -26, 7};
  for (int e = 0; e < 256; ++e) {
    const float level = (e % 32) < 16 ? -127.0f : 113.0f;
    EXPECT_EQ(y[e], static_cast<float>(scale[e / 32]) * level) << "element " << e;
  }
}

}  // namespace
}  // namespace cria::codec
