// Shared pieces of the reference quantizers: block field access, llama.cpp's rounding helper and the
// scale searches of the K-quants (FORMATS.md 3.1 and 3.3).
//
// The goal is byte-identical output with llama-quantize (without an importance matrix), so every search
// below evaluates its float expressions in the same order and with the same intermediate roundings as
// llama.cpp's ggml-quants.c. Reordering a sum, hoisting a product or letting the compiler fuse a*b+c into
// one FMA changes low bits of a score, which changes which candidate wins a tie-ish comparison, which
// changes the bytes. Keep the association exactly as written.
#pragma once

// No FMA contraction in the files that include this header: ISO C++ mode (-std=c++20, the project's
// setting) already implies -ffp-contract=off for GCC; these pragmas keep it so under GNU mode or clang.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cstdint>
#include <cstring>

#include "core/fp16.h"

namespace cria::codec::detail {

// --- Packed, possibly unaligned block fields (little-endian host assumed, as everywhere in cria). ---

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Stores f16(v) (round to nearest even) and returns the stored value widened back to f32, because the
// quantizers re-quantize against the scale as a decoder will see it.
inline float store_f16(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
  return fp16_to_fp32(h);
}

inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// --- Rounding ---

// Round to nearest, ties to even (FORMATS.md 3.1). Adding 1.5*2^23 pushes the integer part into the low
// mantissa bits, where the FPU's own round-to-nearest-even does the work; only valid for |v| <= 4194303,
// which every caller guarantees by construction (quant levels and scale indices are small).
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

// Below this absolute maximum a group counts as all zero (llama.cpp's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

// --- Scale searches (FORMATS.md 3.3) ---

// Symmetric search with weights w = x^2 (llama.cpp make_qx_quants with rmse_type 1 and no importance
// weights). Levels are chosen in [-nmax, nmax-1] and stored in L as level + nmax. Returns the scale;
// its sign is opposite to the element of largest magnitude.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L);

// Symmetric search for Q3_K (llama.cpp make_qx_quants' sibling make_q3_quants with do_rmse): start like
// make_qx_quants, then up to 5 coordinate-descent sweeps re-choosing single levels. L as above.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric search x ~ scale*L - the_min with L in [0, nmax] (llama.cpp make_qkx2_quants). `weights`
// has n entries; `Laux` is scratch of n bytes. Writes the non-negative offset to *the_min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

}  // namespace cria::codec::detail
