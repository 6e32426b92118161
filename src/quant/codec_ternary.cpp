// Ternary types (FORMATS.md 2.5): every element is -d, 0 or +d with one f16 scale per 256 elements.
// The quantizers are llama.cpp's reference ones: d = max |x|, trit = lroundf(x/d) + 1 (half away from
// zero, so |x| >= d/2 becomes +-d).
#include <cmath>
#include <cstring>

#include "quant/block_layouts.h"
#include "quant/codecs.h"
#include "quant/kquant_search.h"

namespace cria::codec {

using detail::load_f16;
using detail::store_f16;

namespace {

constexpr int kSuper = 256;

// TQ1_0 layout: 48 qs bytes of 5 trits then 4 qh bytes of 4 trits. Elements 0..159 use qs[0..31]
// (element m + 32n is trit n of byte m), 160..239 use qs[32..47] (m + 16n), 240..255 use qh (m + 4n).
// Trit n = 0 is the most significant base-3 digit of a byte.
struct TritGroup {
  int first_element;
  int first_byte;
  int n_bytes;  // stride between the trits of one byte
  int n_trits;  // digits actually stored
};
constexpr TritGroup kTq1Groups[] = {{0, 0, 32, 5}, {160, 32, 16, 5}, {240, 48, 4, 4}};

float absmax_scale(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kSuper; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  return amax;
}

// -1, 0, +1 -> 0, 1, 2.
int trit(float x, float id) { return static_cast<int>(std::lround(x * id)) + 1; }

}  // namespace

// -------------------------------------------------------------------------------------------------- TQ1_0

void dequantize_row_tq1_0(const void* src, float* dst, int64_t n) {
  using Layout = block::TQ1_0;
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Layout::kBytes, dst += kSuper) {
    const float d = load_f16(block + Layout::d);
    for (const TritGroup& g : kTq1Groups) {
      for (int t = 0; t < g.n_trits; ++t) {
        for (int m = 0; m < g.n_bytes; ++m) {
          // A byte holds ceil(v*256/243) for its base-3 number v, i.e. a fixed-point fraction v/243:
          // multiplying by 3^t (mod 256) shifts digit t to the top, and *3 >> 8 extracts it.
          const auto shifted = static_cast<uint8_t>(block[g.first_byte + m] * kPow3[t]);
          const int digit = (shifted * 3) >> 8;
          dst[g.first_element + m + g.n_bytes * t] = static_cast<float>(digit - 1) * d;
        }
      }
    }
  }
}

void quantize_row_tq1_0(const float* src, void* dst, int64_t n) {
  using Layout = block::TQ1_0;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Layout::kBytes, src += kSuper) {
    const float d = absmax_scale(src);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block + Layout::d, d);
    for (const TritGroup& g : kTq1Groups) {
      for (int m = 0; m < g.n_bytes; ++m) {
        int v = 0;
        for (int t = 0; t < g.n_trits; ++t) v = v * 3 + trit(src[g.first_element + m + g.n_bytes * t], id);
        if (g.n_trits == 4) v *= 3;  // qh bytes: a zero fifth digit keeps the first trit most significant
        // llama.cpp accumulates in a uint8_t; v <= 242 so nothing wraps. Ceiling division by 243.
        block[g.first_byte + m] = static_cast<uint8_t>((v * 256 + 242) / 243);
      }
    }
  }
}

// -------------------------------------------------------------------------------------------------- TQ2_0

void dequantize_row_tq2_0(const void* src, float* dst, int64_t n) {
  using Layout = block::TQ2_0;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Layout::kBytes, dst += kSuper) {
    const float d = load_f16(block + Layout::d);
    for (int e = 0; e < kSuper; ++e) {
      const int t = (block[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
      dst[e] = static_cast<float>(t - 1) * d;
    }
  }
}

void quantize_row_tq2_0(const float* src, void* dst, int64_t n) {
  using Layout = block::TQ2_0;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kSuper; ++b, block += Layout::kBytes, src += kSuper) {
    const float d = absmax_scale(src);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block + Layout::d, d);
    for (int half = 0; half < 2; ++half) {
      for (int m = 0; m < 32; ++m) {
        int q = 0;
        for (int k = 0; k < 4; ++k) q += (trit(src[128 * half + m + 32 * k], id) & 3) << (2 * k);
        block[32 * half + m] = static_cast<uint8_t>(q);
      }
    }
  }
}

}  // namespace cria::codec
