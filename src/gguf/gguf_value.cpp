#include "gguf/gguf_value.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>

namespace cria::gguf {

std::string_view value_type_name(ValueType t) {
  static constexpr std::string_view kNames[kValueTypeCount] = {
      "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
      "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
  const auto i = static_cast<int32_t>(t);
  return (i >= 0 && i < kValueTypeCount) ? kNames[i] : "UNKNOWN";
}

size_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: case ValueType::ARRAY: return 0;
  }
  return 0;
}

size_t Array::size() const {
  return std::visit(
      [](const auto& v) -> size_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) {
          return 0;
        } else {
          return v.size();
        }
      },
      items);
}

bool Value::to_int64(int64_t& out) const {
  return std::visit(
      [&out](const auto& v) -> bool {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<V> && !std::is_same_v<V, bool>) {
          if constexpr (std::is_same_v<V, uint64_t>) {
            if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
          }
          out = static_cast<int64_t>(v);
          return true;
        } else {
          return false;
        }
      },
      storage_);
}

namespace {

std::string format_float(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Strings are shown quoted, with control characters and quotes escaped so one value stays on one line.
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

template <class V>
std::string scalar_to_string(const V& v) {
  if constexpr (std::is_same_v<V, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<V>) {
    return format_float(v);
  } else if constexpr (std::is_same_v<V, std::string>) {
    return quote(v);
  } else if constexpr (std::is_integral_v<V>) {
    return std::to_string(static_cast<std::conditional_t<std::is_signed_v<V>, int64_t, uint64_t>>(v));
  } else {
    return "";
  }
}

}  // namespace

std::string Value::to_display_string(size_t max_items) const {
  return std::visit(
      [max_items](const auto& v) -> std::string {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, Array>) {
          return std::visit(
              [&](const auto& items) -> std::string {
                using I = std::decay_t<decltype(items)>;
                if constexpr (std::is_same_v<I, std::monostate>) {
                  return "[]";
                } else {
                  std::string out = "[";
                  const size_t shown = std::min(items.size(), max_items);
                  for (size_t i = 0; i < shown; ++i) {
                    if (i > 0) out += ", ";
                    out += scalar_to_string(static_cast<typename I::value_type>(items[i]));
                  }
                  if (shown < items.size()) out += ", ... (" + std::to_string(items.size()) + " items)";
                  return out + "]";
                }
              },
              v.items);
        } else {
          return scalar_to_string(v);
        }
      },
      storage_);
}

}  // namespace cria::gguf
