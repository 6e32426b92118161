// x86 GEMM kernels on 256-bit vectors, shared by the AVX2 and the AVX-512 builds: each includes this
// file once, compiled for its instruction set. With AVX512-VNNI (CRIA_X86_VNNI) the int8 dot product is
// one vpdpbusd and the tiles are larger (32 vector registers instead of 16).
//
// Weights are decoded 32 at a time ("chunks") into int8 vectors next to the matching activation bytes;
// integer sums are scaled once per block (32-element types) or per super-block (256-element types),
// exactly the arithmetic of the scalar reference in vec_dot_scalar.cpp up to float summation order.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "ops/cpu/tile_driver_impl.h"
#include "ops/kernels.h"
#include "quant/block_layouts.h"
#include "ops/prefetch.h"

namespace cria::ops::CRIA_X86_NAMESPACE {

#ifdef CRIA_X86_VNNI
constexpr int kRows = 4;    // weight rows per tile
constexpr int kTokens = 4;  // tokens per tile
#else
constexpr int kRows = 2;
constexpr int kTokens = 4;
#endif

inline float f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Sum over groups of 4 of u8 * s8 products, into 8 int32 lanes.
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
#ifdef CRIA_X86_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// Same for two signed vectors, via |w| and x with w's sign.
inline __m256i dot_s8_s8(__m256i w, __m256i x) { return dot_u8_s8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)); }

// u8 * s8 pairs summed into int16 lanes, then times a per-16-element int16 scale, into int32 lanes.
// Safe from int16 saturation when u <= 63 (2 * 63 * 128 < 32768).
inline __m256i dot_u8_s8_scaled(__m256i u, __m256i s, __m256i scale16) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16);
}
inline __m256i dot_s8_s8_scaled(__m256i w, __m256i x, __m256i scale16) {
  return dot_u8_s8_scaled(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w), scale16);
}

inline __m256i low_nibbles_of_16(const uint8_t* p) {
  // 16 bytes -> 32 values: low nibbles first, then high nibbles (the Q4_0 element order).
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i mask = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}

// 32 bits -> 32 bytes holding bit e of `bits` in byte e, as 0 or `value`.
inline __m256i spread_bits(uint32_t bits, int8_t value) {
  const __m256i shuffle = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)), shuffle);
  const __m256i bit_of_lane = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit_of_lane), bit_of_lane);
  return _mm256_and_si256(set, _mm256_set1_epi8(value));
}

// ---- 32-element blocks --------------------------------------------------------------------------------

// Each decoder gives a block's 32 quants as int8 and its scale; `kSigned` tells whether the quants are
// signed (dot with the sign trick) or unsigned with an offset m * (activation block sum), Q8_1 style.
struct DecodeQ4_0 {
  using Layout = block::Q4_0;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kSigned = true;
  // With VNNI the unsigned nibbles go straight into vpdpbusd and the bias 8 is taken off once per
  // activation block (8 * its sum), shared by all rows of the tile.
  static constexpr int kBias = 8;
  static __m256i unsigned_quants(const uint8_t* b) { return low_nibbles_of_16(b + Layout::qs); }
  static __m256i quants(const uint8_t* b) { return _mm256_sub_epi8(low_nibbles_of_16(b + Layout::qs), _mm256_set1_epi8(8)); }
  static float scale(const uint8_t* b) { return f16(b); }
  static float offset(const uint8_t*) { return 0; }
};
struct DecodeQ5_0 {
  using Layout = block::Q5_0;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kSigned = true;
  static constexpr int kBias = 16;
  static __m256i unsigned_quants(const uint8_t* b) {
    uint32_t h;
    std::memcpy(&h, b + Layout::qh, 4);
    return _mm256_or_si256(low_nibbles_of_16(b + Layout::qs), spread_bits(h, 0x10));
  }
  static __m256i quants(const uint8_t* b) {
    uint32_t h;
    std::memcpy(&h, b + Layout::qh, 4);
    const __m256i q = _mm256_or_si256(low_nibbles_of_16(b + Layout::qs), spread_bits(h, 0x10));
    return _mm256_sub_epi8(q, _mm256_set1_epi8(16));
  }
  static float scale(const uint8_t* b) { return f16(b); }
  static float offset(const uint8_t*) { return 0; }
};
struct DecodeQ8_0 {
  using Layout = block::Q8_0;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kSigned = true;
  static __m256i quants(const uint8_t* b) { return load32(b + Layout::qs); }
  static float scale(const uint8_t* b) { return f16(b); }
  static float offset(const uint8_t*) { return 0; }
};
struct DecodeIq4Nl {
  using Layout = block::IQ4_NL;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kSigned = true;
  static __m256i quants(const uint8_t* b) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm256_shuffle_epi8(table, low_nibbles_of_16(b + Layout::qs));
  }
  static float scale(const uint8_t* b) { return f16(b); }
  static float offset(const uint8_t*) { return 0; }
};
struct DecodeQ4_1 {
  using Layout = block::Q4_1;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kSigned = false;
  static __m256i quants(const uint8_t* b) { return low_nibbles_of_16(b + Layout::qs); }
  static float scale(const uint8_t* b) { return f16(b); }
  static float offset(const uint8_t* b) { return f16(b + Layout::m); }
};
struct DecodeQ5_1 {
  using Layout = block::Q5_1;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr bool kSigned = false;
  static __m256i quants(const uint8_t* b) {
    uint32_t h;
    std::memcpy(&h, b + Layout::qh, 4);
    return _mm256_or_si256(low_nibbles_of_16(b + Layout::qs), spread_bits(h, 0x10));
  }
  static float scale(const uint8_t* b) { return f16(b); }
  static float offset(const uint8_t* b) { return f16(b + Layout::m); }
};

