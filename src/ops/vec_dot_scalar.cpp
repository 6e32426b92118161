// Scalar reference dot products. Each weight block is first unpacked to small integers and integer
// scales ("unpack"), then one generic loop forms the integer sums and applies the float scales, so each
// type's layout lives in one short function.
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "ops/vec_dot.h"
#include "quant/block_layouts.h"
#include "quant/iq_tables.h"

namespace cria::ops {

namespace {

float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// ---- 32-element blocks against Q8_0 / Q8_1 ------------------------------------------------------------

struct Block32 {
  int8_t q[32];     // centred quants (or table values for IQ4_NL)
  float d;          // scale
  float m;          // offset added per element (Q4_1, Q5_1); 0 otherwise
};

constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

int nibble(const uint8_t* qs, int e) { return e < 16 ? (qs[e] & 0x0f) : (qs[e - 16] >> 4); }

void unpack_q4_0(const uint8_t* b, Block32& out) {
  out.d = load_f16(b + block::Q4_0::d);
  out.m = 0;
  for (int e = 0; e < 32; ++e) out.q[e] = static_cast<int8_t>(nibble(b + block::Q4_0::qs, e) - 8);
}
void unpack_q4_1(const uint8_t* b, Block32& out) {
  out.d = load_f16(b + block::Q4_1::d);
  out.m = load_f16(b + block::Q4_1::m);
  for (int e = 0; e < 32; ++e) out.q[e] = static_cast<int8_t>(nibble(b + block::Q4_1::qs, e));
}
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void unpack_q5_0(const uint8_t* b, Block32& out) {
  out.d = load_f16(b + block::Q5_0::d);
  out.m = 0;
  const uint32_t h = load_u32(b + block::Q5_0::qh);
  for (int e = 0; e < 32; ++e) out.q[e] = static_cast<int8_t>((nibble(b + block::Q5_0::qs, e) | (((h >> e) & 1) << 4)) - 16);
}
void unpack_q5_1(const uint8_t* b, Block32& out) {
  out.d = load_f16(b + block::Q5_1::d);
  out.m = load_f16(b + block::Q5_1::m);
  const uint32_t h = load_u32(b + block::Q5_1::qh);
  for (int e = 0; e < 32; ++e) out.q[e] = static_cast<int8_t>(nibble(b + block::Q5_1::qs, e) | (((h >> e) & 1) << 4));
}
void unpack_q8_0(const uint8_t* b, Block32& out) {
  out.d = load_f16(b + block::Q8_0::d);
  out.m = 0;
  std::memcpy(out.q, b + block::Q8_0::qs, 32);
}
void unpack_iq4_nl(const uint8_t* b, Block32& out) {
  out.d = load_f16(b + block::IQ4_NL::d);
  out.m = 0;
  for (int e = 0; e < 32; ++e) out.q[e] = kIq4nlValues[nibble(b + block::IQ4_NL::qs, e)];
}

// Against Q8_0 activations (block::Q8_0): the sum of isum * d_w * d_x. Against Q8_1 (block::Q8_1, whose
// s = d * sum(q)) an offset term m_w * s_x is added per block.
template <void (*Unpack)(const uint8_t*, Block32&), size_t kBlockBytes, bool kQ8_1>
float dot_with_q8(int64_t n, const void* w, const void* x) {
  using Act = std::conditional_t<kQ8_1, block::Q8_1, block::Q8_0>;
  constexpr size_t kActBytes = Act::kBytes, kActQuants = Act::qs;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  float sum = 0;
  Block32 block;
  for (int64_t i = 0; i < n / 32; ++i) {
    Unpack(wb + i * kBlockBytes, block);
    const uint8_t* xq = xb + i * kActBytes;
    int32_t isum = 0;
    for (int e = 0; e < 32; ++e) isum += block.q[e] * static_cast<int8_t>(xq[kActQuants + e]);
    sum += static_cast<float>(isum) * (block.d * load_f16(xq + Act::d)) + (kQ8_1 ? block.m * load_f16(xq + block::Q8_1::s) : 0.0f);
  }
  return sum;
}
template <void (*Unpack)(const uint8_t*, Block32&), size_t kBlockBytes>
constexpr VecDotFn dot_with_q8_0 = dot_with_q8<Unpack, kBlockBytes, false>;
template <void (*Unpack)(const uint8_t*, Block32&), size_t kBlockBytes>
constexpr VecDotFn dot_with_q8_1 = dot_with_q8<Unpack, kBlockBytes, true>;

// ---- 256-element super-blocks against Q8_K ------------------------------------------------------------

using Block256 = SuperBlockInts;

int q2(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }

void unpack_q2_k(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  for (int j = 0; j < 16; ++j) {
    out.scale[j] = b[block::Q2_K::scales + j] & 0x0f;
    out.min[j] = b[block::Q2_K::scales + j] >> 4;
  }
  for (int e = 0; e < 256; ++e) out.q[e] = static_cast<int8_t>(q2(b + block::Q2_K::qs, e));
  out.d = load_f16(b + block::Q2_K::d);
  out.dmin = load_f16(b + block::Q2_K::dmin);
}

void unpack_q3_k(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  const uint8_t* hmask = b + block::Q3_K::hmask;
  const uint8_t* scales = b + block::Q3_K::scales;
  for (int j = 0; j < 16; ++j) {
    const int low4 = j < 8 ? (scales[j] & 0x0f) : (scales[j - 8] >> 4);
    const int high2 = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    out.scale[j] = static_cast<int16_t>((low4 | (high2 << 4)) - 32);
    out.min[j] = 0;
  }
  for (int e = 0; e < 256; ++e) {
    const int hb = (hmask[e % 32] >> (e / 32)) & 1;
    out.q[e] = static_cast<int8_t>(q2(b + block::Q3_K::qs, e) - (hb ? 0 : 4));
  }
  out.d = load_f16(b + block::Q3_K::d);
  out.dmin = 0;
}

// The 6-bit (scale, min) pairs of Q4_K and Q5_K.
void unpack_scale_min_k4(const uint8_t* scales, Block256& out) {
  out.sub_size = 32;
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      out.scale[j] = scales[j] & 63;
      out.min[j] = scales[j + 4] & 63;
    } else {
      out.scale[j] = static_cast<int16_t>((scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4));
      out.min[j] = static_cast<int16_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
  }
}

int q4_k_nibble(const uint8_t* qs, int e) {
  const int c = e / 64, r = e % 64;
  const uint8_t byte = qs[32 * c + r % 32];
  return r < 32 ? (byte & 0x0f) : (byte >> 4);
}

void unpack_q4_k(const uint8_t* b, Block256& out) {
  out.d = load_f16(b + block::Q4_K::d);
  out.dmin = load_f16(b + block::Q4_K::dmin);
  unpack_scale_min_k4(b + block::Q4_K::scales, out);
  for (int e = 0; e < 256; ++e) out.q[e] = static_cast<int8_t>(q4_k_nibble(b + block::Q4_K::qs, e));
}

void unpack_q5_k(const uint8_t* b, Block256& out) {
  out.d = load_f16(b + block::Q5_K::d);
  out.dmin = load_f16(b + block::Q5_K::dmin);
  unpack_scale_min_k4(b + block::Q5_K::scales, out);
  const uint8_t* qh = b + block::Q5_K::qh;
  for (int e = 0; e < 256; ++e) {
    out.q[e] = static_cast<int8_t>(q4_k_nibble(b + block::Q5_K::qs, e) + 16 * ((qh[e % 32] >> (e / 32)) & 1));
  }
}

void unpack_q6_k(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  const uint8_t* ql = b + block::Q6_K::ql;
  const uint8_t* qh = b + block::Q6_K::qh;
  for (int j = 0; j < 16; ++j) {
    out.scale[j] = static_cast<int8_t>(b[block::Q6_K::scales + j]);
    out.min[j] = 0;
  }
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
    const uint8_t low_byte = ql[64 * h + 32 * (k & 1) + l];
    const int low4 = k < 2 ? (low_byte & 0x0f) : (low_byte >> 4);
    const int high2 = (qh[32 * h + l] >> (2 * k)) & 3;
    out.q[e] = static_cast<int8_t>((low4 | (high2 << 4)) - 32);
  }
  out.d = load_f16(b + block::Q6_K::d);
  out.dmin = 0;
}

