// The byte layout of one block of each quantized type (ggml's block_* structs, ../shared/docs/FORMATS.md
// section 2): where each field starts, and the block's size. Codecs, the type table and every kernel
// name these instead of writing byte counts; each layout is checked below to tile its block exactly.
// "f16" fields are IEEE half floats, "f32" single floats; quants are packed as FORMATS.md describes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cria::block {

// ---- 32-element blocks ---------------------------------------------------------------------------------
struct Q4_0 {    // f16 d, 16 bytes of nibbles
  static constexpr size_t d = 0, qs = 2, kBytes = 18;
};
struct Q4_1 {    // f16 d, f16 m, 16 bytes of nibbles
  static constexpr size_t d = 0, m = 2, qs = 4, kBytes = 20;
};
struct Q5_0 {    // f16 d, 32 fifth bits, 16 bytes of nibbles
  static constexpr size_t d = 0, qh = 2, qs = 6, kBytes = 22;
};
struct Q5_1 {    // f16 d, f16 m, 32 fifth bits, 16 bytes of nibbles
  static constexpr size_t d = 0, m = 2, qh = 4, qs = 8, kBytes = 24;
};
struct Q8_0 {    // f16 d, 32 int8
  static constexpr size_t d = 0, qs = 2, kBytes = 34;
};
struct Q8_1 {    // f16 d, f16 d * sum(qs), 32 int8 (activations only)
  static constexpr size_t d = 0, s = 2, qs = 4, kBytes = 36;
};
struct IQ4_NL {  // f16 d, 16 bytes of indices into the non-linear table
  static constexpr size_t d = 0, qs = 2, kBytes = 18;
  static constexpr int8_t kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
};

// ---- 256-element super-blocks --------------------------------------------------------------------------
struct Q2_K {    // 16 bytes of 4-bit scale/min pairs, 64 bytes of 2-bit quants, f16 d, f16 dmin
  static constexpr size_t scales = 0, qs = 16, d = 80, dmin = 82, kBytes = 84;
};
struct Q3_K {    // 32 bytes of high bits, 64 bytes of 2-bit quants, 12 bytes of 6-bit scales, f16 d
  static constexpr size_t hmask = 0, qs = 32, scales = 96, d = 108, kBytes = 110;
};
struct Q4_K {    // f16 d, f16 dmin, 12 bytes of 6-bit scale/min pairs, 128 bytes of nibbles
  static constexpr size_t d = 0, dmin = 2, scales = 4, qs = 16, kBytes = 144;
};
struct Q5_K {    // Q4_K's fields with 32 bytes of fifth bits before the nibbles
  static constexpr size_t d = 0, dmin = 2, scales = 4, qh = 16, qs = 48, kBytes = 176;
};
struct Q6_K {    // 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d
  static constexpr size_t ql = 0, qh = 128, scales = 192, d = 208, kBytes = 210;
};
struct Q8_K {    // f32 d, 256 int8, 16 int16 sums of 16 quants (activations only)
  static constexpr size_t d = 0, qs = 4, bsums = 260, kBytes = 292;
};
struct IQ4_XS {  // f16 d, 16 high scale bits, 4 bytes of low scale nibbles, 128 bytes of indices
  static constexpr size_t d = 0, scales_h = 2, scales_l = 4, qs = 8, kBytes = 136;
};
struct TQ1_0 {   // 48 bytes of base-3 fives, 4 bytes of base-3 fours, f16 d
  static constexpr size_t qs = 0, qh = 48, d = 52, kBytes = 54;
};
struct TQ2_0 {   // 64 bytes of 2-bit quants, f16 d
  static constexpr size_t qs = 0, d = 64, kBytes = 66;
};
struct IQ2_XXS {  // f16 d, 32 uint16 of grid indices, signs and scales
  static constexpr size_t d = 0, qs = 2, kBytes = 66;
};
struct IQ2_XS {  // f16 d, 32 uint16 of grid indices and signs, 8 bytes of scales
  static constexpr size_t d = 0, qs = 2, scales = 66, kBytes = 74;
};
struct IQ2_S {   // f16 d, 64 bytes of grid indices and signs, 8 bytes of high index bits, 8 of scales
  static constexpr size_t d = 0, qs = 2, qh = 66, scales = 74, kBytes = 82;
};
struct IQ3_XXS {  // f16 d, 64 bytes of grid indices, 32 bytes of signs and scales
  static constexpr size_t d = 0, qs = 2, kBytes = 98;
};
struct IQ3_S {   // f16 d, 64 bytes of grid indices, 8 of high bits, 32 of signs, 4 of scales
  static constexpr size_t d = 0, qs = 2, qh = 66, signs = 74, scales = 106, kBytes = 110;
};
struct IQ1_S {   // f16 d, 32 bytes of grid indices, 8 uint16 of high bits, scales and deltas
  static constexpr size_t d = 0, qs = 2, qh = 34, kBytes = 50;
};
struct IQ1_M {   // 32 bytes of grid indices, 16 bytes of high bits and deltas, 8 bytes of scales and d
  static constexpr size_t qs = 0, qh = 32, scales = 48, kBytes = 56;
};