// Activation blocks: Q8_0 for the signed decoders, Q8_1 (with d * sum) for the offset ones.
template <class D>
struct Act32 {
  using Layout = std::conditional_t<D::kSigned, block::Q8_0, block::Q8_1>;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr size_t kQuants = Layout::qs;
};

template <class D>
constexpr int bias_of() {
  if constexpr (requires { D::kBias; }) {
    return D::kBias;
  } else {
    return 0;
  }
}

#ifdef CRIA_X86_VNNI
constexpr bool kHaveVnni = true;
#else
constexpr bool kHaveVnni = false;
#endif

template <class D, int R, int T>
void tile_32(int64_t n_blocks, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
  using A = Act32<D>;
  constexpr int kBias = bias_of<D>();
  constexpr bool kBiased = kHaveVnni && kBias != 0;
  __m256 acc[R][T];
  float offsets[R][T] = {};
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i q[R];
    float dw[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* wb = w[r] + b * D::kBytes;
      prefetch_weights(wb);
      if constexpr (kBiased) {
        q[r] = D::unsigned_quants(wb);
      } else {
        q[r] = D::quants(wb);
      }
      dw[r] = D::scale(wb);
    }
    for (int t = 0; t < T; ++t) {
      const uint8_t* xb = x[t] + b * A::kBytes;
      const __m256i xq = load32(xb + A::kQuants);
      const float dx = f16(xb);
      __m256i bias_sum = _mm256_setzero_si256();
      if constexpr (kBiased) {
        bias_sum = _mm256_mullo_epi32(dot_u8_s8(_mm256_set1_epi8(1), xq), _mm256_set1_epi32(kBias));
      }
      for (int r = 0; r < R; ++r) {
        __m256i isum;
        if constexpr (kBiased) {
          isum = _mm256_sub_epi32(dot_u8_s8(q[r], xq), bias_sum);
        } else {
          isum = D::kSigned ? dot_s8_s8(q[r], xq) : dot_u8_s8(q[r], xq);
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw[r] * dx), acc[r][t]);
        if constexpr (!D::kSigned) offsets[r][t] += D::offset(w[r] + b * D::kBytes) * f16(xb + 2);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r][t] = hsum(acc[r][t]) + offsets[r][t];
}

// ---- 256-element super-blocks against Q8_K ---------------------------------------------------------------

// A decoder gives, per super-block: float d and dmin, per 16 elements an int16 scale and an int16 offset
// multiplier ("minc": the result subtracts dmin * sum over groups of minc * activation group sum), and
// per 32-element chunk the quants as u8 (kSigned false) or s8.
struct SuperScales {
  float d, dmin;
  alignas(32) int16_t scale[16];
  alignas(32) int16_t minc[16];
};

inline void store16(int16_t* out, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(out), v); }