void unpack_iq4_xs(const uint8_t* b, Block256& out) {
  out.sub_size = 32;
  out.d = load_f16(b + block::IQ4_XS::d);
  out.dmin = 0;
  uint16_t scales_h;
  std::memcpy(&scales_h, b + block::IQ4_XS::scales_h, 2);
  const uint8_t* scales_l = b + block::IQ4_XS::scales_l;
  const uint8_t* qs = b + block::IQ4_XS::qs;
  for (int ib = 0; ib < 8; ++ib) {
    const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((scales_h >> (2 * ib)) & 3) << 4);
    out.scale[ib] = static_cast<int16_t>(ls - 32);
    out.min[ib] = 0;
    for (int j = 0; j < 32; ++j) {
      const uint8_t byte = qs[16 * ib + j % 16];
      out.q[32 * ib + j] = kIq4nlValues[j < 16 ? (byte & 0x0f) : (byte >> 4)];
    }
  }
}

void unpack_tq2_0(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  for (int j = 0; j < 16; ++j) {
    out.scale[j] = 1;
    out.min[j] = 0;
  }
  for (int e = 0; e < 256; ++e) out.q[e] = static_cast<int8_t>(q2(b + block::TQ2_0::qs, e) - 1);
  out.d = load_f16(b + block::TQ2_0::d);
  out.dmin = 0;
}

