// Decoders of the grid i-quants (FORMATS.md 2.6): IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M.
// Each 8-element group (4 for the IQ3 grid entries) is an index into a fixed codebook (iq_tables.h), with
// sign bits and a 3- or 4-bit sub-block scale. The float expressions follow FORMATS.md's association,
// although for these types every intermediate is exact in binary32, so any order gives the same bits.
//
// Safety by construction: every index is built from masked bit fields whose width equals the log2 of
// its table's size, and grid_entry() masks once more against the table's (power-of-two) size, so no block
// content can read outside a table. There are no quantizers yet: llama.cpp's need an importance matrix
// (IQ1/IQ2) or a grid search that cria does not have.
#include <array>
#include <cstdint>

#include "quant/codecs.h"
#include "quant/iq_tables.h"
#include "quant/kquant_search.h"

namespace cria::codec {

using detail::load_f16;
using detail::load_u32;
using iq::grid_entry;

namespace {

constexpr int kSuper = 256;

// Lane k of a grid entry: its k-th least significant byte.
template <typename E>
int lane(E entry, int k) {
  return static_cast<int>((entry >> (8 * k)) & 0xFF);
}
int signed_lane(uint64_t entry, int k) { return static_cast<int8_t>(static_cast<uint8_t>(entry >> (8 * k))); }

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// Eight elements of an unsigned 8-lane grid entry times db, lane k negated when bit k of S is set.
void put_group8(uint64_t entry, uint8_t S, float db, float* y) {
  for (int j = 0; j < 8; ++j) {
    const float v = db * static_cast<float>(lane(entry, j));
    y[j] = ((S >> j) & 1) ? -v : v;
  }
}

// Eight elements from two 4-lane entries (lanes 0-3, then 4-7), signs as above.
void put_group4x2(uint32_t lo, uint32_t hi, uint8_t S, float db, float* y) {
  for (int j = 0; j < 8; ++j) {
    const float v = db * static_cast<float>(lane(j < 4 ? lo : hi, j % 4));
    y[j] = ((S >> j) & 1) ? -v : v;
  }
}

// IQ1: dl * (lane + delta), the sum formed first (exact: lane in {-1, 0, 1}, delta = +-1/8).
void put_group_iq1(uint64_t entry, float delta, float dl, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(signed_lane(entry, j)) + delta);
}

// IQ2_* and IQ3_XXS sub-block scale: (d * (0.5 + s)) * 0.25 (IQ2) or * 0.5 (IQ3_XXS).
float half_step_scale(float d, int s, float factor) { return (d * (0.5f + static_cast<float>(s))) * factor; }

}  // namespace

// -------------------------------------------------------------------------------------------------- IQ2_XXS
// f16 d @0; per 32-element sub-block ib, bytes @(2 + 8ib): four grid indices, then u32 W holding four 7-bit
// sign indices (bits 7l..7l+6) and the 4-bit scale (bits 28-31).