// The int16 scale vector of chunk c: scale[2c] in the low 8 lanes, scale[2c + 1] in the high 8.
inline __m256i chunk_scales(const SuperScales& s, int c) {
  int32_t pair;
  std::memcpy(&pair, s.scale + 2 * c, 4);
  const __m256i lanes = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3,
                                         2, 3, 2, 3, 2, 3);
  return _mm256_shuffle_epi8(_mm256_set1_epi32(pair), lanes);
}

// Q4_K and Q5_K have one scale per 32-element chunk: their 8 int16 scales stay in a register (in both
// 128-bit lanes) and one byte shuffle gives chunk c's, where SuperScales goes through memory.
struct ChunkScales {
  float d, dmin;
  __m256i scale8;
  alignas(32) int16_t minc[16];
};

inline __m256i chunk_scales(const ChunkScales& s, int c) {
  const auto lo = static_cast<char>(2 * c), hi = static_cast<char>(2 * c + 1);
  return _mm256_shuffle_epi8(s.scale8, _mm256_setr_epi8(lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi,
                                                        lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi, lo, hi));
}

// The eight 6-bit (scale, min) pairs of Q4_K/Q5_K (FORMATS.md 2.4), unpacked with 32-bit word masks:
// word 0 holds scales 0-3 and the top bits of scales 4-7, word 1 the same for the mins, word 2 the low
// four bits of scales 4-7 (low nibbles) and mins 4-7 (high nibbles). Each min covers 32 elements, so
// it is written twice (once per 16-element sum of the activations). Vector steps throughout: the scalar
// unpacking they replace took a third of matvec Q4_K's instructions on AVX2 (docs/PERF.md). The 16-byte
// load reads 4 bytes past the 12 (the first bytes of qh or qs in both layouts).
inline void scale_min_k4(const uint8_t* s, ChunkScales& out) {
  const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i low6 = _mm_and_si128(w, _mm_set1_epi8(0x3f));  // words: scales 0-3, mins 0-3
  const __m128i w2 = _mm_shuffle_epi32(w, 0xaa);
  const __m128i low4 = _mm_and_si128(_mm_srlv_epi32(w2, _mm_setr_epi32(0, 4, 0, 0)), _mm_set1_epi8(0x0f));
  const __m128i top2 = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(w, 6), _mm_set1_epi8(0x03)), 4);
  const __m128i high = _mm_or_si128(low4, top2);                  // words: scales 4-7, mins 4-7
  const __m128i both = _mm_unpacklo_epi32(low6, high);            // scales 0-7, then mins 0-7
  out.scale8 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(both));
  store16(out.minc, _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(both, both)));
}

inline __m256i two_bits(const uint8_t* qs, int c) {
  // Q2_K / Q3_K / TQ2_0 low bits of chunk c: byte qs[32 * (c / 4) + l] >> 2 * (c % 4).
  const __m256i v = load32(qs + 32 * (c / 4));
  return _mm256_and_si256(_mm256_srli_epi16(v, 2 * (c % 4)), _mm256_set1_epi8(3));
}

inline __m256i bit_plane(const uint8_t* bits32, int c) {
  // Bit c of each of 32 bytes, as 0 or 1.
  return _mm256_and_si256(_mm256_srli_epi16(load32(bits32), c), _mm256_set1_epi8(1));
}