void unpack_tq1_0(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  for (int j = 0; j < 16; ++j) {
    out.scale[j] = 1;
    out.min[j] = 0;
  }
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  for (int e = 0; e < 256; ++e) {
    uint8_t byte;
    int n;
    if (e < 160) {
      byte = b[e % 32];
      n = e / 32;
    } else if (e < 240) {
      byte = b[32 + (e - 160) % 16];
      n = (e - 160) / 16;
    } else {
      byte = b[block::TQ1_0::qh + (e - 240) % 4];
      n = (e - 240) / 4;
    }
    const uint8_t v = static_cast<uint8_t>(byte * kPow3[n]);
    out.q[e] = static_cast<int8_t>(((v * 3) >> 8) - 1);
  }
  out.d = load_f16(b + block::TQ1_0::d);
  out.dmin = 0;
}

// ---- grid i-quants (FORMATS.md 2.6) as integers ----
// Each x(e) is an exact product (FORMATS.md 2.6, "Arithmetic order and exactness"), split here into an
// integer quant q, an integer sub-block scale 2s+1 and a float d that carries the power-of-two factor:
//   IQ2_XXS/XS/S: q = +-level, d = d_f16/8     IQ3_XXS: q = +-level, d = d_f16/4     IQ3_S: d = d_f16
//   IQ1_S/IQ1_M:  q = 8*level +- 1 (the delta sign), d = d_f16/8
// d * (scale * q) then equals x(e) bit for bit (<= 22 significant bits, no rounding).

using iq::grid_entry;

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void no_mins(Block256& out) {
  out.dmin = 0;
  for (auto& m : out.min) m = 0;
}

// Eight signed levels from an unsigned 8-lane entry: lane k negated when bit k of S is set.
void put_signed8(uint64_t entry, uint8_t S, int8_t* q) {
  for (int j = 0; j < 8; ++j) {
    const int level = static_cast<int>((entry >> (8 * j)) & 0xFF);
    q[j] = static_cast<int8_t>(((S >> j) & 1) ? -level : level);
  }
}

// Two 4-lane entries (lanes 0-3, then 4-7), signs as above.
void put_signed4x2(uint32_t lo, uint32_t hi, uint8_t S, int8_t* q) {
  put_signed8(static_cast<uint64_t>(lo) | (static_cast<uint64_t>(hi) << 32), S, q);
}

