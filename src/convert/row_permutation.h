// The Q/K row order of Llama attention weights. Hugging Face stores each head's rows as two halves
// (rotate-half RoPE); GGUF and Meta's checkpoints interleave them in pairs, which llama.cpp's RoPE
// expects. For each head of `rows / n_heads` rows, GGUF row 2i + j is Hugging Face row j * half + i.
#pragma once

#include <cstdint>
#include <span>

#include "core/result.h"

namespace cria::convert {

// `in` holds `rows` rows of `row_len` values in Hugging Face order; `out` receives them in GGUF order.
Status interleave_head_rows(std::span<const float> in, std::span<float> out, int64_t rows, int64_t row_len,
                            uint32_t n_heads);

}  // namespace cria::convert
