// AArch64 NEON GEMM kernels, shared by the plain NEON and the dotprod builds: each includes this file
// once inside its own namespace (CRIA_NEON_NAMESPACE). With CRIA_NEON_DOTPROD the int8 dot product of 16
// bytes is one sdot; without it, widening multiplies (smull) and pairwise adds (sadalp).
//
// NEON multiplies signed by signed bytes, so unlike the x86 kernels no sign trick or unsigned offset is
// needed: every decoder yields the scalar reference's own integer quants (vec_dot_scalar.cpp), and the
// 256-element types keep the reference's exact integer sums per super-block, scaled once in float the
// same way. Only the 32-element and float types sum in a different order (vector lanes).
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ops/cpu/tile_driver_impl.h"
#include "ops/kernels.h"
#include "quant/block_layouts.h"
#include "ops/vec_dot.h"

namespace cria::ops::CRIA_NEON_NAMESPACE {

// Weight rows x tokens per tile: 16 accumulators out of 32 vector registers.
constexpr int kRows = 4;
constexpr int kTokens = 4;

// A 32-element chunk as two 16-byte halves (elements 0-15, 16-31).
struct Chunk {
  int8x16_t lo, hi;
};

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

inline float f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

inline Chunk load_chunk(const uint8_t* p) {
  return {vreinterpretq_s8_u8(vld1q_u8(p)), vreinterpretq_s8_u8(vld1q_u8(p + 16))};
}

// Sum of a * b over 16 signed bytes, added into 4 int32 lanes.
inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
#ifdef CRIA_NEON_DOTPROD
  return vdotq_s32(acc, a, b);
#else
  // Each product fits int16 (|-128 * -128| = 2^14); pairs are summed only after widening to int32.
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

inline int32x4_t dot32(int32x4_t acc, const Chunk& a, const Chunk& b) { return dot16(dot16(acc, a.lo, b.lo), a.hi, b.hi); }

// 16 bytes -> 32 values: low nibbles first, then high nibbles (the Q4_0 element order).
inline Chunk nibbles(const uint8_t* p) {
  const uint8x16_t raw = vld1q_u8(p);
  return {vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f))), vreinterpretq_s8_u8(vshrq_n_u8(raw, 4))};
}

// Bit e of `bits` as 0 or 16 in byte e (the fifth bit of Q5_0 / Q5_1).
inline Chunk fifth_bits(uint32_t bits) {
  const uint8x16_t lane_bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const auto spread = [&](uint32_t two_bytes) {
    const uint8x16_t bytes = vcombine_u8(vdup_n_u8(static_cast<uint8_t>(two_bytes)),
                                         vdup_n_u8(static_cast<uint8_t>(two_bytes >> 8)));
    return vreinterpretq_s8_u8(vandq_u8(vtstq_u8(bytes, lane_bit), vdupq_n_u8(16)));
  };
  return {spread(bits & 0xffff), spread(bits >> 16)};
}

inline Chunk add(const Chunk& c, int8_t v) { return {vaddq_s8(c.lo, vdupq_n_s8(v)), vaddq_s8(c.hi, vdupq_n_s8(v))}; }
inline Chunk bit_or(const Chunk& a, const Chunk& b) { return {vorrq_s8(a.lo, b.lo), vorrq_s8(a.hi, b.hi)}; }

// 16 bytes of IQ4_NL indices -> 32 values of its non-linear table, in the Q4_0 element order.
inline Chunk iq4nl_values(const uint8_t* p) {
  const int8x16_t table = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  const uint8x16_t raw = vld1q_u8(p);
  return {vqtbl1q_s8(table, vandq_u8(raw, vdupq_n_u8(0x0f))), vqtbl1q_s8(table, vshrq_n_u8(raw, 4))};
}

// Q5_0 / Q5_1 quants without their offset: 32 high bits at p, then 16 bytes of low nibbles.
inline Chunk five_bit_quants(const uint8_t* p) {
  uint32_t h;
  std::memcpy(&h, p, 4);
  return bit_or(nibbles(p + 4), fifth_bits(h));
}