// IQ1: 8 * (signed lane) + delta, delta = +1 or -1 (eighths).
void put_iq1(uint64_t entry, bool negative_delta, int8_t* q) {
  for (int j = 0; j < 8; ++j) {
    const int lane = static_cast<int8_t>(static_cast<uint8_t>(entry >> (8 * j)));
    q[j] = static_cast<int8_t>(8 * lane + (negative_delta ? -1 : 1));
  }
}

void unpack_iq2_xxs(const uint8_t* b, Block256& out) {
  out.sub_size = 32;
  out.d = load_f16(b) * 0.125f;
  no_mins(out);
  for (int ib = 0; ib < 8; ++ib) {
    const uint8_t* q = b + 2 + 8 * ib;
    const uint32_t W = load_u32(q + 4);
    out.scale[ib] = static_cast<int16_t>(2 * (W >> 28) + 1);
    for (int l = 0; l < 4; ++l) {
      put_signed8(grid_entry(iq::kIq2xxsGrid, q[l]), iq::ksigns_iq2xs((W >> (7 * l)) & 127),
                  out.q + 32 * ib + 8 * l);
    }
  }
}

void unpack_iq2_xs(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  out.d = load_f16(b) * 0.125f;
  no_mins(out);
  for (int ib = 0; ib < 8; ++ib) {
    out.scale[2 * ib] = static_cast<int16_t>(2 * (b[66 + ib] & 0x0F) + 1);
    out.scale[2 * ib + 1] = static_cast<int16_t>(2 * (b[66 + ib] >> 4) + 1);
  }
  for (int g = 0; g < 32; ++g) {
    const uint16_t w = load_u16(b + 2 + 2 * g);
    put_signed8(grid_entry(iq::kIq2xsGrid, w & 511), iq::ksigns_iq2xs(w >> 9), out.q + 8 * g);
  }
}

void unpack_iq2_s(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  out.d = load_f16(b) * 0.125f;
  no_mins(out);
  const uint8_t* qs = b + 2;
  const uint8_t* signs = b + 34;
  const uint8_t* qh = b + 66;
  const uint8_t* scales = b + 74;
  for (int ib = 0; ib < 8; ++ib) {
    out.scale[2 * ib] = static_cast<int16_t>(2 * (scales[ib] & 0x0F) + 1);
    out.scale[2 * ib + 1] = static_cast<int16_t>(2 * (scales[ib] >> 4) + 1);
  }
  for (int g = 0; g < 32; ++g) {
    const uint32_t index = qs[g] | (((qh[g / 4] >> (2 * (g % 4))) & 3u) << 8);
    put_signed8(grid_entry(iq::kIq2sGrid, index), signs[g], out.q + 8 * g);
  }
}

void unpack_iq3_xxs(const uint8_t* b, Block256& out) {
  out.sub_size = 32;
  out.d = load_f16(b) * 0.25f;
  no_mins(out);
  const uint8_t* qs = b + 2;
  for (int ib = 0; ib < 8; ++ib) {
    const uint32_t W = load_u32(b + 66 + 4 * ib);
    out.scale[ib] = static_cast<int16_t>(2 * (W >> 28) + 1);
    for (int l = 0; l < 4; ++l) {
      const int g = 4 * ib + l;
      put_signed4x2(grid_entry(iq::kIq3xxsGrid, qs[2 * g]), grid_entry(iq::kIq3xxsGrid, qs[2 * g + 1]),
                    iq::ksigns_iq2xs((W >> (7 * l)) & 127), out.q + 8 * g);
    }
  }
}

void unpack_iq3_s(const uint8_t* b, Block256& out) {
  out.sub_size = 32;
  out.d = load_f16(b);
  no_mins(out);
  const uint8_t* qs = b + 2;
  const uint8_t* qh = b + 66;
  const uint8_t* signs = b + 74;
  for (int ib = 0; ib < 8; ++ib) {
    out.scale[ib] = static_cast<int16_t>(2 * ((b[106 + ib / 2] >> (4 * (ib % 2))) & 0x0F) + 1);
    for (int l = 0; l < 4; ++l) {
      const int k = 8 * ib + 2 * l;
      const uint32_t lo = qs[k] | (((qh[ib] >> (2 * l)) & 1u) << 8);
      const uint32_t hi = qs[k + 1] | (((qh[ib] >> (2 * l + 1)) & 1u) << 8);
      put_signed4x2(grid_entry(iq::kIq3sGrid, lo), grid_entry(iq::kIq3sGrid, hi), signs[4 * ib + l],
                    out.q + 32 * ib + 8 * l);
    }
  }
}

