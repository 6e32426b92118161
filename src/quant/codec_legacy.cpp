// Legacy 32-element block types (FORMATS.md 2.3 and 3.2). The quantizers are llama.cpp's reference
// quantizers, bit-exact: scales are computed in f32 and only the stored copy is rounded to f16; quants are
// computed with the unrounded scale, using C's truncating float->int8 conversion after adding 0.5 (or
// roundf for Q8), exactly as llama.cpp does.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/block_layouts.h"
#include "quant/codecs.h"
#include "quant/kquant_search.h"

namespace cria::codec {

using detail::load_f16;
using detail::load_u32;
using detail::store_f16;
using detail::store_u32;

namespace {

constexpr int kBlock = 32;

// Element e's 4-bit field: byte e%16, low nibble for the first half of the block, high for the second.
int nibble(const uint8_t* qs, int e) { return e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4); }

// The element of largest magnitude, first one on ties (strict > scan); its sign picks the scale's sign
// so that this element maps exactly onto the most negative level.
float signed_max(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

struct MinMax {
  float min = FLT_MAX;
  float max = -FLT_MAX;
};

MinMax min_max(const float* x) {
  MinMax m;
  for (int j = 0; j < kBlock; ++j) {
    if (x[j] < m.min) m.min = x[j];
    if (x[j] > m.max) m.max = x[j];
  }
  return m;
}

// C's float -> small-int conversion as x86 performs it (llama.cpp's `(int8_t)(v)`): truncate toward
// zero; callers keep the low byte. Finite block data only produces small in-range values. For NaN and
// out-of-range values (inf/NaN input) x86 yields 0x80000000, whose low byte is 0, so return 0 rather
// than invoke undefined behaviour.
int truncate_float(float v) { return (v > -2147483648.0f && v < 2147483648.0f) ? static_cast<int>(v) : 0; }
int trunc_to_int8(float v) { return static_cast<int8_t>(truncate_float(v)); }

// 5-bit quants: low nibbles into qs (as Q4), bit 4 of element e into bit e of the u32 at qh.
void pack_five_bit(const uint8_t* q, uint8_t* qh_bytes, uint8_t* qs) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
    qh |= static_cast<uint32_t>((q[j] & 0x10u) >> 4) << j;
    qh |= static_cast<uint32_t>((q[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  store_u32(qh_bytes, qh);
}

int five_bit(const uint8_t* qs, uint32_t qh, int e) {
  return nibble(qs, e) | static_cast<int>(((qh >> e) & 1) << 4);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------- Q4_0

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  using Layout = block::Q4_0;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, dst += kBlock) {
    const float d = load_f16(block + Layout::d);
    for (int e = 0; e < kBlock; ++e) dst[e] = static_cast<float>(nibble(block + Layout::qs, e) - 8) * d;
  }
}

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  using Layout = block::Q4_0;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, src += kBlock) {
    const float d = signed_max(src) / -8.0f;  // the largest-magnitude element becomes level 0 (value -8d)
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block + Layout::d, d);
    uint8_t* qs = block + Layout::qs;
    for (int j = 0; j < 16; ++j) {
      const int q0 = trunc_to_int8(src[j] * id + 8.5f);
      const int q1 = trunc_to_int8(src[j + 16] * id + 8.5f);
      // The opposite extreme lands on 16 (x*id = +8) and is clamped to 15.
      qs[j] = static_cast<uint8_t>((q0 < 15 ? q0 : 15) | ((q1 < 15 ? q1 : 15) << 4));
    }
  }
}

// ---------------------------------------------------------------------------------------------------- Q4_1

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  using Layout = block::Q4_1;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, dst += kBlock) {
    const float d = load_f16(block + Layout::d);
    const float m = load_f16(block + Layout::m);
    for (int e = 0; e < kBlock; ++e) dst[e] = static_cast<float>(nibble(block + Layout::qs, e)) * d + m;
  }
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  using Layout = block::Q4_1;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, src += kBlock) {
    const MinMax mm = min_max(src);
    const float d = (mm.max - mm.min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block + Layout::d, d);
    store_f16(block + Layout::m, mm.min);
    uint8_t* qs = block + Layout::qs;
    for (int j = 0; j < 16; ++j) {
      const int q0 = trunc_to_int8((src[j] - mm.min) * id + 0.5f);
      const int q1 = trunc_to_int8((src[j + 16] - mm.min) * id + 0.5f);
      qs[j] = static_cast<uint8_t>((q0 < 15 ? q0 : 15) | ((q1 < 15 ? q1 : 15) << 4));
    }
  }
}