// ---- 32-element blocks against Q8_0 / Q8_1 ---------------------------------------------------------------

// Each decoder gives a block's 32 quants and its scale; kOffset marks the types that add m_w * s_x per
// block against Q8_1 activations.
struct DecodeQ4_0 {
  using Layout = block::Q4_0;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kOffset = false;
  static Chunk quants(const uint8_t* b) { return add(nibbles(b + Layout::qs), -8); }
};
struct DecodeQ4_1 {
  using Layout = block::Q4_1;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kOffset = true;
  static Chunk quants(const uint8_t* b) { return nibbles(b + Layout::qs); }
};
struct DecodeQ5_0 {
  using Layout = block::Q5_0;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kOffset = false;
  static Chunk quants(const uint8_t* b) { return add(five_bit_quants(b + Layout::qh), -16); }
};
struct DecodeQ5_1 {
  using Layout = block::Q5_1;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kOffset = true;
  static Chunk quants(const uint8_t* b) { return five_bit_quants(b + Layout::qh); }
};
struct DecodeQ8_0 {
  using Layout = block::Q8_0;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kOffset = false;
  static Chunk quants(const uint8_t* b) { return load_chunk(b + Layout::qs); }
};
struct DecodeIq4Nl {
  using Layout = block::IQ4_NL;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kOffset = false;
  static Chunk quants(const uint8_t* b) { return iq4nl_values(b + Layout::qs); }
};

template <class D, int R, int T>
void tile_32(int64_t n_blocks, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
  // Q8_1 activations (with d * sum) for the offset types, Q8_0 for the others.
  using Act = std::conditional_t<D::kOffset, block::Q8_1, block::Q8_0>;
  constexpr size_t kActBytes = Act::kBytes, kActQuants = Act::qs;
  float32x4_t acc[R][T];
  float offsets[R][T] = {};
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0);
  for (int64_t b = 0; b < n_blocks; ++b) {
    Chunk q[R];
    float dw[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* wb = w[r] + b * D::kBytes;
      __builtin_prefetch(wb + 16 * D::kBytes);
      q[r] = D::quants(wb);
      dw[r] = f16(wb);
    }
    for (int t = 0; t < T; ++t) {
      const uint8_t* xb = x[t] + b * kActBytes;
      const Chunk xq = load_chunk(xb + kActQuants);
      const float dx = f16(xb);
      for (int r = 0; r < R; ++r) {
        const int32x4_t isum = dot32(vdupq_n_s32(0), q[r], xq);
        acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(isum), dw[r] * dx);
        if constexpr (D::kOffset) offsets[r][t] += f16(w[r] + b * D::kBytes + D::Layout::m) * f16(xb + block::Q8_1::s);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r][t] = vaddvq_f32(acc[r][t]) + offsets[r][t];
}

// ---- 256-element super-blocks against Q8_K (block::Q8_K: f32 d, 256 int8, 16 int16 sums) ------------------

// Per super-block: the float scales, and per 16 elements an integer scale and min (a 32-element
// sub-block's value written twice), as in SuperBlockInts.
struct SuperScales {
  float d, dmin;
  int16_t scale[16];
  int16_t min[16];
};

inline void expand_sub32(const int16_t (&per32)[8], int16_t (&per16)[16]) {
  for (int j = 0; j < 8; ++j) per16[2 * j] = per16[2 * j + 1] = per32[j];
}

// Q2_K / Q3_K / TQ2_0 two-bit field of chunk c: byte qs[32 * (c / 4) + l] >> 2 * (c % 4).
inline Chunk two_bits(const uint8_t* qs, int c) {
  const int shift = 2 * (c % 4);
  const int8x16_t sh = vdupq_n_s8(static_cast<int8_t>(-shift));
  const uint8x16_t three = vdupq_n_u8(3);
  const uint8_t* p = qs + 32 * (c / 4);
  return {vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vld1q_u8(p), sh), three)),
          vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vld1q_u8(p + 16), sh), three))};
}

