// The scalar set: the references every SIMD kernel is compared with. The GEMM's outputs are each exactly
// the scalar vec_dot of one row and one token, so batching never changes a result.
#include "ops/cpu/kernel_parts.h"

namespace cria::ops {

namespace {

template <int kTypeId>
void gemm_by_vec_dot(int64_t n, const uint8_t* w, size_t w_row_bytes, int64_t n_rows, const uint8_t* x,
                     size_t x_row_bytes, int64_t n_tokens, float* out, int64_t out_stride) {
  static const VecDotFn vec_dot = scalar_vec_dot(static_cast<TensorType>(kTypeId));
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      out[t * out_stride + r] = vec_dot(n, w + r * w_row_bytes, x + t * x_row_bytes);
    }
  }
}

template <int... kIds>
constexpr GemmFn pick(int id, std::integer_sequence<int, kIds...>) {
  GemmFn fn = nullptr;
  ((fn = (kIds == id ? &gemm_by_vec_dot<kIds> : fn)), ...);
  return fn;
}

}  // namespace

GemmFn scalar_gemm(TensorType type) {
  if (scalar_vec_dot(type) == nullptr) return nullptr;
  return pick(static_cast<int>(type), std::make_integer_sequence<int, 40>{});
}

const KernelSet& scalar_kernels() {
  static const KernelSet set{
      .gemm = scalar_gemm,
      .quantize_activation = activation_quantizer,
      .attention = scalar_attention(),
      .flash_attention = scalar_flash_attention(),
      .kv_row = scalar_kv_row(),
      .swiglu = swiglu,
      .geglu = geglu,
      .softcap = softcap,
  };
  return set;
}

}  // namespace cria::ops