// Each layout's fields in order, each of its size, fill the block exactly.
static_assert(Q4_0::qs + 16 == Q4_0::kBytes && Q4_1::qs + 16 == Q4_1::kBytes);
static_assert(Q5_0::qh + 4 == Q5_0::qs && Q5_0::qs + 16 == Q5_0::kBytes);
static_assert(Q5_1::qh + 4 == Q5_1::qs && Q5_1::qs + 16 == Q5_1::kBytes);
static_assert(Q8_0::qs + 32 == Q8_0::kBytes && Q8_1::qs + 32 == Q8_1::kBytes && IQ4_NL::qs + 16 == IQ4_NL::kBytes);
static_assert(Q2_K::qs == Q2_K::scales + 16 && Q2_K::d == Q2_K::qs + 64 && Q2_K::d + 4 == Q2_K::kBytes);
static_assert(Q3_K::qs == 32 && Q3_K::scales == Q3_K::qs + 64 && Q3_K::d == Q3_K::scales + 12 && Q3_K::d + 2 == Q3_K::kBytes);
static_assert(Q4_K::qs == Q4_K::scales + 12 && Q4_K::qs + 128 == Q4_K::kBytes);
static_assert(Q5_K::qh == Q5_K::scales + 12 && Q5_K::qs == Q5_K::qh + 32 && Q5_K::qs + 128 == Q5_K::kBytes);
static_assert(Q6_K::qh == 128 && Q6_K::scales == Q6_K::qh + 64 && Q6_K::d == Q6_K::scales + 16 && Q6_K::d + 2 == Q6_K::kBytes);
static_assert(Q8_K::bsums == Q8_K::qs + 256 && Q8_K::bsums + 16 * 2 == Q8_K::kBytes);
static_assert(IQ4_XS::qs == IQ4_XS::scales_l + 4 && IQ4_XS::qs + 128 == IQ4_XS::kBytes);
static_assert(TQ1_0::d == TQ1_0::qh + 4 && TQ1_0::d + 2 == TQ1_0::kBytes && TQ2_0::d + 2 == TQ2_0::kBytes);
static_assert(IQ2_XXS::qs + 64 == IQ2_XXS::kBytes && IQ2_XS::scales + 8 == IQ2_XS::kBytes);
static_assert(IQ2_S::qh == IQ2_S::qs + 64 && IQ2_S::scales == IQ2_S::qh + 8 && IQ2_S::scales + 8 == IQ2_S::kBytes);
static_assert(IQ3_XXS::qs + 96 == IQ3_XXS::kBytes);
static_assert(IQ3_S::qh == IQ3_S::qs + 64 && IQ3_S::signs == IQ3_S::qh + 8 && IQ3_S::scales == IQ3_S::signs + 32 &&
              IQ3_S::scales + 4 == IQ3_S::kBytes);
static_assert(IQ1_S::qh == IQ1_S::qs + 32 && IQ1_S::qh + 16 == IQ1_S::kBytes);
static_assert(IQ1_M::qh == IQ1_M::qs + 32 && IQ1_M::scales == IQ1_M::qh + 16 && IQ1_M::scales + 8 == IQ1_M::kBytes);

}  // namespace cria::block
