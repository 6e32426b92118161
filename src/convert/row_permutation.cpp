#include "convert/row_permutation.h"

#include <algorithm>
#include <string>

namespace cria::convert {

Status interleave_head_rows(std::span<const float> in, std::span<float> out, int64_t rows, int64_t row_len,
                            uint32_t n_heads) {
  if (n_heads == 0 || rows % (2 * int64_t{n_heads}) != 0 || in.size() != out.size() ||
      static_cast<int64_t>(in.size()) != rows * row_len) {
    return make_error(std::to_string(rows) + " rows cannot be split into " + std::to_string(n_heads) +
                      " heads of row pairs");
  }
  const int64_t head_rows = rows / n_heads, half = head_rows / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const float* src = in.data() + (h * head_rows + j * half + i) * row_len;
        std::copy(src, src + row_len, out.data() + (h * head_rows + 2 * i + j) * row_len);
      }
    }
  }
  return Ok{};
}

}  // namespace cria::convert
