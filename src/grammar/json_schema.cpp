#include "grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "grammar/regex_gbnf.h"

namespace cria::grammar {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kMaxDigits = 18;  // integers of more digits than this are not generated (int64 range)
constexpr int kMaxDepth = 64;   // schemas nested deeper (not through $ref) are refused

// The rules every schema may use; the converter adds those it refers to.
const std::map<std::string, std::string, std::less<>>& primitive_rules() {
  static const std::map<std::string, std::string, std::less<>> rules = {
      // One space or one newline at most: a model that likes whitespace cannot spend its tokens on it.
      {"ws", R"(| " " | "\n")"},
      {"char", R"([^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))"},
      {"string", R"("\"" char* "\"" ws)"},
      {"integer", R"("-"? ("0" | [1-9] [0-9]{0,17}) ws)"},
      {"number", R"("-"? ("0" | [1-9] [0-9]{0,17}) ("." [0-9]+)? ([eE] [-+]? [0-9]+)? ws)"},
      {"boolean", R"(("true" | "false") ws)"},
      {"null", R"("null" ws)"},
      {"value", R"(object | array | string | number | boolean | null)"},
      {"object", R"("{" ws (string ":" ws value ("," ws string ":" ws value)*)? "}" ws)"},
      {"array", R"("[" ws (value ("," ws value)*)? "]" ws)"},
  };
  return rules;
}

// Which primitives each one uses.
const std::map<std::string, std::vector<std::string>, std::less<>>& primitive_deps() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> deps = {
      {"string", {"char", "ws"}}, {"integer", {"ws"}}, {"number", {"ws"}}, {"boolean", {"ws"}},
      {"null", {"ws"}},           {"value", {"object", "array", "string", "number", "boolean", "null"}},
      {"object", {"ws", "string", "value"}}, {"array", {"ws", "value"}},
  };
  return deps;
}

const std::set<std::string, std::less<>>& known_keywords() {
  static const std::set<std::string, std::less<>> keys = {
      "type", "enum", "const", "nullable", "properties", "required", "additionalProperties", "items", "minItems",
      "maxItems", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf",
      "oneOf", "allOf", "$ref", "$defs", "definitions", "pattern",
      // annotations
      "title", "description", "$schema", "$id", "$comment", "examples", "default", "deprecated", "readOnly",
      "writeOnly"};
  return keys;
}

