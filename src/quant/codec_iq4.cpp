// Non-linear 4-bit types (FORMATS.md 2.3 IQ4_NL, 2.4 IQ4_XS): each nibble indexes a fixed table of 16
// levels. The quantizer follows what llama-quantize runs for these types without an importance matrix
// (llama.cpp's quantize_iq4_nl / quantize_iq4_xs, which use the shared block routine with ntry = 7 and
// weights x^2): pick the nearest table level for a trial scale, refit the scale by weighted least
// squares, try 15 more trial scales and keep the best fit. Float association follows llama.cpp so the
// bytes agree.
#include <cmath>
#include <cstring>

#include "quant/block_layouts.h"
#include "quant/codecs.h"
#include "quant/kquant_search.h"

namespace cria::codec {

using detail::load_f16;
using detail::nearest_int;
using detail::store_f16;

namespace {

constexpr const int8_t* kLevels = block::IQ4_NL::kLevels;
constexpr int kSubBlock = 32;
constexpr int kXsSuper = 256;
constexpr int kScaleTries = 7;  // trial inverse scales (levels[0] + t)/max for t = -7..7

// Index of the table level nearest to v (ties go to the upper level), by bisection over the sorted table.
int nearest_level(float v) {
  if (v <= kLevels[0]) return 0;
  if (v >= kLevels[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < kLevels[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return v - static_cast<float>(kLevels[hi - 1]) < static_cast<float>(kLevels[hi]) - v ? hi - 1 : hi;
}

// Best scale for one 32-element group with weights x^2, levels written to L. Returns 0 for an all-zero
// group (L untouched then; callers re-derive it).
float fit_group(const float* x, uint8_t* L) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kSubBlock; ++j) {
    const float ax = std::fabs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax < detail::kGroupMaxEps) return 0.0f;
  // Weighted sums for levels q: the best scale is sum(w*q*x)/sum(w*q*q), the fit score
  // sum(w*q*x)^2/sum(w*q*q).
  auto accumulate = [&](float id, uint8_t* levels, float* sumqx, float* sumq2) {
    *sumqx = 0.0f;
    *sumq2 = 0.0f;
    for (int j = 0; j < kSubBlock; ++j) {
      const int l = nearest_level(id * x[j]);
      if (levels != nullptr) levels[j] = static_cast<uint8_t>(l);
      const float q = static_cast<float>(kLevels[l]);
      const float w = x[j] * x[j];
      *sumqx += w * q * x[j];
      *sumq2 += w * q * q;
    }
  };
  float d = -max / static_cast<float>(kLevels[0]);
  float sumqx = 0.0f, sumq2 = 0.0f;
  accumulate(1.0f / d, L, &sumqx, &sumq2);
  d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
  float best = d * sumqx;
  for (int t = -kScaleTries; t <= kScaleTries; ++t) {
    const float id = static_cast<float>(t + kLevels[0]) / max;
    accumulate(id, nullptr, &sumqx, &sumq2);
    if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

void pack_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[16 + j] << 4));
}

}  // namespace

// -------------------------------------------------------------------------------------------------- IQ4_NL

void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n) {
  using Layout = block::IQ4_NL;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSubBlock; ++b, block += Layout::kBytes, dst += kSubBlock) {
    const float d = load_f16(block + Layout::d);
    const uint8_t* qs = block + Layout::qs;
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kLevels[qs[j] & 0xF]);
      dst[j + 16] = d * static_cast<float>(kLevels[qs[j] >> 4]);
    }
  }
}

void quantize_row_iq4_nl(const float* src, void* dst, int64_t n) {
  using Layout = block::IQ4_NL;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSubBlock; ++b, block += Layout::kBytes, src += kSubBlock) {
    uint8_t L[kSubBlock];
    const float d = fit_group(src, L);
    store_f16(block + Layout::d, d);
    // Final levels against the unrounded fitted scale (an all-zero group gets
    // index 8, the level +1 nearest to 0).
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < kSubBlock; ++j) L[j] = static_cast<uint8_t>(nearest_level(id * src[j]));
    pack_nibbles(L, block + Layout::qs);
  }
}

// -------------------------------------------------------------------------------------------------- IQ4_XS

void dequantize_row_iq4_xs(const void* src, float* dst, int64_t n) {
  using Layout = block::IQ4_XS;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kXsSuper; ++b, block += Layout::kBytes, dst += kXsSuper) {
    const float d = load_f16(block + Layout::d);
    uint16_t scales_h;
    std::memcpy(&scales_h, block + Layout::scales_h, 2);
    const uint8_t* scales_l = block + Layout::scales_l;
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = block + Layout::qs + 16 * ib;
      float* y = dst + 32 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kLevels[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kLevels[qs[j] >> 4]);
      }
    }
  }
}

void quantize_row_iq4_xs(const float* src, void* dst, int64_t n) {
  using Layout = block::IQ4_XS;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kXsSuper; ++b, block += Layout::kBytes, src += kXsSuper) {
    float scales[8];
    uint8_t L[kXsSuper];
    float max_scale = 0.0f, amax_scale = 0.0f;  // signed sub-block scale of largest magnitude, first wins
    for (int ib = 0; ib < 8; ++ib) {
      scales[ib] = fit_group(src + 32 * ib, L + 32 * ib);
      const float a = std::fabs(scales[ib]);
      if (a > amax_scale) {
        amax_scale = a;
        max_scale = scales[ib];
      }
    }
    // 6-bit signed sub-block scales (stored + 32) against d = -max_scale/32, so the largest maps to -32.
    const float d = -max_scale / 32.0f;
    store_f16(block + Layout::d, d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t scales_h = 0;
    uint8_t* scales_l = block + Layout::scales_l;
    for (int ib = 0; ib < 8; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      // Levels against the unrounded d times the integer scale, as llama.cpp does.
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
      for (int j = 0; j < 32; ++j)
        L[32 * ib + j] = static_cast<uint8_t>(nearest_level(idl * src[32 * ib + j]));
      l += 32;
      if (ib % 2 == 0) {
        scales_l[ib / 2] = static_cast<uint8_t>(l & 0xF);
      } else {
        scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | ((l & 0xF) << 4));
      }
      scales_h = static_cast<uint16_t>(scales_h | ((l >> 4) << (2 * ib)));
    }
    std::memcpy(block + Layout::scales_h, &scales_h, 2);
    for (int ib = 0; ib < 8; ++ib) pack_nibbles(L + 32 * ib, block + Layout::qs + 16 * ib);
  }
}

}  // namespace cria::codec
