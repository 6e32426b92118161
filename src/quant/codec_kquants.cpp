// K-quants: 256-element super-blocks with quantized sub-block scales (FORMATS.md 2.4, 3.3). Decoders follow
// the per-element formulas with llama.cpp's association `(d*sc)*q - dmin*m`; the quantizers follow
// llama.cpp's non-imatrix reference quantizers (quantize_row_q*_K_ref) step by step, so that their output is
// byte-identical with llama-quantize's (the kjv fixture test checks this).
#include <cmath>
#include <cstring>

#include "quant/block_layouts.h"
#include "quant/codecs.h"
#include "quant/kquant_search.h"

namespace cria::codec {

using detail::load_f16;
using detail::load_f32;
using detail::make_q3_quants;
using detail::make_qkx2_quants;
using detail::make_qx_quants;
using detail::nearest_int;
using detail::store_f16;

namespace {

constexpr int kSuper = 256;  // QK_K

// Block layouts (quant/block_layouts.h).
using Q2 = block::Q2_K;
using Q3 = block::Q3_K;
using Q4 = block::Q4_K;
using Q5 = block::Q5_K;
using Q6 = block::Q6_K;
using Q8 = block::Q8_K;

int clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// 2-bit fields shared by Q2_K, Q3_K (low bits) and TQ2_0's layout: each 128-element half uses 32 bytes;
// bits 2k..2k+1 of byte l hold element 32k + l of that half.
int two_bit_field(const uint8_t* qs, int e) {
  return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

void pack_two_bit_fields(const uint8_t* L, uint8_t* qs) {
  for (int half = 0; half < kSuper; half += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[half / 4 + l] = static_cast<uint8_t>(L[half + l] | (L[half + l + 32] << 2) |
                                              (L[half + l + 64] << 4) | (L[half + l + 96] << 6));
    }
  }
}

// Q3_K's 16 six-bit scales in 12 bytes: low nibbles in bytes 0-7 (sub-blocks 0-7 low, 8-15 high nibble),
// the top two bits of sub-block j in byte 8 + j%4 at bit 2*(j/4). Returns the stored value (0..63).
int q3k_scale_bits(const uint8_t* scales, int j) {
  const int low4 = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  const int high2 = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
  return low4 | (high2 << 4);
}

// Q4_K/Q5_K's eight (scale, min) 6-bit pairs in 12 bytes (llama.cpp get_scale_min_k4): bytes 0-3 hold
// scales 0-3 and bytes 4-7 mins 0-3 in their low 6 bits; their top 2 bits carry bits 4-5 of scales/mins
// 4-7, whose low 4 bits sit in bytes 8-11 (scale low nibble, min high nibble).
void get_scale_min_k4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* q) {
  if (j < 4) {
    q[j] = ls;
    q[j + 4] = lm;
  } else {  // bytes j-4 and j were written for sub-blocks 0-3 already; add the top bits
    q[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    q[j - 4] = static_cast<uint8_t>(q[j - 4] | ((ls >> 4) << 6));
    q[j] = static_cast<uint8_t>(q[j] | ((lm >> 4) << 6));
  }
}

// Shared by Q4_K and Q5_K: per 32-element sub-block an asymmetric make_qkx2 fit with weights
// sqrt(mean(x^2)) + |x|, then 6-bit scales/mins relative to the largest, written into `scales12`;
// returns the f16-stored d and dmin (decoded) through the pointers, and the initial levels in L.
void fit_q45k_scales(const float* x, int nmax, float rmin, int nstep, uint8_t* L, uint8_t* block,
                     size_t d_off, size_t dmin_off, size_t scales_off, float* d_out, float* dmin_out) {
  float weights[32];
  uint8_t Laux[32];
  float scales[8];
  float mins[8];
  float max_scale = 0.0f;  // scales and mins are non-negative once the min is subtracted
  float max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t* scales12 = block + scales_off;
  for (int j = 0; j < 8; ++j) {
    // uint8 truncation before the clamp mirrors llama.cpp (only matters for pathological inputs).
    uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    if (ls > 63) ls = 63;
    if (lm > 63) lm = 63;
    set_scale_min_k4(j, ls, lm, scales12);
  }
  *d_out = store_f16(block + d_off, max_scale / 63.0f);
  *dmin_out = store_f16(block + dmin_off, max_min / 63.0f);
}

// Re-quantizes every element against its decoded sub-block scale and min (Q4_K/Q5_K).
void requantize_q45k(const float* x, int nmax, const uint8_t* scales12, float d_all, float dmin_all,
                     uint8_t* L) {
  for (int j = 0; j < 8; ++j) {
    int sc = 0, m = 0;
    get_scale_min_k4(j, scales12, &sc, &m);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0.0f) continue;  // keep the search's levels; they decode to the min anyway
    const float dm = dmin_all * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(clamp(nearest_int((x[32 * j + i] + dm) / d), 0, nmax));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------- Q2_K

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q2::kBytes, dst += kSuper) {
    const float d = load_f16(block + Q2::d);
    const float dmin = load_f16(block + Q2::dmin);
    for (int e = 0; e < kSuper; ++e) {
      const uint8_t s = block[Q2::scales + e / 16];
      const float dl = d * static_cast<float>(s & 0xF);
      const float ml = dmin * static_cast<float>(s >> 4);
      dst[e] = dl * static_cast<float>(two_bit_field(block + Q2::qs, e)) - ml;
    }
  }
}

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q2::kBytes, src += kSuper) {
    const float* x = src;
    uint8_t L[kSuper];
    uint8_t Laux[16];
    float weights[16];
    float scales[16];
    float mins[16];
    float max_scale = 0.0f;
    float max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] =
          make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    // 4-bit scales and mins relative to the largest of each (scale in the low nibble, min in the high).
    uint8_t* sc = block + Q2::scales;
    float d_all = 0.0f, dmin_all = 0.0f;
    if (max_scale > 0.0f) {
      const float iscale = 15.0f / max_scale;
      for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
      d_all = store_f16(block + Q2::d, max_scale / 15.0f);
    } else {
      for (int j = 0; j < 16; ++j) sc[j] = 0;
      d_all = store_f16(block + Q2::d, 0.0f);
    }
    if (max_min > 0.0f) {
      const float iscale = 15.0f / max_min;
      for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(sc[j] | (nearest_int(iscale * mins[j]) << 4));
      dmin_all = store_f16(block + Q2::dmin, max_min / 15.0f);
    } else {
      dmin_all = store_f16(block + Q2::dmin, 0.0f);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(sc[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = dmin_all * static_cast<float>(sc[j] >> 4);
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<uint8_t>(clamp(nearest_int((x[16 * j + i] + dm) / d), 0, 3));
    }
    pack_two_bit_fields(L, block + Q2::qs);
  }
}

