// Quantization of activations before a matmul, as llama.cpp's x86 CPU backend does it at run time.
// For Q8_0 and Q8_1 that differs slightly from the reference quantizer of the type table (FORMATS.md
// 3.2): the inverse scale is 127/amax instead of 1/(amax/127) and values round half to even, not half
// away from zero. Matching it keeps cria's logits closest to llama.cpp's on the same file. Q8_K, F16 and
// BF16 use the reference quantizers, as llama.cpp does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "ops/kernels.h"
#include "quant/block_layouts.h"
#include "quant/type_table.h"

namespace cria::ops {

// The block every Q8_0 / Q8_1 activation quantizer writes (block::Q8_0, or block::Q8_1 with the f16
// d * sum of the quants).
template <bool kWithSum>
struct Q8Block {
  using Layout = std::conditional_t<kWithSum, block::Q8_1, block::Q8_0>;
  static constexpr size_t kBytes = Layout::kBytes;
  static constexpr size_t kQuants = Layout::qs;  // where the 32 int8 start

  // d, and for Q8_1 d * sum, as f16 (sum is ignored for Q8_0).
  static void write_scales(uint8_t* block, float d, int32_t sum) {
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(block + Layout::d, &dh, 2);
    if constexpr (kWithSum) {
      const uint16_t sh = fp32_to_fp16(d * static_cast<float>(sum));
      std::memcpy(block + block::Q8_1::s, &sh, 2);
    }
  }
};

using QuantizeActivationFn = void (*)(const float* x, void* out, int64_t n);

// The activation quantizer for a vec_dot_type; nullptr for F32 (used as is). The scalar versions are the
// reference; with an instruction set, its vector version where it has one (same bytes).
QuantizeActivationFn activation_quantizer(TensorType vec_dot_type);
QuantizeActivationFn activation_quantizer(Isa isa, TensorType vec_dot_type);

}  // namespace cria::ops
