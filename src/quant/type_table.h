// The one table of tensor types. Every other part of cria (GGUF validation, file sizes, `cria info`,
// conversion, the kernel conformance test) reads the properties of a type from here.
// Ids equal ggml's `enum ggml_type`, so files interoperate with llama.cpp both ways.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace cria {

enum class TensorType : int32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  // 4 (Q4_2) and 5 (Q4_3) were removed from the format.
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  // 31..33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were runtime repack layouts, removed from files.
  TQ1_0 = 34,
  TQ2_0 = 35,
  // 36..38 (IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8) likewise removed.
};

// Scalar reference codecs. `n` is a number of elements and a multiple of the type's block size.
using DequantizeRowFn = void (*)(const void* blocks, float* out, int64_t n);
using QuantizeRowFn = void (*)(const float* in, void* blocks, int64_t n);

struct TypeTraits {
  TensorType type;
  std::string_view name;          // ggml's type_name, upper case as llama.cpp prints it ("Q4_K", "IQ2_XXS")
  int64_t block_size;             // elements per block
  size_t block_bytes;             // bytes per block
  bool in_model_files;            // false for activation-only types (Q8_1, Q8_K)
  DequantizeRowFn dequantize;     // nullptr: decoding not implemented (every current type has one)
  QuantizeRowFn quantize;         // nullptr: cria cannot produce this type yet
  TensorType vec_dot_type;        // activation format its dot product pairs with (FORMATS.md section 4)

  double bits_per_weight() const { return 8.0 * static_cast<double>(block_bytes) / static_cast<double>(block_size); }
};

// All known, current types in id order.
std::span<const TypeTraits> all_types();

// nullptr for ids that are unknown or removed.
const TypeTraits* find_type(int32_t id);
inline const TypeTraits& traits(TensorType t) { return *find_type(static_cast<int32_t>(t)); }

// Case-insensitive lookup by name ("q4_k", "Q4_K").
const TypeTraits* find_type(std::string_view name);

// Name of an id that used to exist and was removed ("Q4_2"), or empty.
std::string_view removed_type_name(int32_t id);

// Bytes of a row of `n` elements (n must be a multiple of the block size).
inline size_t row_bytes(const TypeTraits& t, int64_t n) {
  return static_cast<size_t>(n / t.block_size) * t.block_bytes;
}

}  // namespace cria