// ---------------------------------------------------------------------------------------------------- Q5_0

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  using Layout = block::Q5_0;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, dst += kBlock) {
    const float d = load_f16(block + Layout::d);
    const uint32_t qh = load_u32(block + Layout::qh);
    for (int e = 0; e < kBlock; ++e) dst[e] = static_cast<float>(five_bit(block + Layout::qs, qh, e) - 16) * d;
  }
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  using Layout = block::Q5_0;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, src += kBlock) {
    const float d = signed_max(src) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block + Layout::d, d);
    uint8_t q[kBlock];
    for (int j = 0; j < kBlock; ++j) {
      const int v = trunc_to_int8(src[j] * id + 16.5f);
      q[j] = static_cast<uint8_t>(v < 31 ? v : 31);
    }
    pack_five_bit(q, block + Layout::qh, block + Layout::qs);
  }
}

// ---------------------------------------------------------------------------------------------------- Q5_1

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  using Layout = block::Q5_1;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, dst += kBlock) {
    const float d = load_f16(block + Layout::d);
    const float m = load_f16(block + Layout::m);
    const uint32_t qh = load_u32(block + Layout::qh);
    for (int e = 0; e < kBlock; ++e) dst[e] = static_cast<float>(five_bit(block + Layout::qs, qh, e)) * d + m;
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  using Layout = block::Q5_1;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, src += kBlock) {
    const MinMax mm = min_max(src);
    const float d = (mm.max - mm.min) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(block + Layout::d, d);
    store_f16(block + Layout::m, mm.min);
    uint8_t q[kBlock];
    for (int j = 0; j < kBlock; ++j) {
      // No clamp in llama.cpp: (max-min)*id + 0.5 stays below 32 because id rounds the range to 31.
      q[j] = static_cast<uint8_t>(truncate_float((src[j] - mm.min) * id + 0.5f));
    }
    pack_five_bit(q, block + Layout::qh, block + Layout::qs);
  }
}

// ---------------------------------------------------------------------------------------------------- Q8_0

namespace {

// Q8_0 and Q8_1 share the scale choice d = amax/127 and the rounding q = roundf(x/d) (half away from zero).
float quantize_q8_block(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kBlock; ++j) qs[j] = static_cast<int8_t>(truncate_float(std::roundf(x[j] * id)));
  return d;
}

}  // namespace

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  using Layout = block::Q8_0;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, dst += kBlock) {
    const float d = load_f16(block + Layout::d);
    const auto* qs = reinterpret_cast<const int8_t*>(block + Layout::qs);
    for (int e = 0; e < kBlock; ++e) dst[e] = static_cast<float>(qs[e]) * d;
  }
}

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  using Layout = block::Q8_0;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, src += kBlock) {
    const float d = quantize_q8_block(src, reinterpret_cast<int8_t*>(block + Layout::qs));
    store_f16(block + Layout::d, d);
  }
}

// ---------------------------------------------------------------------------------------------------- Q8_1

void dequantize_row_q8_1(const void* src, float* dst, int64_t n) {
  using Layout = block::Q8_1;
  const auto* block = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, dst += kBlock) {
    const float d = load_f16(block + Layout::d);
    const auto* qs = reinterpret_cast<const int8_t*>(block + Layout::qs);
    for (int e = 0; e < kBlock; ++e) dst[e] = static_cast<float>(qs[e]) * d;
  }
}

void quantize_row_q8_1(const float* src, void* dst, int64_t n) {
  using Layout = block::Q8_1;
  auto* block = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b, block += Layout::kBytes, src += kBlock) {
    auto* qs = reinterpret_cast<int8_t*>(block + Layout::qs);
    const float d = quantize_q8_block(src, qs);
    int sum = 0;
    for (int j = 0; j < kBlock; ++j) sum += qs[j];
    store_f16(block + Layout::d, d);
    // The block sum uses the unrounded scale; activations' dot products use it for the min term.
    store_f16(block + Layout::s, static_cast<float>(sum) * d);
  }
}

}  // namespace cria::codec