struct DecodeQ2_K {
  using Layout = block::Q2_K;
  using Scales = SuperScales;
  static constexpr bool kSigned = false;
  static void scales(const uint8_t* b, SuperScales& s) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    const __m128i low = _mm_set1_epi8(0x0f);
    store16(s.scale, _mm256_cvtepu8_epi16(_mm_and_si128(raw, low)));
    store16(s.minc, _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low)));
    s.d = f16(b + Layout::d);
    s.dmin = f16(b + Layout::dmin);
  }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) { return two_bits(b + Layout::qs, c); }
};
struct DecodeQ3_K {
  using Layout = block::Q3_K;
  using Scales = SuperScales;
  static constexpr bool kSigned = false;  // u = q + 4 in 0..7; the offset 4 goes through minc
  // The 16 6-bit scales (FORMATS.md 2.4): scale j's low four bits are byte j's low nibble (j < 8) or
  // byte j - 8's high nibble, its top two bits are bits 2 (j / 4) of byte 8 + j % 4; stored offset by 32.
  // Vector steps: the scalar loop they replace made Q3_K the slowest K type's matvec (docs/PERF.md).
  static void scales(const uint8_t* b, SuperScales& s) {
    uint64_t low;
    uint32_t high;
    std::memcpy(&low, b + Layout::scales, 8);
    std::memcpy(&high, b + Layout::scales + 8, 4);
    const __m128i nibbles = _mm_cvtsi64_si128(static_cast<int64_t>(low));
    const __m128i mask4 = _mm_set1_epi8(0x0f);
    const __m128i low4 =
        _mm_unpacklo_epi64(_mm_and_si128(nibbles, mask4), _mm_and_si128(_mm_srli_epi16(nibbles, 4), mask4));
    // Dword k holds bytes 8-11 shifted right by 2k: its byte i is then scale 4k + i's top bits.
    const __m128i tops = _mm_srlv_epi32(_mm_set1_epi32(static_cast<int32_t>(high)), _mm_setr_epi32(0, 2, 4, 6));
    const __m128i high2 = _mm_slli_epi16(_mm_and_si128(tops, _mm_set1_epi8(3)), 4);
    const __m256i scale = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(low4, high2), _mm_set1_epi8(32)));
    store16(s.scale, scale);
    store16(s.minc, _mm256_slli_epi16(scale, 2));  // 4 * scale
    s.d = f16(b + Layout::d);
    s.dmin = s.d;
  }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) {
    return _mm256_or_si256(two_bits(b + Layout::qs, c), _mm256_slli_epi16(bit_plane(b, c), 2));
  }
};
struct DecodeQ4_K {
  using Layout = block::Q4_K;
  using Scales = ChunkScales;
  static constexpr bool kSigned = false;
  static constexpr bool kRowAfterRow = true;
  static void scales(const uint8_t* b, ChunkScales& s) {
    scale_min_k4(b + Layout::scales, s);
    static_assert(Layout::d + 2 == Layout::dmin);
    int32_t pair;  // d and dmin converted together
    std::memcpy(&pair, b + Layout::d, 4);
    const __m128 d_dmin = _mm_cvtph_ps(_mm_cvtsi32_si128(pair));
    s.d = _mm_cvtss_f32(d_dmin);
    s.dmin = _mm_cvtss_f32(_mm_movehdup_ps(d_dmin));
  }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) {
    const __m256i v = load32(b + Layout::qs + 32 * (c / 2));
    return _mm256_and_si256(c % 2 ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0f));
  }
};
struct DecodeQ5_K {
  using Layout = block::Q5_K;
  using Scales = ChunkScales;
  static constexpr bool kSigned = false;
  static constexpr bool kRowAfterRow = true;
  static void scales(const uint8_t* b, ChunkScales& s) { DecodeQ4_K::scales(b, s); }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) {
    const __m256i v = load32(b + Layout::qs + 32 * (c / 2));
    const __m256i low = _mm256_and_si256(c % 2 ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0f));
    return _mm256_or_si256(low, _mm256_slli_epi16(bit_plane(b + Layout::qh, c), 4));
  }
};
struct DecodeQ6_K {
  using Layout = block::Q6_K;
  using Scales = SuperScales;
  static constexpr bool kSigned = false;  // u = q + 32 in 0..63; the offset 32 goes through minc
  static constexpr int kRowsAlone = 4;    // see rows_alone
  static constexpr bool kRowAfterRow = true;
  static void scales(const uint8_t* b, SuperScales& s) {
    const __m256i scale = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + Layout::scales)));
    store16(s.scale, scale);
    store16(s.minc, _mm256_slli_epi16(scale, 5));  // 32 * scale
    s.d = f16(b + Layout::d);
    s.dmin = s.d;
  }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) {
    const int h = c / 4, k = c % 4;
    const __m256i ql = load32(b + 64 * h + 32 * (k & 1));
    const __m256i low = _mm256_and_si256(k < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(0x0f));
    const __m256i qh = load32(b + Layout::qh + 32 * h);
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
    return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
  }
};
struct DecodeTq2_0 {
  using Layout = block::TQ2_0;
  using Scales = SuperScales;
  static constexpr bool kSigned = false;  // u = q + 1 in 0..2
  static constexpr bool kRowAfterRow = true;
  static void scales(const uint8_t* b, SuperScales& s) {
    for (int j = 0; j < 16; ++j) {
      s.scale[j] = 1;
      s.minc[j] = 1;
    }
    s.d = f16(b + Layout::d);
    s.dmin = s.d;
  }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) { return two_bits(b, c); }
};
struct DecodeIq4Xs {
  using Layout = block::IQ4_XS;
  using Scales = SuperScales;
  static constexpr bool kSigned = true;
  static void scales(const uint8_t* b, SuperScales& s) {
    uint16_t h;
    std::memcpy(&h, b + Layout::scales_h, 2);
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((h >> (2 * ib)) & 3) << 4);
      s.scale[2 * ib] = s.scale[2 * ib + 1] = static_cast<int16_t>(ls - 32);
      s.minc[2 * ib] = s.minc[2 * ib + 1] = 0;
    }
    s.d = f16(b);
    s.dmin = 0;
  }
  static __m256i chunk(const uint8_t* b, const Scales&, int c) { return DecodeIq4Nl::quants(b + Layout::qs + 16 * c - 2); }
};