// Bit c of each of 32 bytes, shifted to bit `to`.
inline Chunk bit_plane(const uint8_t* bits32, int c, int to) {
  const int8x16_t down = vdupq_n_s8(static_cast<int8_t>(-c));
  const int8x16_t up = vdupq_n_s8(static_cast<int8_t>(to));
  const uint8x16_t one = vdupq_n_u8(1);
  const auto plane = [&](const uint8_t* p) {
    return vreinterpretq_s8_u8(vshlq_u8(vandq_u8(vshlq_u8(vld1q_u8(p), down), one), up));
  };
  return {plane(bits32), plane(bits32 + 16)};
}

// The low or the high nibbles of 32 bytes.
inline Chunk nibbles_of_32(const uint8_t* p, bool high) {
  const auto nib = [&](const uint8_t* q) {
    const uint8x16_t v = vld1q_u8(q);
    return vreinterpretq_s8_u8(high ? vshrq_n_u8(v, 4) : vandq_u8(v, vdupq_n_u8(0x0f)));
  };
  return {nib(p), nib(p + 16)};
}

// Q4_K / Q5_K nibbles of chunk c: byte qs[32 * (c / 2) + l], low nibble for even c, high for odd.
inline Chunk k_nibbles(const uint8_t* qs, int c) { return nibbles_of_32(qs + 32 * (c / 2), c % 2 != 0); }