// ---------------------------------------------------------------------------------------------------- Q3_K

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q3::kBytes, dst += kSuper) {
    const float d = load_f16(block + Q3::d);
    for (int e = 0; e < kSuper; ++e) {
      const float dl = d * static_cast<float>(q3k_scale_bits(block + Q3::scales, e / 16) - 32);
      const int high = (block[Q3::hmask + e % 32] >> (e / 32)) & 1;
      const int q = two_bit_field(block + Q3::qs, e) - (high ? 0 : 4);
      dst[e] = dl * static_cast<float>(q);
    }
  }
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q3::kBytes, src += kSuper) {
    const float* x = src;
    int8_t L[kSuper];
    float scales[16];
    float max_scale = 0.0f;  // signed: the sub-block scale of largest magnitude, first on ties
    float amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > amax) {
        amax = a;
        max_scale = scales[j];
      }
    }
    uint8_t* sc = block + Q3::scales;
    std::memset(sc, 0, 12);
    float d_all = 0.0f;
    if (max_scale != 0.0f) {
      // Signed 6-bit scales: the largest maps to -32, so d takes the opposite sign of max_scale.
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int8_t l0 = static_cast<int8_t>(nearest_int(iscale * scales[j]));
        const int l = clamp(l0, -32, 31) + 32;
        if (j < 8) {
          sc[j] = static_cast<uint8_t>(l & 0xF);
        } else {
          sc[j - 8] = static_cast<uint8_t>(sc[j - 8] | ((l & 0xF) << 4));
        }
        sc[8 + j % 4] = static_cast<uint8_t>(sc[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
      }
      d_all = store_f16(block + Q3::d, 1.0f / iscale);
    } else {
      d_all = store_f16(block + Q3::d, 0.0f);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(static_cast<int8_t>(q3k_scale_bits(sc, j) - 32));
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(clamp(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
    // Bit 2 of each level goes to hmask (element e: byte e%32, bit e/32); the low two bits to qs.
    uint8_t* hmask = block + Q3::hmask;
    std::memset(hmask, 0, 32);
    uint8_t low[kSuper];
    for (int e = 0; e < kSuper; ++e) {
      int l = L[e];
      if (l > 3) {
        hmask[e % 32] = static_cast<uint8_t>(hmask[e % 32] | (1 << (e / 32)));
        l -= 4;
      }
      low[e] = static_cast<uint8_t>(l);
    }
    pack_two_bit_fields(low, block + Q3::qs);
  }
}

// ---------------------------------------------------------------------------------------------------- Q4_K

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q4::kBytes, dst += kSuper) {
    const float d = load_f16(block + Q4::d);
    const float dmin = load_f16(block + Q4::dmin);
    for (int j = 0; j < 8; ++j) {
      int sc = 0, m = 0;
      get_scale_min_k4(j, block + Q4::scales, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      // Sub-blocks 2c and 2c+1 share the 32 bytes of chunk c: low nibbles, then high nibbles.
      const uint8_t* qs = block + Q4::qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) dst[32 * j + l] = dl * static_cast<float>((qs[l] >> shift) & 0xF) - ml;
    }
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q4::kBytes, src += kSuper) {
    uint8_t L[kSuper];
    float d_all = 0.0f, dmin_all = 0.0f;
    fit_q45k_scales(src, 15, -1.0f, 20, L, block, Q4::d, Q4::dmin, Q4::scales, &d_all, &dmin_all);
    requantize_q45k(src, 15, block + Q4::scales, d_all, dmin_all, L);
    uint8_t* qs = block + Q4::qs;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l)
        qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + l + 32] << 4));
    }
  }
}

