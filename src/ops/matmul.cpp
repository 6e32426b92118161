#include "ops/matmul.h"

#include <string>

namespace cria::ops {

Result<Matrix> Matrix::make(TensorType type, int64_t n_in, int64_t n_out, const uint8_t* data) {
  Matrix m;
  m.type = &traits(type);
  m.n_in = n_in;
  m.n_out = n_out;
  m.data = data;
  m.row_bytes = cria::row_bytes(*m.type, n_in);
  m.vec_dot = scalar_vec_dot(type);
  if (m.vec_dot == nullptr || (type != TensorType::F32 && traits(m.type->vec_dot_type).quantize == nullptr)) {
    return make_error("tensor type " + std::string(m.type->name) + " is not supported yet");
  }
  return m;
}

void matmul(const Matrix& w, const float* x, int64_t n_tokens, float* y, MatmulScratch& scratch, ThreadPool& pool) {
  const TypeTraits& act_type = traits(w.type->vec_dot_type);
  const void* act = x;
  size_t act_row_bytes = static_cast<size_t>(w.n_in) * sizeof(float);
  if (act_type.type != TensorType::F32) {
    act_row_bytes = row_bytes(act_type, w.n_in);
    const size_t needed = act_row_bytes * static_cast<size_t>(n_tokens);
    if (scratch.activations.size() < needed) scratch.activations.resize(needed);
    uint8_t* out = scratch.activations.data();
    pool.parallel_for(n_tokens, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) act_type.quantize(x + t * w.n_in, out + t * act_row_bytes, w.n_in);
    });
    act = out;
  }
  const auto* act_bytes = static_cast<const uint8_t*>(act);
  pool.parallel_for(w.n_out, [&](int64_t begin, int64_t end, int) {
    for (int64_t j = begin; j < end; ++j) {
      const uint8_t* row = w.data + static_cast<size_t>(j) * w.row_bytes;
      for (int64_t t = 0; t < n_tokens; ++t) {
        y[t * w.n_out + j] = w.vec_dot(w.n_in, row, act_bytes + static_cast<size_t>(t) * act_row_bytes);
      }
    }
  });
}

}  // namespace cria::ops