struct DecodeQ2_K {
  using Layout = block::Q2_K;
  using Scales = SuperScales;
  static void scales(const uint8_t* b, SuperScales& s) {
    for (int j = 0; j < 16; ++j) {
      s.scale[j] = b[j] & 0x0f;
      s.min[j] = b[j] >> 4;
    }
    s.d = f16(b + Layout::d);
    s.dmin = f16(b + Layout::dmin);
  }
  static Chunk chunk(const uint8_t* b, const Scales&, int c) { return two_bits(b + Layout::qs, c); }
};
struct DecodeQ3_K {
  using Layout = block::Q3_K;
  using Scales = SuperScales;
  static void scales(const uint8_t* b, SuperScales& s) {
    const uint8_t* sc = b + Layout::scales;
    for (int j = 0; j < 16; ++j) {
      const int low4 = j < 8 ? (sc[j] & 0x0f) : (sc[j - 8] >> 4);
      const int high2 = (sc[8 + j % 4] >> (2 * (j / 4))) & 3;
      s.scale[j] = static_cast<int16_t>((low4 | (high2 << 4)) - 32);
      s.min[j] = 0;
    }
    s.d = f16(b + Layout::d);
    s.dmin = 0;
  }
  // q = (two low bits | high-mask bit << 2) - 4.
  static Chunk chunk(const uint8_t* b, const Scales&, int c) {
    return add(bit_or(two_bits(b + Layout::qs, c), bit_plane(b, c, 2)), -4);
  }
};
// The eight 6-bit (scale, min) pairs of Q4_K and Q5_K (FORMATS.md 2.4), and their d and dmin.
inline void scale_min_k4(const uint8_t* b, SuperScales& s) {
  using Layout = block::Q4_K;
  static_assert(Layout::scales == block::Q5_K::scales && Layout::dmin == block::Q5_K::dmin);
  const uint8_t* sc = b + Layout::scales;
  int16_t scale[8], min[8];
  for (int j = 0; j < 4; ++j) {
    scale[j] = sc[j] & 63;
    min[j] = sc[j + 4] & 63;
    scale[j + 4] = static_cast<int16_t>((sc[j + 8] & 0x0f) | ((sc[j] >> 6) << 4));
    min[j + 4] = static_cast<int16_t>((sc[j + 8] >> 4) | ((sc[j + 4] >> 6) << 4));
  }
  expand_sub32(scale, s.scale);
  expand_sub32(min, s.min);
  s.d = f16(b + Layout::d);
  s.dmin = f16(b + Layout::dmin);
}
struct DecodeQ4_K {
  using Layout = block::Q4_K;
  using Scales = SuperScales;
  static constexpr bool kScalePer32 = true;
  static void scales(const uint8_t* b, SuperScales& s) { scale_min_k4(b, s); }
  static Chunk chunk(const uint8_t* b, const Scales&, int c) { return k_nibbles(b + Layout::qs, c); }
};
struct DecodeQ5_K {
  using Layout = block::Q5_K;
  using Scales = SuperScales;
  static constexpr bool kScalePer32 = true;
  static void scales(const uint8_t* b, SuperScales& s) { scale_min_k4(b, s); }
  static Chunk chunk(const uint8_t* b, const Scales&, int c) {
    return bit_or(k_nibbles(b + Layout::qs, c), bit_plane(b + Layout::qh, c, 4));
  }
};
struct DecodeQ6_K {
  using Layout = block::Q6_K;
  using Scales = SuperScales;
  static void scales(const uint8_t* b, SuperScales& s) {
    for (int j = 0; j < 16; ++j) {
      s.scale[j] = static_cast<int8_t>(b[192 + j]);
      s.min[j] = 0;
    }
    s.d = f16(b + Layout::d);
    s.dmin = 0;
  }
  // q = (low nibble | two high bits << 4) - 32; half h = c / 4 of the super-block, quarter k = c % 4.
  static Chunk chunk(const uint8_t* b, const Scales&, int c) {
    const int h = c / 4, k = c % 4;
    const Chunk low = nibbles_of_32(b + 64 * h + 32 * (k & 1), k >= 2);
    const int8x16_t down = vdupq_n_s8(static_cast<int8_t>(-2 * k));
    const uint8_t* qh = b + Layout::qh + 32 * h;
    const auto high = [&](const uint8_t* p) {
      return vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(vshlq_u8(vld1q_u8(p), down), vdupq_n_u8(3)), 4));
    };
    return add(bit_or(low, {high(qh), high(qh + 16)}), -32);
  }
};
struct DecodeTq2_0 {
  using Layout = block::TQ2_0;
  using Scales = SuperScales;
  static void scales(const uint8_t* b, SuperScales& s) {
    for (int j = 0; j < 16; ++j) {
      s.scale[j] = 1;
      s.min[j] = 0;
    }
    s.d = f16(b + Layout::d);
    s.dmin = 0;
  }
  static Chunk chunk(const uint8_t* b, const Scales&, int c) { return add(two_bits(b, c), -1); }
};
struct DecodeIq4Xs {
  using Layout = block::IQ4_XS;
  using Scales = SuperScales;
  static constexpr bool kScalePer32 = true;
  static void scales(const uint8_t* b, SuperScales& s) {
    uint16_t h;
    std::memcpy(&h, b + Layout::scales_h, 2);
    int16_t scale[8];
    for (int ib = 0; ib < 8; ++ib) {
      scale[ib] = static_cast<int16_t>((((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((h >> (2 * ib)) & 3) << 4)) - 32);
      s.min[2 * ib] = s.min[2 * ib + 1] = 0;
    }
    expand_sub32(scale, s.scale);
    s.d = f16(b);
    s.dmin = 0;
  }
  static Chunk chunk(const uint8_t* b, const Scales&, int c) { return iq4nl_values(b + Layout::qs + 16 * c); }
};

// Any other Q8_K-paired type (TQ1_0's base-3 digits, the i-quant grids): the scalar unpacker decodes
// the super-block once into integers; the dot products still run on vectors.
struct UnpackedScales : SuperScales {
  int8_t q[256];
};
template <int kTypeId>
struct DecodeUnpacked {
  using Scales = UnpackedScales;
  static void scales(const uint8_t* b, UnpackedScales& s) {
    static const UnpackSuperBlockFn unpack = scalar_unpack_super_block(static_cast<TensorType>(kTypeId));
    SuperBlockInts ints;
    unpack(b, ints);
    std::memcpy(s.q, ints.q, 256);
    for (int g = 0; g < 16; ++g) {
      const int j = g * 16 / ints.sub_size;
      s.scale[g] = ints.scale[j];
      s.min[g] = ints.min[j];
    }
    s.d = ints.d;
    s.dmin = ints.dmin;
  }
  static Chunk chunk(const uint8_t*, const UnpackedScales& s, int c) {
    return load_chunk(reinterpret_cast<const uint8_t*>(s.q) + 32 * c);
  }
};

// sum over the 16 groups of min[g] * bsums[g].
inline int32_t min_sum(const int16_t* min, const uint8_t* bsums_bytes) {
  int16_t bsums[16];
  std::memcpy(bsums, bsums_bytes, sizeof bsums);
  const int16x8_t m0 = vld1q_s16(min), m1 = vld1q_s16(min + 8);
  const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
  int32x4_t s = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
  s = vmlal_high_s16(s, m0, b0);
  s = vmlal_s16(s, vget_low_s16(m1), vget_low_s16(b1));
  s = vmlal_high_s16(s, m1, b1);
  return vaddvq_s32(s);
}

// Types whose scales cover 32 elements (kScalePer32) take one multiply per chunk instead of two.
template <class D>
constexpr bool scale_per_32() {
  if constexpr (requires { D::kScalePer32; }) {
    return D::kScalePer32;
  } else {
    return false;
  }
}

template <class D, int R, int T>
void tile_256(int64_t n_blocks, size_t block_bytes, const uint8_t* const* w, const uint8_t* const* x,
              float out[R][T]) {
  float acc[R][T] = {};
  for (int64_t b = 0; b < n_blocks; ++b) {
    typename D::Scales s[R];
    const uint8_t* wb[R];
    for (int r = 0; r < R; ++r) {
      wb[r] = w[r] + b * block_bytes;
      __builtin_prefetch(wb[r] + 2 * block_bytes);
      __builtin_prefetch(wb[r] + 2 * block_bytes + 64);
      __builtin_prefetch(wb[r] + 2 * block_bytes + 128);
      D::scales(wb[r], s[r]);
    }
    const uint8_t* xb[T];
    for (int t = 0; t < T; ++t) xb[t] = x[t] + b * block::Q8_K::kBytes;
    // Exact integer sums over the super-block: sum over groups of scale * (group dot product).
    int32x4_t isum[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) isum[r][t] = vdupq_n_s32(0);
    for (int c = 0; c < 8; ++c) {
      Chunk q[R];
      for (int r = 0; r < R; ++r) q[r] = D::chunk(wb[r], s[r], c);
      for (int t = 0; t < T; ++t) {
        const Chunk xq = load_chunk(xb[t] + block::Q8_K::qs + 32 * c);
        for (int r = 0; r < R; ++r) {
          if constexpr (scale_per_32<D>()) {
            isum[r][t] = vmlaq_n_s32(isum[r][t], dot32(vdupq_n_s32(0), q[r], xq), s[r].scale[2 * c]);
          } else {
            const int32x4_t lo = dot16(vdupq_n_s32(0), q[r].lo, xq.lo);
            const int32x4_t hi = dot16(vdupq_n_s32(0), q[r].hi, xq.hi);
            isum[r][t] = vmlaq_n_s32(vmlaq_n_s32(isum[r][t], lo, s[r].scale[2 * c]), hi, s[r].scale[2 * c + 1]);
          }
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      const float dx = f32(xb[t]);
      for (int r = 0; r < R; ++r) {
        const int32_t msum = min_sum(s[r].min, xb[t] + block::Q8_K::bsums);
        acc[r][t] += s[r].d * dx * static_cast<float>(vaddvq_s32(isum[r][t])) - s[r].dmin * dx * static_cast<float>(msum);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r][t] = acc[r][t];
}

// ---- float weights: F32 x F32, F16 x F16, BF16 x BF16 -----------------------------------------------------

struct LoadF32 {
  static constexpr size_t kBytes = 4;
  static float32x4_t four(const uint8_t* p) { return vld1q_f32(reinterpret_cast<const float*>(p)); }
  static float one(const uint8_t* p) { return f32(p); }
};
struct LoadF16 {
  static constexpr size_t kBytes = 2;
  static float32x4_t four(const uint8_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)))); }
  static float one(const uint8_t* p) { return f16(p); }
};
struct LoadBf16 {
  static constexpr size_t kBytes = 2;
  static float32x4_t four(const uint8_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
  }
  static float one(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
};

template <class L, int R, int T>
void tile_float(int64_t n, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
  float32x4_t acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0);
  const int64_t n4 = n / 4 * 4;
  for (int64_t i = 0; i < n4; i += 4) {
    float32x4_t wv[R];
    for (int r = 0; r < R; ++r) wv[r] = L::four(w[r] + i * L::kBytes);
    for (int t = 0; t < T; ++t) {
      const float32x4_t xv = L::four(x[t] + i * L::kBytes);
      for (int r = 0; r < R; ++r) acc[r][t] = vfmaq_f32(acc[r][t], wv[r], xv);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = vaddvq_f32(acc[r][t]);
      for (int64_t i = n4; i < n; ++i) s += L::one(w[r] + i * L::kBytes) * L::one(x[t] + i * L::kBytes);
      out[r][t] = s;
    }
  }
}

// ---- the tiles the shared driver runs over rows and tokens ---------------------------------------------

enum class Family { Blocks32, Blocks256, Float };

// One tile of a type family, for the shared driver (ops/cpu/tile_driver_impl.h).
template <class D, Family F>
struct Tile {
  template <int R, int T>
  static void run(int64_t n, size_t block_bytes, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
    if constexpr (F == Family::Blocks32) tile_32<D, R, T>(n / 32, w, x, out);
    else if constexpr (F == Family::Blocks256) tile_256<D, R, T>(n / 256, block_bytes, w, x, out);
    else tile_float<D, R, T>(n, w, x, out);
  }
};

template <class D, Family F>
constexpr GemmFn gemm = tiled_gemm<Tile<D, F>, kRows, kTokens>;

inline GemmFn table(TensorType type) {
  switch (type) {
    case TensorType::F32: return gemm<LoadF32, Family::Float>;
    case TensorType::F16: return gemm<LoadF16, Family::Float>;
    case TensorType::BF16: return gemm<LoadBf16, Family::Float>;
    case TensorType::Q4_0: return gemm<DecodeQ4_0, Family::Blocks32>;
    case TensorType::Q4_1: return gemm<DecodeQ4_1, Family::Blocks32>;
    case TensorType::Q5_0: return gemm<DecodeQ5_0, Family::Blocks32>;
    case TensorType::Q5_1: return gemm<DecodeQ5_1, Family::Blocks32>;
    case TensorType::Q8_0: return gemm<DecodeQ8_0, Family::Blocks32>;
    case TensorType::IQ4_NL: return gemm<DecodeIq4Nl, Family::Blocks32>;
    case TensorType::Q2_K: return gemm<DecodeQ2_K, Family::Blocks256>;
    case TensorType::Q3_K: return gemm<DecodeQ3_K, Family::Blocks256>;
    case TensorType::Q4_K: return gemm<DecodeQ4_K, Family::Blocks256>;
    case TensorType::Q5_K: return gemm<DecodeQ5_K, Family::Blocks256>;
    case TensorType::Q6_K: return gemm<DecodeQ6_K, Family::Blocks256>;
    case TensorType::TQ2_0: return gemm<DecodeTq2_0, Family::Blocks256>;
    case TensorType::IQ4_XS: return gemm<DecodeIq4Xs, Family::Blocks256>;
    case TensorType::TQ1_0: return gemm<DecodeUnpacked<34>, Family::Blocks256>;
    case TensorType::IQ2_XXS: return gemm<DecodeUnpacked<16>, Family::Blocks256>;
    case TensorType::IQ2_XS: return gemm<DecodeUnpacked<17>, Family::Blocks256>;
    case TensorType::IQ3_XXS: return gemm<DecodeUnpacked<18>, Family::Blocks256>;
    case TensorType::IQ1_S: return gemm<DecodeUnpacked<19>, Family::Blocks256>;
    case TensorType::IQ3_S: return gemm<DecodeUnpacked<21>, Family::Blocks256>;
    case TensorType::IQ2_S: return gemm<DecodeUnpacked<22>, Family::Blocks256>;
    case TensorType::IQ1_M: return gemm<DecodeUnpacked<29>, Family::Blocks256>;
    default: return nullptr;
  }
}

}  // namespace cria::ops::CRIA_NEON_NAMESPACE
