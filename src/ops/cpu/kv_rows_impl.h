// KV-cache rows to f32 for the attention kernels, for every cache type (ops::kv_cache_types()): written
// once over the 8-lane vector type V of ops/cpu/flash_attention_impl.h, so each instruction set gets its
// own build. A block's quants are unpacked to 32 int8 values (the nibbles, fifth bits or IQ4_NL levels),
// then converted eight at a time and scaled as the scalar codecs do (quant/codecs.h: q * d, or q * d + m;
// the build has -ffp-contract=off, so no multiply-add is fused): the result is bitwise the codecs'.
//
// Everything is a template on V, for the reason flash_attention_impl.h gives (no inline function shared
// by files compiled for different instruction sets).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "quant/block_layouts.h"
#include "quant/type_table.h"

namespace cria::ops::kv {

constexpr int kBlock = 32;  // elements per block of every quantized cache type

// Bytes of `n` elements of a cache type (n a multiple of its block; 0 for a type the cache refuses).
template <class V>
size_t bytes_of(TensorType type, size_t n) {
  switch (type) {
    case TensorType::F32: return n * 4;
    case TensorType::F16:
    case TensorType::BF16: return n * 2;
    case TensorType::Q8_0: return n / kBlock * block::Q8_0::kBytes;
    case TensorType::Q4_0: return n / kBlock * block::Q4_0::kBytes;
    case TensorType::Q4_1: return n / kBlock * block::Q4_1::kBytes;
    case TensorType::IQ4_NL: return n / kBlock * block::IQ4_NL::kBytes;
    case TensorType::Q5_0: return n / kBlock * block::Q5_0::kBytes;
    case TensorType::Q5_1: return n / kBlock * block::Q5_1::kBytes;
    default: return 0;
  }
}

template <class V>
float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return fp16_to_fp32(h);
}

template <class V>
uint32_t load_u32(const uint8_t* p) {
  uint32_t u;
  std::memcpy(&u, p, sizeof u);
  return u;
}

// 32 quants: element j < 16 from the low nibble of qs[j], element j + 16 from its high nibble; with
// qh, bit j of qh is element j's fifth bit. `offset` is subtracted (8 for Q4_0, 16 for Q5_0).
template <class V>
void unpack_nibbles(const uint8_t* qs, int offset, int8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((qs[j] & 0xF) - offset);
    q[j + 16] = static_cast<int8_t>((qs[j] >> 4) - offset);
  }
}

template <class V>
void unpack_five_bits(const uint8_t* qs, uint32_t qh, int offset, int8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(((qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - offset);
    q[j + 16] = static_cast<int8_t>(((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - offset);
  }
}

// dst = q * d (+ m) for one block of 32.
template <class V>
void scale_block(const int8_t* q, float d, float* dst) {
  const typename V::T vd = V::set1(d);
  for (int i = 0; i < kBlock; i += 8) V::store(dst + i, V::mul(V::from_i8(q + i), vd));
}

template <class V>
void scale_block_min(const int8_t* q, float d, float m, float* dst) {
  const typename V::T vd = V::set1(d), vm = V::set1(m);
  for (int i = 0; i < kBlock; i += 8) V::store(dst + i, V::add(V::mul(V::from_i8(q + i), vd), vm));
}

// One block's 32 quants as int8 (pointing into the block where it holds them as they are), and its
// scale d and offset m (0 where the type has none).
template <class V, TensorType kType>
const int8_t* block_quants(const uint8_t* blk, int8_t* q, float& d, float& m) {
  m = 0.0f;
  if constexpr (kType == TensorType::Q8_0) {
    d = load_f16<V>(blk + block::Q8_0::d);
    return reinterpret_cast<const int8_t*>(blk + block::Q8_0::qs);
  } else if constexpr (kType == TensorType::Q4_0) {
    d = load_f16<V>(blk + block::Q4_0::d);
    unpack_nibbles<V>(blk + block::Q4_0::qs, 8, q);
  } else if constexpr (kType == TensorType::Q4_1) {
    d = load_f16<V>(blk + block::Q4_1::d);
    m = load_f16<V>(blk + block::Q4_1::m);
    unpack_nibbles<V>(blk + block::Q4_1::qs, 0, q);
  } else if constexpr (kType == TensorType::IQ4_NL) {
    using L = block::IQ4_NL;
    d = load_f16<V>(blk + L::d);
    for (int j = 0; j < 16; ++j) {
      q[j] = L::kLevels[blk[L::qs + j] & 0xF];
      q[j + 16] = L::kLevels[blk[L::qs + j] >> 4];
    }
  } else if constexpr (kType == TensorType::Q5_0) {
    d = load_f16<V>(blk + block::Q5_0::d);
    unpack_five_bits<V>(blk + block::Q5_0::qs, load_u32<V>(blk + block::Q5_0::qh), 16, q);
  } else {
    static_assert(kType == TensorType::Q5_1);
    d = load_f16<V>(blk + block::Q5_1::d);
    m = load_f16<V>(blk + block::Q5_1::m);
    unpack_five_bits<V>(blk + block::Q5_1::qs, load_u32<V>(blk + block::Q5_1::qh), 0, q);
  }
  return q;
}

// The blocks of a row of one quantized type: q * d, or q * d + m for the types with an offset.
template <class V, TensorType kType, size_t kBlockBytes>
void blocks_to_f32(const uint8_t* src, float* dst, int n) {
  constexpr bool kOffset = kType == TensorType::Q4_1 || kType == TensorType::Q5_1;
  alignas(32) int8_t buf[kBlock];
  for (int b = 0; b < n / kBlock; ++b, src += kBlockBytes, dst += kBlock) {
    float d, m;
    const int8_t* q = block_quants<V, kType>(src, buf, d, m);
    if constexpr (kOffset) {
      scale_block_min<V>(q, d, m, dst);
    } else {
      scale_block<V>(q, d, dst);
    }
  }
}

// `n` elements of a cache row of type `type` (n a multiple of the block for quantized types) to f32.
template <class V>
void row_to_f32(TensorType type, const void* row, float* dst, int n) {
  const auto* src = static_cast<const uint8_t*>(row);
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
      V::f16_to_f32(static_cast<const uint16_t*>(row), dst, n);
      return;
    case TensorType::BF16:
      for (int i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, sizeof h);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        std::memcpy(dst + i, &bits, sizeof bits);
      }
      return;
    case TensorType::Q8_0: return blocks_to_f32<V, TensorType::Q8_0, block::Q8_0::kBytes>(src, dst, n);
    case TensorType::Q4_0: return blocks_to_f32<V, TensorType::Q4_0, block::Q4_0::kBytes>(src, dst, n);
    case TensorType::Q4_1: return blocks_to_f32<V, TensorType::Q4_1, block::Q4_1::kBytes>(src, dst, n);
    case TensorType::IQ4_NL: return blocks_to_f32<V, TensorType::IQ4_NL, block::IQ4_NL::kBytes>(src, dst, n);
    case TensorType::Q5_0: return blocks_to_f32<V, TensorType::Q5_0, block::Q5_0::kBytes>(src, dst, n);
    case TensorType::Q5_1: return blocks_to_f32<V, TensorType::Q5_1, block::Q5_1::kBytes>(src, dst, n);
    default:
      for (int i = 0; i < n; ++i) dst[i] = 0.0f;  // not a cache type (KvCache refuses it)
      return;
  }
}

}  // namespace cria::ops::kv
