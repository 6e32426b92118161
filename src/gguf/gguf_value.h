// GGUF metadata values (FORMATS.md 1.3). A Value holds one of the 13 value types; the variant's
// alternative index equals the GGUF type id, so `value.type()` is just `index()`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cria::gguf {

enum class ValueType : int32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
constexpr int32_t kValueTypeCount = 13;

std::string_view value_type_name(ValueType t);  // "UINT32", "STRING", ...
size_t value_type_size(ValueType t);            // fixed encoded size; 0 for STRING and ARRAY

// An array of one element type. Numbers and bools are kept as one typed vector each; strings as strings.
struct Array {
  ValueType element_type = ValueType::UINT8;
  std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
               std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>, std::vector<bool>,
               std::vector<std::string>, std::monostate /* nested arrays are not allowed */,
               std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>>
      items;

  size_t size() const;
  bool operator==(const Array&) const = default;
};

class Value {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                               Array, uint64_t, int64_t, double>;

  Value() = default;
  template <class V>
    requires std::is_constructible_v<Storage, V>
  Value(V&& v) : storage_(std::forward<V>(v)) {}
  Value(const char* s) : storage_(std::string(s)) {}

  ValueType type() const { return static_cast<ValueType>(storage_.index()); }
  const Storage& storage() const { return storage_; }

  template <class V>
  const V* get_if() const { return std::get_if<V>(&storage_); }

  const std::string* as_string() const { return get_if<std::string>(); }
  const Array* as_array() const { return get_if<Array>(); }

  // Any integer type widened, when the value fits; false for non-integers.
  bool to_int64(int64_t& out) const;

  // Text for display: numbers, quoted strings, arrays abbreviated to their first `max_items` and length.
  std::string to_display_string(size_t max_items = 8) const;

  bool operator==(const Value&) const = default;

 private:
  Storage storage_;
};

}  // namespace cria::gguf
