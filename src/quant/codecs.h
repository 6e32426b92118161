// Scalar reference codecs for every tensor type, one pair per type: dequantize_row_<type> turns blocks
// into f32, quantize_row_<type> is the reference quantizer (FORMATS.md sections 2 and 3). The type table
// (type_table.cpp) points at these; other code should go through the table, not call them directly.
#pragma once

#include <cstdint>

namespace cria::codec {

// codec_float.cpp: plain element types.
void dequantize_row_f32(const void* src, float* dst, int64_t n);
void quantize_row_f32(const float* src, void* dst, int64_t n);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);
void dequantize_row_f64(const void* src, float* dst, int64_t n);
void quantize_row_f64(const float* src, void* dst, int64_t n);
void dequantize_row_i8(const void* src, float* dst, int64_t n);
void dequantize_row_i16(const void* src, float* dst, int64_t n);
void dequantize_row_i32(const void* src, float* dst, int64_t n);
void dequantize_row_i64(const void* src, float* dst, int64_t n);

// codec_legacy.cpp: 32-element blocks (bit-exact reference quantizers, FORMATS.md 3.2).
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);

// codec_kquants.cpp (+ kquant_search.cpp for the scale searches): 256-element super-blocks.
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

// codec_iq4.cpp: non-linear 4-bit types.
void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n);
void quantize_row_iq4_nl(const float* src, void* dst, int64_t n);
void dequantize_row_iq4_xs(const void* src, float* dst, int64_t n);
void quantize_row_iq4_xs(const float* src, void* dst, int64_t n);

// codec_ternary.cpp: ternary types.
void dequantize_row_tq1_0(const void* src, float* dst, int64_t n);
void quantize_row_tq1_0(const float* src, void* dst, int64_t n);
void dequantize_row_tq2_0(const void* src, float* dst, int64_t n);
void quantize_row_tq2_0(const float* src, void* dst, int64_t n);

// codec_iq_grids.cpp: grid i-quants (FORMATS.md 2.6; codebooks in iq_tables.h). Decoders only: their
// quantizers need an importance matrix or a grid search that cria does not have yet.
void dequantize_row_iq2_xxs(const void* src, float* dst, int64_t n);
void dequantize_row_iq2_xs(const void* src, float* dst, int64_t n);
void dequantize_row_iq2_s(const void* src, float* dst, int64_t n);
void dequantize_row_iq3_xxs(const void* src, float* dst, int64_t n);
void dequantize_row_iq3_s(const void* src, float* dst, int64_t n);
void dequantize_row_iq1_s(const void* src, float* dst, int64_t n);
void dequantize_row_iq1_m(const void* src, float* dst, int64_t n);

}  // namespace cria::codec