// Any other Q8_K-paired type: the scalar unpacker decodes the super-block once into integers (layouts
// like TQ1_0's base-3 digits or the i-quant grids); the dot products still run on vectors.
struct UnpackedScales : SuperScales {
  alignas(32) int8_t q[256];
};
template <int kTypeId>
struct DecodeUnpacked {
  using Scales = UnpackedScales;
  static constexpr bool kSigned = true;
  // Scale and sum in float per 32-element chunk, as llama.cpp's i-quant kernels do (the other types
  // keep exact integer sums over the super-block).
  static constexpr bool kFloatPerChunk = true;
  static void scales(const uint8_t* b, UnpackedScales& s) {
    static const UnpackSuperBlockFn unpack = scalar_unpack_super_block(static_cast<TensorType>(kTypeId));
    SuperBlockInts ints;
    unpack(b, ints);
    std::memcpy(s.q, ints.q, 256);
    for (int g = 0; g < 16; ++g) {
      const int j = g * 16 / ints.sub_size;
      s.scale[g] = ints.scale[j];
      s.minc[g] = ints.min[j];
    }
    s.d = ints.d;
    s.dmin = ints.dmin;
  }
  static __m256i chunk(const uint8_t*, const UnpackedScales& s, int c) { return load32(reinterpret_cast<const uint8_t*>(s.q) + 32 * c); }
};

template <class D>
constexpr bool float_per_chunk() {
  if constexpr (requires { D::kFloatPerChunk; }) {
    return D::kFloatPerChunk;
  } else {
    return false;
  }
}

// How a (row, token) pair's super-block results are summed. With VNNI (and for the i-quants' float
// chunks): a horizontal sum per super-block into a float, as the packed AVX-512 kernels do. Without VNNI:
// eight float lanes carried over the super-blocks and summed once at the end, which takes the horizontal
// sum's dependent chain out of the loop (matvec Q4_K on AVX2: see docs/PERF.md). Either order is fixed
// per pair, whatever the tile shape or thread split.
template <class D>
constexpr bool lane_sums() {
  return !kHaveVnni && !float_per_chunk<D>();
}

// A decoder's super-block size where its layout names one (a constant, so that loops over it unroll),
// else the caller's.
template <class D>
constexpr size_t known_block_bytes(size_t block_bytes) {
  if constexpr (requires { D::Layout::kBytes; }) {
    return D::Layout::kBytes;
  } else {
    return block_bytes;
  }
}

// The steps tile_256 and tile_256_one_token share, so that both give a (row, token) pair bitwise the same
// result: a chunk's int16-scaled dot product, the super-block's sum over minc * activation group sums,
// and the lane update d * dx * isum - dmin * dx * mins.
template <class D>
inline __m256i chunk_dot(__m256i q, __m256i xq, __m256i scale16) {
  return D::kSigned ? dot_s8_s8_scaled(q, xq, scale16) : dot_u8_s8_scaled(q, xq, scale16);
}

template <class S>
inline __m256i super_block_mins(const S& s, __m256i bsums) {
  return _mm256_madd_epi16(load32(reinterpret_cast<const uint8_t*>(s.minc)), bsums);
}

template <class S>
inline __m256 add_super_block(__m256 lanes, __m256i isum, __m256i mins, const S& s, float dx) {
  lanes = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(s.d * dx), lanes);
  return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(s.dmin * dx), lanes);
}