void dequantize_row_iq2_xxs(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 66, dst += kSuper) {
    const float d = load_f16(block);
    for (int ib = 0; ib < 8; ++ib) {
      const uint8_t* q = block + 2 + 8 * ib;
      const uint32_t W = load_u32(q + 4);
      const float db = half_step_scale(d, static_cast<int>(W >> 28), 0.25f);
      for (int l = 0; l < 4; ++l) {
        const uint8_t S = iq::ksigns_iq2xs((W >> (7 * l)) & 127);
        put_group8(grid_entry(iq::kIq2xxsGrid, q[l]), S, db, dst + 32 * ib + 8 * l);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------- IQ2_XS
// f16 d @0; u16 qs[32] @2 (9-bit index | 7-bit sign index << 9); u8 scales[8] @66 (two 4-bit per 32).

void dequantize_row_iq2_xs(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 74, dst += kSuper) {
    const float d = load_f16(block);
    const uint8_t* scales = block + 66;
    for (int g = 0; g < 32; ++g) {
      const int ib = g / 4, l = g % 4;
      const uint16_t w = load_u16(block + 2 + 2 * g);
      const int s = l < 2 ? (scales[ib] & 0x0F) : (scales[ib] >> 4);
      put_group8(grid_entry(iq::kIq2xsGrid, w & 511), iq::ksigns_iq2xs(w >> 9), half_step_scale(d, s, 0.25f),
                 dst + 8 * g);
    }
  }
}

// -------------------------------------------------------------------------------------------------- IQ2_S
// f16 d @0; u8 qs[32] @2 (index bits 0-7); u8 signs[32] @34; u8 qh[8] @66 (index bits 8-9, two bits per
// group); u8 scales[8] @74.

void dequantize_row_iq2_s(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 82, dst += kSuper) {
    const float d = load_f16(block);
    const uint8_t* qs = block + 2;
    const uint8_t* signs = block + 34;
    const uint8_t* qh = block + 66;
    const uint8_t* scales = block + 74;
    for (int g = 0; g < 32; ++g) {
      const int ib = g / 4, l = g % 4;
      const uint32_t index = qs[g] | (((qh[ib] >> (2 * l)) & 3u) << 8);
      const int s = l < 2 ? (scales[ib] & 0x0F) : (scales[ib] >> 4);
      put_group8(grid_entry(iq::kIq2sGrid, index), signs[g], half_step_scale(d, s, 0.25f), dst + 8 * g);
    }
  }
}

// -------------------------------------------------------------------------------------------------- IQ3_XXS
// f16 d @0; u8 qs[64] @2 (one 8-bit index per 4 elements); per sub-block ib a u32 @(66 + 4ib) with four
// 7-bit sign indices and the 4-bit scale, as IQ2_XXS.

void dequantize_row_iq3_xxs(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 98, dst += kSuper) {
    const float d = load_f16(block);
    const uint8_t* qs = block + 2;
    for (int ib = 0; ib < 8; ++ib) {
      const uint32_t W = load_u32(block + 66 + 4 * ib);
      const float db = half_step_scale(d, static_cast<int>(W >> 28), 0.5f);
      for (int l = 0; l < 4; ++l) {
        const int g = 4 * ib + l;
        const uint8_t S = iq::ksigns_iq2xs((W >> (7 * l)) & 127);
        put_group4x2(grid_entry(iq::kIq3xxsGrid, qs[2 * g]), grid_entry(iq::kIq3xxsGrid, qs[2 * g + 1]), S,
                     db, dst + 8 * g);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------- IQ3_S
// f16 d @0; u8 qs[64] @2 (index bits 0-7 per 4 elements); u8 qh[8] @66 (bit m of qh[ib] = index bit 8 of
// qs[8ib + m]); u8 signs[32] @74; u8 scales[4] @106 (one 4-bit scale per 32).

void dequantize_row_iq3_s(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 110, dst += kSuper) {
    const float d = load_f16(block);
    const uint8_t* qs = block + 2;
    const uint8_t* qh = block + 66;
    const uint8_t* signs = block + 74;
    const uint8_t* scales = block + 106;
    for (int ib = 0; ib < 8; ++ib) {
      const int s = ib % 2 == 0 ? (scales[ib / 2] & 0x0F) : (scales[ib / 2] >> 4);
      const float db = d * static_cast<float>(1 + 2 * s);
      for (int l = 0; l < 4; ++l) {
        const int k = 8 * ib + 2 * l;  // index byte of lanes 0-3; k + 1 for lanes 4-7
        const uint32_t lo = qs[k] | (((qh[ib] >> (2 * l)) & 1u) << 8);
        const uint32_t hi = qs[k + 1] | (((qh[ib] >> (2 * l + 1)) & 1u) << 8);
        put_group4x2(grid_entry(iq::kIq3sGrid, lo), grid_entry(iq::kIq3sGrid, hi), signs[4 * ib + l], db,
                     dst + 32 * ib + 8 * l);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------- IQ1_S
// f16 d @0; u8 qs[32] @2 (index bits 0-7); u16 qh[8] @34: per sub-block, index bits 8-10 of its four
// groups (bits 3l..3l+2), the 3-bit scale (bits 12-14) and the delta sign (bit 15).

void dequantize_row_iq1_s(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 50, dst += kSuper) {
    const float d = load_f16(block);
    const uint8_t* qs = block + 2;
    for (int ib = 0; ib < 8; ++ib) {
      const uint16_t h = load_u16(block + 34 + 2 * ib);
      const float dl = d * static_cast<float>(2 * ((h >> 12) & 7) + 1);
      const float delta = (h & 0x8000) ? -0.125f : 0.125f;
      for (int l = 0; l < 4; ++l) {
        const int g = 4 * ib + l;
        const uint32_t index = qs[g] | (((h >> (3 * l)) & 7u) << 8);
        put_group_iq1(grid_entry(iq::kIq1sGrid, index), delta, dl, dst + 8 * g);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------- IQ1_M
// u8 qs[32] @0 (index bits 0-7); u8 qh[16] @32 (one nibble per group: index bits 8-10, delta sign);
// u8 scales[8] @48 as four u16 words: 3-bit scales of the 16-element sub-blocks in bits 0-11, one nibble of
// the f16 super-scale in bits 12-15 (word 0 lowest).

void dequantize_row_iq1_m(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += 56, dst += kSuper) {
    const uint8_t* qs = block;
    const uint8_t* qh = block + 32;
    uint16_t W[4];
    for (int i = 0; i < 4; ++i) W[i] = load_u16(block + 48 + 2 * i);
    const uint16_t bits = static_cast<uint16_t>((W[0] >> 12) | ((W[1] >> 12) << 4) | ((W[2] >> 12) << 8) |
                                                ((W[3] >> 12) << 12));
    const float d = fp16_to_fp32(bits);
    for (int g = 0; g < 32; ++g) {
      const int t = g / 2;  // 16-element sub-block
      const int s = (W[t / 4] >> (3 * (t % 4))) & 7;
      const int nib = g % 2 == 0 ? (qh[g / 2] & 0x0F) : (qh[g / 2] >> 4);
      const uint32_t index = qs[g] | (static_cast<uint32_t>(nib & 7) << 8);
      const float delta = (nib & 8) ? -0.125f : 0.125f;
      put_group_iq1(grid_entry(iq::kIq1sGrid, index), delta, d * static_cast<float>(2 * s + 1), dst + 8 * g);
    }
  }
}

}  // namespace cria::codec