// ---------------------------------------------------------------------------------------------------- Q5_K

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q5::kBytes, dst += kSuper) {
    const float d = load_f16(block + Q5::d);
    const float dmin = load_f16(block + Q5::dmin);
    const uint8_t* qh = block + Q5::qh;
    for (int j = 0; j < 8; ++j) {
      int sc = 0, m = 0;
      get_scale_min_k4(j, block + Q5::scales, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = dmin * static_cast<float>(m);
      const uint8_t* qs = block + Q5::qs + 32 * (j / 2);
      const int shift = 4 * (j % 2);
      for (int l = 0; l < 32; ++l) {
        const int q = ((qs[l] >> shift) & 0xF) + 16 * ((qh[l] >> j) & 1);  // element 32j+l: qh bit j
        dst[32 * j + l] = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q5::kBytes, src += kSuper) {
    uint8_t L[kSuper];
    float d_all = 0.0f, dmin_all = 0.0f;
    fit_q45k_scales(src, 31, -0.5f, 15, L, block, Q5::d, Q5::dmin, Q5::scales, &d_all, &dmin_all);
    requantize_q45k(src, 31, block + Q5::scales, d_all, dmin_all, L);
    uint8_t* qh = block + Q5::qh;
    uint8_t* qs = block + Q5::qs;
    std::memset(qh, 0, 32);
    for (int e = 0; e < kSuper; ++e) {
      if (L[e] > 15) qh[e % 32] = static_cast<uint8_t>(qh[e % 32] | (1 << (e / 32)));
    }
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        qs[32 * c + l] = static_cast<uint8_t>((L[64 * c + l] & 0xF) | ((L[64 * c + l + 32] & 0xF) << 4));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------- Q6_K

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q6::kBytes, dst += kSuper) {
    const float d = load_f16(block + Q6::d);
    for (int e = 0; e < kSuper; ++e) {
      const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
      const uint8_t low_byte = block[Q6::ql + 64 * h + 32 * (k & 1) + l];
      const int low4 = k < 2 ? (low_byte & 0xF) : (low_byte >> 4);
      const int high2 = (block[Q6::qh + 32 * h + l] >> (2 * k)) & 3;
      const int q = (low4 | (high2 << 4)) - 32;
      const auto scale = static_cast<int8_t>(block[Q6::scales + e / 16]);
      dst[e] = d * static_cast<float>(scale) * static_cast<float>(q);
    }
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q6::kBytes, src += kSuper) {
    const float* x = src;
    int8_t L[kSuper];
    float scales[16];
    float max_scale = 0.0f;
    float max_abs_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
      const float a = std::fabs(scales[j]);
      if (a > max_abs_scale) {
        max_abs_scale = a;
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < detail::kGroupMaxEps) {
      std::memset(block, 0, Q6::kBytes);  // an all-zero super-block is stored as zero bytes
      continue;
    }
    // Signed 8-bit scales: the largest maps to -128 (d then has the sign opposite to max_scale).
    const float iscale = -128.0f / max_scale;
    const float d_all = store_f16(block + Q6::d, 1.0f / iscale);
    auto* sc = reinterpret_cast<int8_t*>(block + Q6::scales);
    for (int j = 0; j < 16; ++j) {
      const int v = nearest_int(iscale * scales[j]);
      sc[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = d_all * static_cast<float>(sc[j]);
      if (d == 0.0f) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
    }
    uint8_t* ql = block + Q6::ql;
    uint8_t* qh = block + Q6::qh;
    for (int h = 0; h < 2; ++h) {
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[64 * h + l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[64 * h + l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[32 * h + l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
                                              ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------- Q8_K

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q8::kBytes, dst += kSuper) {
    const float d = load_f32(block + Q8::d);
    const auto* qs = reinterpret_cast<const int8_t*>(block + Q8::qs);
    for (int e = 0; e < kSuper; ++e) dst[e] = d * static_cast<float>(qs[e]);
  }
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Q8::kBytes, src += kSuper) {
    float max = 0.0f;
    float amax = 0.0f;
    for (int e = 0; e < kSuper; ++e) {
      const float a = std::fabs(src[e]);
      if (a > amax) {
        amax = a;
        max = src[e];
      }
    }
    auto* qs = reinterpret_cast<int8_t*>(block + Q8::qs);
    if (amax == 0.0f) {
      // llama.cpp leaves bsums unset here; zero is the only consistent value for zero quants.
      std::memset(block, 0, Q8::kBytes);
      continue;
    }
    // -127 rather than -128 keeps every quant in [-127, 127] (the SIMD dot products rely on it).
    const float iscale = -127.0f / max;
    for (int e = 0; e < kSuper; ++e) {
      const int v = nearest_int(iscale * src[e]);
      qs[e] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += qs[16 * g + i];
      const auto s = static_cast<int16_t>(sum);
      std::memcpy(block + Q8::bsums + 2 * g, &s, 2);
    }
    const float d = 1.0f / iscale;
    std::memcpy(block + Q8::d, &d, 4);
  }
}

}  // namespace cria::codec