template <class D, int R, int T>
void tile_256(int64_t n_blocks, size_t block_bytes, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
  float acc[R][T] = {};
  __m256 lanes[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) lanes[r][t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    typename D::Scales s[R];
    const uint8_t* wb[R];
    for (int r = 0; r < R; ++r) {
      wb[r] = w[r] + b * block_bytes;
      for (size_t line = 0; line < known_block_bytes<D>(block_bytes); line += 64) prefetch_weights(wb[r] + line);
      D::scales(wb[r], s[r]);
    }
    const uint8_t* xb[T];
    for (int t = 0; t < T; ++t) xb[t] = x[t] + b * block::Q8_K::kBytes;
    __m256i isum[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) isum[r][t] = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
      __m256i q[R], sc[R];
      for (int r = 0; r < R; ++r) {
        q[r] = D::chunk(wb[r], s[r], c);
        sc[r] = chunk_scales(s[r], c);
      }
      for (int t = 0; t < T; ++t) {
        const __m256i xq = load32(xb[t] + block::Q8_K::qs + 32 * c);
        for (int r = 0; r < R; ++r) {
          const __m256i p = chunk_dot<D>(q[r], xq, sc[r]);
          if constexpr (float_per_chunk<D>()) {
            float dx;
            std::memcpy(&dx, xb[t], 4);
            acc[r][t] += (s[r].d * dx) * static_cast<float>(hsum_i32(p));
          } else {
            isum[r][t] = _mm256_add_epi32(isum[r][t], p);
          }
        }
      }
    }
    for (int t = 0; t < T; ++t) {
      float dx;
      std::memcpy(&dx, xb[t], 4);
      const __m256i bsums = load32(xb[t] + block::Q8_K::bsums);
      for (int r = 0; r < R; ++r) {
        // d * dx * sum(isum) - dmin * dx * sum(minc * bsums), lane by lane, then summed (lane_sums).
        const __m256i mins = super_block_mins(s[r], bsums);
        if constexpr (lane_sums<D>()) {
          lanes[r][t] = add_super_block(lanes[r][t], isum[r][t], mins, s[r], dx);
        } else {
          const __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum[r][t]), _mm256_set1_ps(s[r].d * dx)),
                                         _mm256_mul_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(s[r].dmin * dx)));
          acc[r][t] += hsum(v);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[r][t] = lane_sums<D>() ? hsum(lanes[r][t]) : acc[r][t];
}

// One token against R rows of a K type whose decoder asks for it (kRowAfterRow), on builds that carry
// lane sums: the arithmetic of tile_256 for that pair, row after row within each super-block, so that a
// row's scales, mins and sums stay in registers. tile_256's general form kept its lane accumulators,
// scales and mins on the stack there (GCC spilled about 20 values per super-block step of two rows).
// matvec, one thread (docs/PERF.md): Q4_K a fifth faster, Q5_K a few percent, Q6_K a third, TQ2_0 a
// sixth; Q2_K and Q3_K the same, IQ4_XS a fifth slower, so those keep tile_256.
template <class D>
constexpr bool row_after_row() {
  if constexpr (requires { D::kRowAfterRow; }) {
    return D::kRowAfterRow && lane_sums<D>();
  } else {
    return false;
  }
}

template <class D, int R>
void tile_256_one_token(int64_t n_blocks, const uint8_t* const* w, const uint8_t* x, float out[R][1]) {
  using L = typename D::Layout;
  __m256 lanes[R];
  for (int r = 0; r < R; ++r) lanes[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* xb = x + b * block::Q8_K::kBytes;
    float dx;
    std::memcpy(&dx, xb, 4);
    const __m256i bsums = load32(xb + block::Q8_K::bsums);
    for (int r = 0; r < R; ++r) {
      const uint8_t* wb = w[r] + b * L::kBytes;
      for (size_t line = 0; line < L::kBytes; line += 64) prefetch_weights(wb + line);
      typename D::Scales s;
      D::scales(wb, s);
      __m256i isum = _mm256_setzero_si256();
      for (int c = 0; c < 8; ++c) {
        const __m256i xq = load32(xb + block::Q8_K::qs + 32 * c);
        isum = _mm256_add_epi32(isum, chunk_dot<D>(D::chunk(wb, s, c), xq, chunk_scales(s, c)));
      }
      lanes[r] = add_super_block(lanes[r], isum, super_block_mins(s, bsums), s, dx);
    }
  }
  for (int r = 0; r < R; ++r) out[r][0] = hsum(lanes[r]);
}

