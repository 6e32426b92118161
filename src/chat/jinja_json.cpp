#include "chat/jinja_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace cria::chat::jinja {

namespace {

Value from_json(const nlohmann::ordered_json& j, int depth) {
  if (depth > 512) throw_error("ValueError", "JSON input nested deeper than 512 levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      for (const auto& e : j) items.push_back(from_json(e, depth + 1));
      return Value::make_list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), from_json(it.value(), depth + 1));
      return Value::make_dict(std::move(d));
    }
    default: return Value::none();
  }
}

}  // namespace

Value value_from_json(const nlohmann::ordered_json& j) { return from_json(j, 0); }

namespace {

void quote(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void newline(std::string& out, const JsonFormat& f, int level) {
  if (f.indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(f.indent) * static_cast<size_t>(level), ' ');
}

void dump(std::string& out, const Value& v, const JsonFormat& f, int level) {
  if (level > 512) throw_error("ValueError", "tojson: value nested too deeply");
  switch (v.kind) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.b ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.i); return;
    case Value::Kind::Float:
      if (std::isnan(v.f)) {
        out += "NaN";
      } else if (std::isinf(v.f)) {
        out += v.f < 0 ? "-Infinity" : "Infinity";
      } else {
        out += py_float_repr(v.f);
      }
      return;
    case Value::Kind::String: quote(out, v.str); return;
    case Value::Kind::List: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += f.item_separator;
        newline(out, f, level + 1);
        dump(out, (*v.list)[k], f, level + 1);
      }
      newline(out, f, level);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      if (v.dict->is_namespace) break;
      if (v.dict->items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& item : v.dict->items) items.push_back(&item);
      if (f.sort_keys) {
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      out += '{';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += f.item_separator;
        newline(out, f, level + 1);
        quote(out, items[k]->first);
        out += f.key_separator;
        dump(out, items[k]->second, f, level + 1);
      }
      newline(out, f, level);
      out += '}';
      return;
    }
    default: break;
  }
  throw_error("TypeError", "Object of type " + type_name(v) + " is not JSON serializable");
}

}  // namespace

std::string to_json(const Value& v, const JsonFormat& format) {
  std::string out;
  dump(out, v, format, 0);
  return out;
}

}  // namespace cria::chat::jinja