// A GBNF string literal holding `text` exactly.
std::string literal(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      const char* hex = "0123456789ABCDEF";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string group(const std::vector<std::string>& alternatives) {
  if (alternatives.size() == 1) return alternatives[0];
  std::string out = "(";
  for (size_t i = 0; i < alternatives.size(); ++i) out += (i ? " | " : "") + alternatives[i];
  return out + ")";
}

// Decimal strings of the integers from a to b (equal lengths, a <= b, no sign).
std::string same_length(const std::string& a, const std::string& b) {
  if (a.empty()) return "";
  if (a == b) return literal(a);
  const size_t rest = a.size() - 1;
  if (a[0] == b[0]) return literal(a.substr(0, 1)) + " " + same_length(a.substr(1), b.substr(1));
  if (rest == 0) return std::string("[") + a[0] + "-" + b[0] + "]";
  const bool a_rest_zero = a.find_first_not_of('0', 1) == std::string::npos;
  const bool b_rest_nine = b.find_first_not_of('9', 1) == std::string::npos;
  std::vector<std::string> alts;
  char mid_lo = static_cast<char>(a[0] + 1), mid_hi = static_cast<char>(b[0] - 1);
  if (a_rest_zero) {
    mid_lo = a[0];
  } else {
    alts.push_back(literal(a.substr(0, 1)) + " " + group({same_length(a.substr(1), std::string(rest, '9'))}));
  }
  if (b_rest_nine) mid_hi = b[0];
  if (mid_lo <= mid_hi) {
    const std::string first = mid_lo == mid_hi ? literal(std::string(1, mid_lo)) : std::string("[") + mid_lo + "-" + mid_hi + "]";
    alts.push_back(first + " [0-9]{" + std::to_string(rest) + "}");
  }
  if (!b_rest_nine) alts.push_back(literal(b.substr(0, 1)) + " " + group({same_length(std::string(rest, '0'), b.substr(1))}));
  return group(alts);
}

uint64_t pow10(int n) {
  uint64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

int digits(uint64_t v) { return static_cast<int>(std::to_string(v).size()); }

// The integers from a to b, a <= b, as decimal strings without sign or leading zeros.
std::string digits_range(uint64_t a, uint64_t b) {
  std::vector<std::string> alts;
  for (int len = digits(a); len <= digits(b); ++len) {
    const uint64_t lo = std::max(a, len == 1 ? 0 : pow10(len - 1)), hi = std::min(b, pow10(len) - 1);
    if (lo <= hi) alts.push_back(same_length(std::to_string(lo), std::to_string(hi)));
  }
  return group(alts);
}

// The integers from a up (as long as kMaxDigits allows).
std::string at_least(uint64_t a) {
  const int len = digits(a);
  std::vector<std::string> alts = {digits_range(a, pow10(len) - 1)};
  if (len < kMaxDigits) alts.push_back("[1-9] [0-9]{" + std::to_string(len) + "," + std::to_string(kMaxDigits - 1) + "}");
  return group(alts);
}

class Converter {
 public:
  Converter(const Json& root, std::string root_name) : root_(root), root_name_(std::move(root_name)) {}

  Result<std::string> run() {
    const std::string root = visit(root_, root_name_, "#", 0);
    if (!error_.empty()) return make_error(error_);
    std::string out = root_name_ + " ::= " + root + "\n";
    for (const auto& r : rules_) out += r + "\n";
    std::set<std::string> done;
    std::vector<std::string> todo(used_.begin(), used_.end());
    while (!todo.empty()) {
      const std::string name = todo.back();
      todo.pop_back();
      if (!done.insert(name).second) continue;
      out += name + " ::= " + primitive_rules().at(name) + "\n";
      const auto deps = primitive_deps().find(name);
      if (deps != primitive_deps().end()) todo.insert(todo.end(), deps->second.begin(), deps->second.end());
    }
    return out;
  }

 private:
  std::string prim(const std::string& name) {
    used_.insert(name);
    return name;
  }
  std::string fail(const std::string& message) {
    if (error_.empty()) error_ = message;
    return "ws";
  }
  // A new rule named after `hint` (letters, digits and '-' only), made unique.
  std::string rule(const std::string& hint, const std::string& body) {
    std::string name = reserve(hint);
    rules_.push_back(name + " ::= " + body);
    return name;
  }
  std::string reserve(const std::string& hint) {
    std::string base;
    for (char c : hint) base += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    if (base.empty()) base = "x";
    std::string name = base + "-" + std::to_string(++counter_);
    return name;
  }

  std::string visit(const Json& s, const std::string& hint, const std::string& path, int depth) {
    if (!error_.empty()) return "ws";
    if (depth > kMaxDepth) return fail(path + ": the schema nests more than " + std::to_string(kMaxDepth) + " deep");
    if (s.is_boolean()) return s.get<bool>() ? prim("value") : fail(path + ": the schema 'false' allows no value");
    if (!s.is_object()) return fail(path + ": a schema must be an object or a boolean, got " + s.dump());
    for (const auto& [key, value] : s.items()) {
      if (known_keywords().count(key) == 0) return fail(path + ": unsupported keyword '" + key + "'");
    }
    std::string expr = visit_inner(s, hint, path, depth);
    if (s.contains("nullable") && s["nullable"] == true) expr = "(" + expr + " | " + prim("null") + ")";
    return expr;
  }

  std::string visit_inner(const Json& s, const std::string& hint, const std::string& path, int depth) {
    if (s.contains("$ref")) return ref(s["$ref"], path, depth);
    if (s.contains("const")) return literal(s["const"].dump()) + " " + prim("ws");
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) return fail(path + "/enum: must be a non-empty array");
      std::vector<std::string> alts;
      for (const auto& v : s["enum"]) alts.push_back(literal(v.dump()));
      return group(alts) + " " + prim("ws");
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const Json& list = s[key];
      if (!list.is_array() || list.empty()) return fail(path + "/" + key + ": must be a non-empty array");
      std::vector<std::string> alts;
      for (size_t i = 0; i < list.size(); ++i) {
        alts.push_back(visit(list[i], hint + "-" + std::to_string(i), path + "/" + key + "/" + std::to_string(i), depth + 1));
      }
      return group(alts);
    }
    if (s.contains("allOf")) {
      const Json& list = s["allOf"];
      if (!list.is_array() || list.size() != 1) {
        return fail(path + "/allOf: only a single schema is supported (merging several is not)");
      }
      return visit(list[0], hint, path + "/allOf/0", depth + 1);
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      const Json& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const auto& one : t) {
          if (!one.is_string()) return fail(path + "/type: must be a string or an array of strings");
          types.push_back(one.get<std::string>());
        }
      } else {
        return fail(path + "/type: must be a string or an array of strings");
      }
    } else if (s.contains("properties") || s.contains("additionalProperties") || s.contains("required")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength")) {
      types.push_back("string");
    } else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
               s.contains("exclusiveMaximum")) {
      types.push_back("integer");
    } else {
      return prim("value");
    }
    std::vector<std::string> alts;
    for (const auto& t : types) alts.push_back(visit_type(s, t, hint, path, depth));
    return group(alts);
  }

  std::optional<uint64_t> count(const Json& s, const char* key, const std::string& path) {
    if (!s.contains(key)) return std::nullopt;
    const Json& v = s[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      fail(path + "/" + key + ": must be a non-negative integer");
      return std::nullopt;
    }
    return v.get<uint64_t>();
  }

  std::string visit_type(const Json& s, const std::string& type, const std::string& hint, const std::string& path,
                         int depth) {
    if (type == "string") {
      const auto min = count(s, "minLength", path), max = count(s, "maxLength", path);
      if (s.contains("pattern")) {
        if (min || max) return fail(path + ": pattern together with minLength or maxLength is not supported (bound the length in the pattern)");
        if (!s["pattern"].is_string()) return fail(path + "/pattern: must be a string");
        auto body = regex_to_gbnf(s["pattern"].get<std::string>(), prim("char"));
        if (!body) return fail(path + "/" + body.error().message);
        return rule(hint + "-pattern", "\"\\\"\" " + *body + " \"\\\"\" " + prim("ws"));
      }
      if (!min && !max) return prim("string");
      if (min && max && *max < *min) return fail(path + ": maxLength is below minLength");
      if (max && *max > 10000) return fail(path + "/maxLength: above 10000 is not supported");
      return rule(hint + "-string", "\"\\\"\" " + prim("char") + "{" + std::to_string(min.value_or(0)) + "," +
                                        (max ? std::to_string(*max) : std::string()) + "} \"\\\"\" " + prim("ws"));
    }
    if (type == "integer") return integer(s, hint, path);
    if (type == "number") {
      for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
        if (s.contains(key)) return fail(path + "/" + key + ": bounds are supported on integers, not on numbers");
      }
      return prim("number");
    }
    if (type == "boolean") return prim("boolean");
    if (type == "null") return prim("null");
    if (type == "array") return array(s, hint, path, depth);
    if (type == "object") return object(s, hint, path, depth);
    return fail(path + "/type: unknown type '" + type + "'");
  }

  std::string integer(const Json& s, const std::string& hint, const std::string& path) {
    std::optional<int64_t> lo, hi;
    auto bound = [&](const char* key, bool lower, bool exclusive) {
      if (!s.contains(key)) return;
      const Json& v = s[key];
      if (!v.is_number()) {
        fail(path + "/" + key + ": must be a number");
        return;
      }
      const double d = v.get<double>();
      if (std::fabs(d) > 9e17) {
        fail(path + "/" + key + ": beyond the integers this grammar generates");
        return;
      }
      int64_t b = static_cast<int64_t>(lower ? std::ceil(d) : std::floor(d));
      if (exclusive && static_cast<double>(b) == d) b += lower ? 1 : -1;
      auto& slot = lower ? lo : hi;
      slot = slot ? (lower ? std::max(*slot, b) : std::min(*slot, b)) : b;
    };
    bound("minimum", true, false);
    bound("exclusiveMinimum", true, true);
    bound("maximum", false, false);
    bound("exclusiveMaximum", false, true);
    if (!lo && !hi) return prim("integer");
    if (lo && hi && *lo > *hi) return fail(path + ": no integer lies between the bounds");
    auto neg = [](int64_t v) { return static_cast<uint64_t>(-(v + 1)) + 1; };  // |v| for v < 0
    std::vector<std::string> alts;
    if (lo && hi) {
      if (*lo >= 0) {
        alts.push_back(digits_range(static_cast<uint64_t>(*lo), static_cast<uint64_t>(*hi)));
      } else if (*hi < 0) {
        alts.push_back("\"-\" " + digits_range(neg(*hi), neg(*lo)));
      } else {
        alts.push_back("\"-\" " + digits_range(1, neg(*lo)));
        alts.push_back(digits_range(0, static_cast<uint64_t>(*hi)));
      }
    } else if (lo) {
      if (*lo >= 0) {
        alts.push_back(at_least(static_cast<uint64_t>(*lo)));
      } else {
        alts.push_back("\"-\" " + digits_range(1, neg(*lo)));
        alts.push_back(at_least(0));
      }
    } else {
      if (*hi >= 0) {
        alts.push_back("\"-\" " + at_least(1));
        alts.push_back(digits_range(0, static_cast<uint64_t>(*hi)));
      } else {
        alts.push_back("\"-\" " + at_least(neg(*hi)));
      }
    }
    return rule(hint + "-int", group(alts) + " " + prim("ws"));
  }

  std::string array(const Json& s, const std::string& hint, const std::string& path, int depth) {
    const std::string item = s.contains("items") ? visit(s["items"], hint + "-item", path + "/items", depth + 1) : prim("value");
    const auto min = count(s, "minItems", path), max = count(s, "maxItems", path);
    if (min && max && *max < *min) return fail(path + ": maxItems is below minItems");
    if ((min && *min > 1000) || (max && *max > 1000)) return fail(path + ": minItems/maxItems above 1000 are not supported");
    const std::string ws = prim("ws");
    std::string body;
    if (max && *max == 0) {
      body = "\"[\" " + ws + " \"]\" " + ws;
    } else {
      const uint64_t lo = min.value_or(0);
      const std::string more = "(\",\" " + ws + " " + item + "){" + std::to_string(lo > 0 ? lo - 1 : 0) + "," +
                               (max ? std::to_string(*max - 1) : std::string()) + "}";
      const std::string items = item + " " + more;
      body = "\"[\" " + ws + " " + (lo == 0 ? "(" + items + ")?" : items) + " \"]\" " + ws;
    }
    return rule(hint + "-array", body);
  }

  std::string object(const Json& s, const std::string& hint, const std::string& path, int depth) {
    struct Prop {
      std::string kv;
      bool required;
    };
    std::vector<Prop> props;
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) return fail(path + "/required: must be an array of strings");
      for (const auto& r : s["required"]) {
        if (!r.is_string()) return fail(path + "/required: must be an array of strings");
        required.insert(r.get<std::string>());
      }
    }
    const std::string ws = prim("ws");
    std::set<std::string> listed;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) return fail(path + "/properties: must be an object");
      for (const auto& [name, sub] : s["properties"].items()) {
        const std::string value = visit(sub, hint + "-" + name, path + "/properties/" + name, depth + 1);
        props.push_back({rule(hint + "-" + name + "-kv", literal(Json(name).dump()) + " " + ws + " \":\" " + ws + " " + value),
                         required.count(name) > 0});
        listed.insert(name);
      }
    }
    for (const auto& name : required) {  // required but not described: any value
      if (listed.count(name)) continue;
      props.push_back({rule(hint + "-" + name + "-kv", literal(Json(name).dump()) + " " + ws + " \":\" " + ws + " " + prim("value")),
                       true});
    }
    std::string extra;  // a key/value pair beyond the listed ones, if allowed
    if (s.contains("additionalProperties")) {
      const Json& ap = s["additionalProperties"];
      if (!(ap.is_boolean() && !ap.get<bool>())) {
        const std::string value = visit(ap, hint + "-extra", path + "/additionalProperties", depth + 1);
        extra = rule(hint + "-extra-kv", prim("string") + " \":\" " + ws + " " + value);
      }
    }
    // after_i: properties i.. once something was written (each after a comma); first_i: nothing yet.
    std::string after = extra.empty() ? "" : "(\",\" " + ws + " " + extra + ")*";
    std::string first = extra.empty() ? "" : "(" + extra + " (\",\" " + ws + " " + extra + ")*)?";
    for (size_t i = props.size(); i-- > 0;) {
      const std::string& kv = props[i].kv;
      const std::string after_rest = after.empty() ? "" : " " + after;
      std::string new_after, new_first;
      if (props[i].required) {
        new_after = "\",\" " + ws + " " + kv + after_rest;
        new_first = kv + after_rest;
      } else {
        new_after = "(\",\" " + ws + " " + kv + ")?" + after_rest;
        new_first = kv + after_rest + (first.empty() ? " | " : " | " + first);
        new_first = "(" + new_first + ")";
      }
      after = rule(hint + "-after", new_after);
      first = rule(hint + "-first", new_first);
    }
    return rule(hint + "-object", "\"{\" " + ws + " " + (first.empty() ? "" : first + " ") + "\"}\" " + ws);
  }

  // "#", "#/$defs/NAME" or "#/definitions/NAME": one rule per target, so that recursive schemas work.
  std::string ref(const Json& target, const std::string& path, int depth) {
    if (!target.is_string()) return fail(path + "/$ref: must be a string");
    const std::string r = target.get<std::string>();
    if (auto it = refs_.find(r); it != refs_.end()) return it->second;
    const Json* schema = nullptr;
    std::string name;
    if (r == "#") {
      schema = &root_;
      name = root_name_ + "-ref";
    } else {
      for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
        const std::string p = prefix;
        if (r.rfind(p, 0) != 0) continue;
        const std::string key = r.substr(p.size());
        const std::string section = p.substr(2, p.size() - 3);
        if (root_.contains(section) && root_[section].is_object() && root_[section].contains(key)) {
          schema = &root_[section][key];
          name = root_name_ + "-" + key;
        }
      }
    }
    if (schema == nullptr) return fail(path + "/$ref: '" + r + "' is not '#' or a definition under #/$defs or #/definitions");
    const std::string rule_name = reserve(name);
    refs_[r] = rule_name;
    const std::string body = visit(*schema, name, r, depth + 1);
    rules_.push_back(rule_name + " ::= " + body);
    return rule_name;
  }

  const Json& root_;
  std::string root_name_;
  std::vector<std::string> rules_;
  std::set<std::string> used_;
  std::map<std::string, std::string> refs_;
  int counter_ = 0;
  std::string error_;
};

}  // namespace

Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema, const std::string& root_name) {
  return Converter(schema, root_name).run();
}

}  // namespace cria::grammar