// ---- float weights: F32 x F32, F16 x F16, BF16 x BF16 -----------------------------------------------------

inline __m256 load8_f32(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
inline __m256 load8_f16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load8_bf16(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

template <__m256 (*Load)(const uint8_t*), size_t kElemBytes, int R, int T>
void tile_float(int64_t n, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  const int64_t n8 = n / 8 * 8;
  for (int64_t i = 0; i < n8; i += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = Load(w[r] + i * kElemBytes);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = Load(x[t] + i * kElemBytes);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = hsum(acc[r][t]);
      for (int64_t i = n8; i < n; ++i) {
        float a, b;
        if constexpr (kElemBytes == 4) {
          std::memcpy(&a, w[r] + 4 * i, 4);
          std::memcpy(&b, x[t] + 4 * i, 4);
        } else {
          uint16_t ha, hb;
          std::memcpy(&ha, w[r] + 2 * i, 2);
          std::memcpy(&hb, x[t] + 2 * i, 2);
          a = Load == load8_f16 ? fp16_to_fp32(ha) : bf16_to_fp32(ha);
          b = Load == load8_f16 ? fp16_to_fp32(hb) : bf16_to_fp32(hb);
        }
        s += a * b;
      }
      out[r][t] = s;
    }
  }
}

// ---- the tiles the shared driver runs over rows and tokens ---------------------------------------------

enum class Family { Blocks32, Blocks256, F32, F16, BF16 };

// One tile of a type family, for the shared driver (ops/cpu/tile_driver_impl.h).
template <class D, Family F>
struct Tile {
  template <int R, int T>
  static void run(int64_t n, size_t block_bytes, const uint8_t* const* w, const uint8_t* const* x, float out[R][T]) {
    if constexpr (F == Family::Blocks32) tile_32<D, R, T>(n / 32, w, x, out);
    else if constexpr (F == Family::Blocks256 && T == 1 && row_after_row<D>())
      tile_256_one_token<D, R>(n / 256, w, x[0], out);
    else if constexpr (F == Family::Blocks256) tile_256<D, R, T>(n / 256, block_bytes, w, x, out);
    else if constexpr (F == Family::F32) tile_float<load8_f32, 4, R, T>(n, w, x, out);
    else if constexpr (F == Family::F16) tile_float<load8_f16, 2, R, T>(n, w, x, out);
    else tile_float<load8_bf16, 2, R, T>(n, w, x, out);
  }
};

// Rows per tile when a call has fewer than kTokens tokens (generation): one where the one-token tile goes
// row after row, else kRows or a decoder's kRowsAlone.
// - Row after row (AVX2's Q4_K, Q5_K, Q6_K, TQ2_0), one row per call reads the weights as one stream
//   instead of two streams a row apart, and streams faster from memory: matvec_dram on 2 threads Q4_K
//   28.0 -> 34.8, Q5_K 21.1 -> 27.6, Q6_K 16.6 -> 25.0 GMAC/s; MoE generation from a median 64% to 76%
//   of the bandwidth (docs/PERF.md). Two-row tiles of Q4_0 stream faster than one-row ones (they share
//   each activation load), so the 32-element types keep kRows.
// - kRowsAlone, measured with tile_256 on AVX2 (16 registers, two-row tiles): Q6_K's one-token tiles ran
//   15-20% faster with four rows sharing each activation load; Q5_K's 12-16% slower (its high bits take
//   the registers), and Q4_K's, Q4_0's and Q8_0's the same (matmul_bench's matvec, docs/PERF.md).
template <class D>
constexpr int rows_alone() {
  if constexpr (row_after_row<D>()) {
    return 1;
  } else if constexpr (requires { D::kRowsAlone; }) {
    return D::kRowsAlone;
  } else {
    return kRows;
  }
}

template <class D, Family F>
constexpr GemmFn gemm = tiled_gemm<Tile<D, F>, kRows, kTokens, rows_alone<D>()>;

struct NoDecode {};

inline GemmFn table(TensorType type) {
  switch (type) {
    case TensorType::F32: return gemm<NoDecode, Family::F32>;
    case TensorType::F16: return gemm<NoDecode, Family::F16>;
    case TensorType::BF16: return gemm<NoDecode, Family::BF16>;
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

}  // namespace cria::ops::CRIA_X86_NAMESPACE