void unpack_iq1_s(const uint8_t* b, Block256& out) {
  out.sub_size = 32;
  out.d = load_f16(b) * 0.125f;
  no_mins(out);
  const uint8_t* qs = b + 2;
  for (int ib = 0; ib < 8; ++ib) {
    const uint16_t h = load_u16(b + 34 + 2 * ib);
    out.scale[ib] = static_cast<int16_t>(2 * ((h >> 12) & 7) + 1);
    for (int l = 0; l < 4; ++l) {
      const int g = 4 * ib + l;
      put_iq1(grid_entry(iq::kIq1sGrid, qs[g] | (((h >> (3 * l)) & 7u) << 8)), (h & 0x8000) != 0,
              out.q + 8 * g);
    }
  }
}

void unpack_iq1_m(const uint8_t* b, Block256& out) {
  out.sub_size = 16;
  const uint8_t* qs = b;
  const uint8_t* qh = b + 32;
  uint16_t W[4];
  for (int i = 0; i < 4; ++i) W[i] = load_u16(b + 48 + 2 * i);
  const auto bits =
      static_cast<uint16_t>((W[0] >> 12) | ((W[1] >> 12) << 4) | ((W[2] >> 12) << 8) | ((W[3] >> 12) << 12));
  out.d = fp16_to_fp32(bits) * 0.125f;
  no_mins(out);
  for (int t = 0; t < 16; ++t) out.scale[t] = static_cast<int16_t>(2 * ((W[t / 4] >> (3 * (t % 4))) & 7) + 1);
  for (int g = 0; g < 32; ++g) {
    const int nib = g % 2 == 0 ? (qh[g / 2] & 0x0F) : (qh[g / 2] >> 4);
    put_iq1(grid_entry(iq::kIq1sGrid, qs[g] | (static_cast<uint32_t>(nib & 7) << 8)), (nib & 8) != 0,
            out.q + 8 * g);
  }
}

// Against Q8_K activations (block::Q8_K: f32 d, 256 int8, 16 int16 sums).
template <void (*Unpack)(const uint8_t*, Block256&), size_t kBlockBytes>
float dot_with_q8_k(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  float sum = 0;
  Block256 block;
  for (int64_t i = 0; i < n / 256; ++i) {
    Unpack(wb + i * kBlockBytes, block);
    const uint8_t* xq = xb + i * block::Q8_K::kBytes;
    float dx;
    std::memcpy(&dx, xq + block::Q8_K::d, 4);
    const auto* xs = reinterpret_cast<const int8_t*>(xq + block::Q8_K::qs);
    int16_t bsums[16];
    std::memcpy(bsums, xq + block::Q8_K::bsums, sizeof bsums);
    int32_t isum = 0, msum = 0;
    const int n_sub = 256 / block.sub_size;
    for (int j = 0; j < n_sub; ++j) {
      int32_t sub = 0;
      for (int e = j * block.sub_size; e < (j + 1) * block.sub_size; ++e) sub += block.q[e] * xs[e];
      isum += block.scale[j] * sub;
      const int32_t xsum = block.sub_size == 16 ? bsums[j] : bsums[2 * j] + bsums[2 * j + 1];
      msum += block.min[j] * xsum;
    }
    sum += block.d * dx * static_cast<float>(isum) - block.dmin * dx * static_cast<float>(msum);
  }
  return sum;
}

// ---- plain float types ------------------------------------------------------------------------------

float dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

template <float (*Load)(uint16_t)>
float dot_half(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint8_t*>(w);
  const auto* b = static_cast<const uint8_t*>(x);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint16_t ha, hb;
    std::memcpy(&ha, a + 2 * i, 2);
    std::memcpy(&hb, b + 2 * i, 2);
    sum += static_cast<double>(Load(ha) * Load(hb));
  }
  return static_cast<float>(sum);
}

}  // namespace

