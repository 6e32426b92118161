#include "quant/type_table.h"

#include <array>
#include <cctype>

#include "quant/codecs.h"
#include "quant/block_layouts.h"

namespace cria {
namespace {

using T = TensorType;
using namespace codec;

// One row per type: id, name, block size, block bytes, stored in files, dequantize, quantize, vec_dot type.
// Grid i-quants (IQ1_S ... IQ3_S) decode but have no quantizer yet (llama.cpp's need an importance matrix).
constexpr TypeTraits kTypes[] = {
    {T::F32, "F32", 1, 4, true, dequantize_row_f32, quantize_row_f32, T::F32},
    {T::F16, "F16", 1, 2, true, dequantize_row_f16, quantize_row_f16, T::F16},
    {T::Q4_0, "Q4_0", 32, block::Q4_0::kBytes, true, dequantize_row_q4_0, quantize_row_q4_0, T::Q8_0},
    {T::Q4_1, "Q4_1", 32, block::Q4_1::kBytes, true, dequantize_row_q4_1, quantize_row_q4_1, T::Q8_1},
    {T::Q5_0, "Q5_0", 32, block::Q5_0::kBytes, true, dequantize_row_q5_0, quantize_row_q5_0, T::Q8_0},
    {T::Q5_1, "Q5_1", 32, block::Q5_1::kBytes, true, dequantize_row_q5_1, quantize_row_q5_1, T::Q8_1},
    {T::Q8_0, "Q8_0", 32, block::Q8_0::kBytes, true, dequantize_row_q8_0, quantize_row_q8_0, T::Q8_0},
    {T::Q8_1, "Q8_1", 32, block::Q8_1::kBytes, false, dequantize_row_q8_1, quantize_row_q8_1, T::Q8_1},
    {T::Q2_K, "Q2_K", 256, block::Q2_K::kBytes, true, dequantize_row_q2_k, quantize_row_q2_k, T::Q8_K},
    {T::Q3_K, "Q3_K", 256, block::Q3_K::kBytes, true, dequantize_row_q3_k, quantize_row_q3_k, T::Q8_K},
    {T::Q4_K, "Q4_K", 256, block::Q4_K::kBytes, true, dequantize_row_q4_k, quantize_row_q4_k, T::Q8_K},
    {T::Q5_K, "Q5_K", 256, block::Q5_K::kBytes, true, dequantize_row_q5_k, quantize_row_q5_k, T::Q8_K},
    {T::Q6_K, "Q6_K", 256, block::Q6_K::kBytes, true, dequantize_row_q6_k, quantize_row_q6_k, T::Q8_K},
    {T::Q8_K, "Q8_K", 256, block::Q8_K::kBytes, false, dequantize_row_q8_k, quantize_row_q8_k, T::Q8_K},
    {T::IQ2_XXS, "IQ2_XXS", 256, block::IQ2_XXS::kBytes, true, dequantize_row_iq2_xxs, nullptr, T::Q8_K},
    {T::IQ2_XS, "IQ2_XS", 256, block::IQ2_XS::kBytes, true, dequantize_row_iq2_xs, nullptr, T::Q8_K},
    {T::IQ3_XXS, "IQ3_XXS", 256, block::IQ3_XXS::kBytes, true, dequantize_row_iq3_xxs, nullptr, T::Q8_K},
    {T::IQ1_S, "IQ1_S", 256, block::IQ1_S::kBytes, true, dequantize_row_iq1_s, nullptr, T::Q8_K},
    {T::IQ4_NL, "IQ4_NL", 32, block::IQ4_NL::kBytes, true, dequantize_row_iq4_nl, quantize_row_iq4_nl, T::Q8_0},
    {T::IQ3_S, "IQ3_S", 256, block::IQ3_S::kBytes, true, dequantize_row_iq3_s, nullptr, T::Q8_K},
    {T::IQ2_S, "IQ2_S", 256, block::IQ2_S::kBytes, true, dequantize_row_iq2_s, nullptr, T::Q8_K},
    {T::IQ4_XS, "IQ4_XS", 256, block::IQ4_XS::kBytes, true, dequantize_row_iq4_xs, quantize_row_iq4_xs, T::Q8_K},
    {T::I8, "I8", 1, 1, true, dequantize_row_i8, nullptr, T::I8},
    {T::I16, "I16", 1, 2, true, dequantize_row_i16, nullptr, T::I16},
    {T::I32, "I32", 1, 4, true, dequantize_row_i32, nullptr, T::I32},
    {T::I64, "I64", 1, 8, true, dequantize_row_i64, nullptr, T::I64},
    {T::F64, "F64", 1, 8, true, dequantize_row_f64, quantize_row_f64, T::F64},
    {T::IQ1_M, "IQ1_M", 256, block::IQ1_M::kBytes, true, dequantize_row_iq1_m, nullptr, T::Q8_K},
    {T::BF16, "BF16", 1, 2, true, dequantize_row_bf16, quantize_row_bf16, T::BF16},
    {T::TQ1_0, "TQ1_0", 256, block::TQ1_0::kBytes, true, dequantize_row_tq1_0, quantize_row_tq1_0, T::Q8_K},
    {T::TQ2_0, "TQ2_0", 256, block::TQ2_0::kBytes, true, dequantize_row_tq2_0, quantize_row_tq2_0, T::Q8_K},
};

constexpr int32_t kMaxId = 40;

constexpr std::array<int8_t, kMaxId> make_index() {
  std::array<int8_t, kMaxId> index{};
  for (auto& i : index) i = -1;
  for (size_t i = 0; i < std::size(kTypes); ++i) index[static_cast<size_t>(kTypes[i].type)] = static_cast<int8_t>(i);
  return index;
}
constexpr auto kIndexById = make_index();

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

std::span<const TypeTraits> all_types() { return kTypes; }

const TypeTraits* find_type(int32_t id) {
  if (id < 0 || id >= kMaxId || kIndexById[static_cast<size_t>(id)] < 0) return nullptr;
  return &kTypes[kIndexById[static_cast<size_t>(id)]];
}

const TypeTraits* find_type(std::string_view name) {
  for (const auto& t : kTypes) {
    if (iequals(t.name, name)) return &t;
  }
  return nullptr;
}

std::string_view removed_type_name(int32_t id) {
  switch (id) {
    case 4: return "Q4_2";
    case 5: return "Q4_3";
    case 31: return "Q4_0_4_4";
    case 32: return "Q4_0_4_8";
    case 33: return "Q4_0_8_8";
    case 36: return "IQ4_NL_4_4";
    case 37: return "IQ4_NL_4_8";
    case 38: return "IQ4_NL_8_8";
    default: return {};
  }
}

}  // namespace cria
