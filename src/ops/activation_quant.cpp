#include "ops/activation_quant.h"

#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "ops/kernel_set.h"

namespace cria::ops {

namespace {

// Shared by Q8_0 and Q8_1 (Q8Block).
template <bool kWithSum>
void quantize_q8_runtime(const float* x, void* out, int64_t n) {
  using Block = Q8Block<kWithSum>;
  auto* blocks = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + b * 32;
    uint8_t* block = blocks + b * Block::kBytes;
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(v[i]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) {
      const auto q = static_cast<int8_t>(std::nearbyint(v[i] * id));  // round half to even
      block[Block::kQuants + i] = static_cast<uint8_t>(q);
      sum += q;
    }
    Block::write_scales(block, d, sum);
  }
}

}  // namespace

QuantizeActivationFn activation_quantizer(TensorType vec_dot_type) {
  switch (vec_dot_type) {
    case TensorType::F32: return nullptr;
    case TensorType::Q8_0: return quantize_q8_runtime<false>;
    case TensorType::Q8_1: return quantize_q8_runtime<true>;
    default: return traits(vec_dot_type).quantize;
  }
}

QuantizeActivationFn activation_quantizer(Isa isa, TensorType vec_dot_type) {
  return best_kernel(isa, [vec_dot_type](const KernelSet& set) {
    return set.quantize_activation != nullptr ? set.quantize_activation(vec_dot_type) : nullptr;
  });
}

}  // namespace cria::ops
