// Quantization of activations before a matmul, as llama.cpp's x86 CPU backend does it at run time.
// For Q8_0 and Q8_1 that differs slightly from the reference quantizer of the type table (FORMATS.md
// 3.2): the inverse scale is 127/amax instead of 1/(amax/127) and values round half to even, not half
// away from zero. Matching it keeps cria's logits closest to llama.cpp's on the same file. Q8_K, F16 and
// BF16 use the reference quantizers, as llama.cpp does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "ops/kernels.h"
#include "quant/type_table.h"

namespace cria::ops {

// The block every Q8_0 / Q8_1 activation quantizer writes: 34 bytes (f16 d, 32 int8) or 36 bytes (f16 d,
// f16 d * sum of the quants, 32 int8).
template <bool kWithSum>
struct Q8Block {
  static constexpr size_t kBytes = kWithSum ? 36 : 34;
  static constexpr size_t kQuants = kWithSum ? 4 : 2;  // where the 32 int8 start

  // d, and for Q8_1 d * sum, as f16 (sum is ignored for Q8_0).
  static void write_scales(uint8_t* block, float d, int32_t sum) {
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(block, &dh, 2);
    if constexpr (kWithSum) {
      const uint16_t sh = fp32_to_fp16(d * static_cast<float>(sum));
      std::memcpy(block + 2, &sh, 2);
    }
  }
};

using QuantizeActivationFn = void (*)(const float* x, void* out, int64_t n);

// The activation quantizer for a vec_dot_type; nullptr for F32 (used as is). The scalar versions are the
// reference; with an instruction set, its vector version where it has one (same bytes).
QuantizeActivationFn activation_quantizer(TensorType vec_dot_type);
QuantizeActivationFn activation_quantizer(Isa isa, TensorType vec_dot_type);

// Per-ISA versions (nullptr where the set has none for the type), in ops/cpu/<isa>/.
QuantizeActivationFn avx2_activation_quantizer(TensorType vec_dot_type);
QuantizeActivationFn avx512_activation_quantizer(TensorType vec_dot_type);
QuantizeActivationFn neon_activation_quantizer(TensorType vec_dot_type);  // both NEON sets

}  // namespace cria::ops