VecDotFn scalar_vec_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32: return dot_f32;
    case TensorType::F16: return dot_half<fp16_to_fp32>;
    case TensorType::BF16: return dot_half<bf16_to_fp32>;
    case TensorType::Q4_0: return dot_with_q8_0<unpack_q4_0, block::Q4_0::kBytes>;
    case TensorType::Q4_1: return dot_with_q8_1<unpack_q4_1, block::Q4_1::kBytes>;
    case TensorType::Q5_0: return dot_with_q8_0<unpack_q5_0, block::Q5_0::kBytes>;
    case TensorType::Q5_1: return dot_with_q8_1<unpack_q5_1, block::Q5_1::kBytes>;
    case TensorType::Q8_0: return dot_with_q8_0<unpack_q8_0, block::Q8_0::kBytes>;
    case TensorType::IQ4_NL: return dot_with_q8_0<unpack_iq4_nl, block::IQ4_NL::kBytes>;
    case TensorType::Q2_K: return dot_with_q8_k<unpack_q2_k, block::Q2_K::kBytes>;
    case TensorType::Q3_K: return dot_with_q8_k<unpack_q3_k, block::Q3_K::kBytes>;
    case TensorType::Q4_K: return dot_with_q8_k<unpack_q4_k, block::Q4_K::kBytes>;
    case TensorType::Q5_K: return dot_with_q8_k<unpack_q5_k, block::Q5_K::kBytes>;
    case TensorType::Q6_K: return dot_with_q8_k<unpack_q6_k, block::Q6_K::kBytes>;
    case TensorType::IQ4_XS: return dot_with_q8_k<unpack_iq4_xs, block::IQ4_XS::kBytes>;
    case TensorType::TQ1_0: return dot_with_q8_k<unpack_tq1_0, block::TQ1_0::kBytes>;
    case TensorType::TQ2_0: return dot_with_q8_k<unpack_tq2_0, block::TQ2_0::kBytes>;
    case TensorType::IQ2_XXS: return dot_with_q8_k<unpack_iq2_xxs, block::IQ2_XXS::kBytes>;
    case TensorType::IQ2_XS: return dot_with_q8_k<unpack_iq2_xs, block::IQ2_XS::kBytes>;
    case TensorType::IQ2_S: return dot_with_q8_k<unpack_iq2_s, block::IQ2_S::kBytes>;
    case TensorType::IQ3_XXS: return dot_with_q8_k<unpack_iq3_xxs, block::IQ3_XXS::kBytes>;
    case TensorType::IQ3_S: return dot_with_q8_k<unpack_iq3_s, block::IQ3_S::kBytes>;
    case TensorType::IQ1_S: return dot_with_q8_k<unpack_iq1_s, block::IQ1_S::kBytes>;
    case TensorType::IQ1_M: return dot_with_q8_k<unpack_iq1_m, block::IQ1_M::kBytes>;
    default: return nullptr;
  }
}

UnpackSuperBlockFn scalar_unpack_super_block(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q2_K: return unpack_q2_k;
    case TensorType::Q3_K: return unpack_q3_k;
    case TensorType::Q4_K: return unpack_q4_k;
    case TensorType::Q5_K: return unpack_q5_k;
    case TensorType::Q6_K: return unpack_q6_k;
    case TensorType::IQ4_XS: return unpack_iq4_xs;
    case TensorType::TQ1_0: return unpack_tq1_0;
    case TensorType::TQ2_0: return unpack_tq2_0;
    case TensorType::IQ2_XXS: return unpack_iq2_xxs;
    case TensorType::IQ2_XS: return unpack_iq2_xs;
    case TensorType::IQ2_S: return unpack_iq2_s;
    case TensorType::IQ3_XXS: return unpack_iq3_xxs;
    case TensorType::IQ3_S: return unpack_iq3_s;
    case TensorType::IQ1_S: return unpack_iq1_s;
    case TensorType::IQ1_M: return unpack_iq1_m;
    default: return nullptr;
  }
}

}  // namespace cria::ops
