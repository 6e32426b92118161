// JSON in and out of the template engine. Output matches Python's json.dumps(ensure_ascii=False), which
// is what Hugging Face's `tojson` filter calls: ", " and ": " separators unless given, floats as repr(),
// non-ASCII text unescaped, dict keys in insertion order unless sorted.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "chat/jinja_value.h"

namespace cria::chat::jinja {

// Objects keep their key order only when parsed as nlohmann::ordered_json. Throws TemplateError for
// input nested deeper than 512 levels.
Value value_from_json(const nlohmann::ordered_json& j);

struct JsonFormat {
  int indent = -1;  // -1: everything on one line
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};

// Throws TypeError for values JSON cannot hold (Undefined, functions, namespaces).
std::string to_json(const Value& v, const JsonFormat& format);

}  // namespace cria::chat::jinja
