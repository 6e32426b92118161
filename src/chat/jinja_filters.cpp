// Jinja2's built-in filters (jinja_builtins.h), plus the two internal ones the evaluator routes
// through here: `__slice` (x[a:b:c]) and `__percent_format` ("..." % args).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "chat/jinja_builtins.h"
#include "chat/jinja_json.h"
#include "chat/jinja_strings.h"

namespace cria::chat::jinja {

Value arg(const CallArgs& args, size_t index, const char* name, const Value& fallback) {
  for (const auto& [key, value] : args.keyword) {
    if (key == name) return value;
  }
  return index < args.positional.size() ? args.positional[index] : fallback;
}

namespace {

const Value kNone = Value::none();
const Value kFalse = Value::boolean(false);
const Value kUndefined = Value::undefined("");

size_t py_len(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return utf8_length(v.str);
    case Value::Kind::List: return v.list->size();
    case Value::Kind::Dict:
      if (!v.dict->is_namespace) return v.dict->items.size();
      break;
    default: break;
  }
  throw_error("TypeError", "object of type '" + type_name(v) + "' has no len()");
}

// "a.b.0" attribute paths of map/selectattr/sort: item lookup per part, integers index.
Value attribute_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos) {
      cur = get_item(cur, Value::integer(std::stoll(part)));
    } else {
      cur = get_item(cur, Value::string(part));
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string require_string_arg(const Value& v, const char* what) {
  if (v.is_string()) return v.str;
  throw_error("TypeError", std::string(what) + " must be a string, not '" + type_name(v) + "'");
}

int64_t int_arg(const Value& v, const char* what) {
  if (v.is_integer()) return v.as_int();
  throw_error("TypeError", std::string(what) + " must be an integer, not '" + type_name(v) + "'");
}

// Python slicing of a list or string, code point based.
Value slice(Evaluator& ev, const Value& obj, const CallArgs& args) {
  std::vector<Value> items;
  bool is_string = obj.is_string();
  if (is_string) {
    for (auto& c : utf8_chars(obj.str)) items.push_back(Value::string(std::move(c)));
  } else if (obj.is_list()) {
    items = *obj.list;
  } else {
    if (obj.is_undefined()) throw_error("UndefinedError", obj.str);
    throw_error("TypeError", "'" + type_name(obj) + "' object is not subscriptable");
  }
  const int64_t n = static_cast<int64_t>(items.size());
  const Value& vstep = args.positional[2];
  const int64_t step = vstep.is_none() ? 1 : int_arg(vstep, "slice step");
  if (step == 0) throw_error("ValueError", "slice step cannot be zero");
  auto bound = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t x = int_arg(v, "slice index");
    if (x < 0) x += n;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  const int64_t start = bound(args.positional[0], step > 0 ? 0 : n - 1);
  const int64_t stop = bound(args.positional[1], step > 0 ? n : -1);
  List out;
  for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
    ev.step();
    out.push_back(items[static_cast<size_t>(k)]);
  }
  if (!is_string) return Value::make_list(std::move(out), obj.tuple);
  std::string s;
  for (const auto& c : out) s += c.str;
  return Value::string_like(obj, std::move(s));
}

Value to_int(const Value& v, const Value& dflt) {
  if (v.is_integer()) return Value::integer(v.as_int());
  if (v.kind == Value::Kind::Float) {
    if (!std::isfinite(v.f) || std::fabs(v.f) > 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(std::trunc(v.f)));
  }
  if (v.is_string()) {
    const std::string s = py_strip(v.str, nullptr, true, true);
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return Value::integer(n);
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value::integer(static_cast<int64_t>(std::trunc(d)));
    }
  }
  return dflt;
}

Value to_float(const Value& v, const Value& dflt) {
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    const std::string s = py_strip(v.str, nullptr, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return Value::number(d);
  }
  return dflt;
}

// Sort/unique/min/max key: the attribute (if any), lower-cased unless case sensitive.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
  Value key = attribute.is_string() ? attribute_path(item, attribute.str) : item;
  if (!case_sensitive && key.is_string()) key = Value::string(py_lower(key.str));
  return key;
}

std::string indent(const std::string& text, const Value& width, bool first, bool blank) {
  const std::string pad = width.is_string() ? width.str : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  const auto lines = py_splitlines(text + "\n");
  std::string out;
  for (size_t k = 0; k < lines.size(); ++k) {
    if (k > 0) out += "\n";
    if (k > 0 && (blank || !lines[k].empty())) out += pad;
    out += lines[k];
  }
  return first ? pad + out : out;
}

// select/reject/selectattr/rejectattr share this: keep items whose test (or truthiness) equals `keep`.
Value filter_items(Evaluator& ev, const Value& input, const CallArgs& args, bool by_attribute, bool keep) {
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty()) throw_error("TypeError", "selectattr/rejectattr need an attribute name");
    attribute = require_string_arg(args.positional[next++], "attribute");
  }
  std::string test;
  if (next < args.positional.size()) test = require_string_arg(args.positional[next++], "test name");
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  List out;
  if (!truthy(input)) return Value::make_list();  // Jinja2 iterates only a truthy input (None gives nothing)
  for (const auto& item : iterate(input)) {
    ev.step();
    const Value subject = by_attribute ? attribute_path(item, attribute) : item;
    const bool passes = test.empty() ? truthy(subject) : apply_test(ev, test, subject, test_args);
    if (passes == keep) out.push_back(item);
  }
  return Value::make_list(std::move(out));
}

}  // namespace

Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args) {
  const Value& a0 = args.positional.empty() ? kUndefined : args.positional[0];
  if (name == "__slice") return slice(ev, input, args);
  if (name == "__percent_format" || name == "format") {
    if (name == "format" && !input.is_string()) throw_error("TypeError", "format filter needs a string");
    if (name == "format" && !args.keyword.empty()) {
      Dict d;
      for (auto& [k, v] : args.keyword) d.set(k, v);
      return Value::string_like(input, percent_format(ev, input.str, Value::make_dict(std::move(d)), input.markup));
    }
    const Value fmt_args = name == "format" ? Value::make_list(args.positional, true) : a0;
    return Value::string_like(input, percent_format(ev, input.str, fmt_args, input.markup));
  }
  if (name == "trim") {
    const Value chars = arg(args, 0, "chars", kNone);
    const std::string c = chars.is_none() ? "" : require_string_arg(chars, "trim chars");
    return Value::string_like(input, py_strip(py_str(input), chars.is_none() ? nullptr : &c, true, true));
  }
  // These call the Markup method of a Markup input, which returns Markup; |title joins plain pieces.
  if (name == "upper") return Value::string_like(input, py_upper(py_str(input)));
  if (name == "lower") return Value::string_like(input, py_lower(py_str(input)));
  if (name == "title") return Value::string(jinja_title(py_str(input)));
  if (name == "capitalize") return Value::string_like(input, py_capitalize(py_str(input)));
  if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(py_len(input)));
  if (name == "string") return input.is_string() ? input : Value::string(py_str(input));
  if (name == "safe") return Value::markup_string(py_str(input));
  if (name == "escape" || name == "e" || name == "forceescape") {  // forceescape escapes Markup too
    Value out = name == "forceescape" ? Value::markup_string(html_escape(py_str(input))) : markup_escape(input);
    ev.check_string(out.str.size());  // escaping can make a string up to 5 times longer
    return out;
  }
  if (name == "tojson") {
    JsonFormat f;
    const Value ind = arg(args, 0, "indent", kNone);
    if (!ind.is_none()) {
      f.indent = static_cast<int>(std::clamp<int64_t>(int_arg(ind, "indent"), 0, 64));
      f.item_separator = ",";
    }
    const Value seps = arg(args, 1, "separators", kNone);
    if (seps.is_list() && seps.list->size() == 2) {
      f.item_separator = require_string_arg((*seps.list)[0], "separator");
      f.key_separator = require_string_arg((*seps.list)[1], "separator");
    }
    f.sort_keys = truthy(arg(args, 2, "sort_keys", kFalse));
    std::string json = to_json(input, f);
    ev.check_string(json.size());
    return Value::string(std::move(json));
  }
  if (name == "items") {
    if (input.is_undefined()) return Value::make_list();
    if (!input.is_dict() || input.dict->is_namespace) throw_error("TypeError", "Can only get item pairs from a mapping.");
    List out;
    for (const auto& [k, v] : input.dict->items) out.push_back(Value::make_list({Value::string(k), v}, true));
    return Value::make_list(std::move(out));
  }
  if (name == "list") return Value::make_list(iterate(input));
  if (name == "join") {
    const Value sep = arg(args, 0, "d", Value::string(""));
    const Value attribute = arg(args, 1, "attribute", kNone);
    std::string out;
    bool first = true;
    for (const auto& item : iterate(input)) {
      ev.step();
      if (!first) out += py_str(sep);
      first = false;
      out += py_str(attribute.is_none() ? item : attribute_path(item, py_str(attribute)));
      ev.check_string(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "map") {
    List out;
    if (!truthy(input)) return Value::make_list();
    const Value attribute = arg(args, 99, "attribute", kNone);
    if (!attribute.is_none()) {
      const Value dflt = arg(args, 99, "default", kUndefined);
      for (const auto& item : iterate(input)) {
        ev.step();
        Value v = attribute_path(item, py_str(attribute));
        out.push_back(v.is_undefined() && !dflt.is_undefined() ? dflt : v);
      }
      return Value::make_list(std::move(out));
    }
    if (args.positional.empty()) throw_error("TypeError", "map needs a filter name or attribute=");
    const std::string filter = require_string_arg(a0, "filter name");
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const auto& item : iterate(input)) {
      ev.step();
      CallArgs copy = rest;
      out.push_back(apply_filter(ev, filter, item, copy));
    }
    return Value::make_list(std::move(out));
  }
  if (name == "select") return filter_items(ev, input, args, false, true);
  if (name == "reject") return filter_items(ev, input, args, false, false);
  if (name == "selectattr") return filter_items(ev, input, args, true, true);
  if (name == "rejectattr") return filter_items(ev, input, args, true, false);
  if (name == "first" || name == "last") {
    const List items = iterate(input);
    if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "default" || name == "d") {
    const Value dflt = arg(args, 0, "default_value", Value::string(""));
    const bool boolean = truthy(arg(args, 1, "boolean", kFalse));
    return input.is_undefined() || (boolean && !truthy(input)) ? dflt : input;
  }
  if (name == "replace") {
    const std::string s = py_str(input);
    const Value count = arg(args, 2, "count", kNone);
    return Value::string(py_replace(ev, s, py_str(arg(args, 0, "old", kUndefined)), py_str(arg(args, 1, "new", kUndefined)),
                                    count.is_none() ? -1 : int_arg(count, "count")));
  }
  if (name == "int") return to_int(input, arg(args, 0, "default", Value::integer(0)));
  if (name == "float") return to_float(input, arg(args, 0, "default", Value::number(0)));
  if (name == "abs") {
    if (!input.is_number()) throw_error("TypeError", "bad operand type for abs(): '" + type_name(input) + "'");
    return input.kind == Value::Kind::Float ? Value::number(std::fabs(input.f)) : Value::integer(std::llabs(input.as_int()));
  }
  if (name == "round") {
    const int64_t precision = int_arg(arg(args, 0, "precision", Value::integer(0)), "precision");
    const std::string method = py_str(arg(args, 1, "method", Value::string("common")));
    const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
    const double x = input.as_double() * scale;
    const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value::number(r / scale);
  }
  if (name == "sum") {
    const Value attribute = arg(args, 0, "attribute", kNone);
    Value total = arg(args, 1, "start", Value::integer(0));
    for (const auto& item : iterate(input)) {
      ev.step();
      const Value v = attribute.is_none() ? item : attribute_path(item, py_str(attribute));
      if (!v.is_number() || !total.is_number()) throw_error("TypeError", "sum: unsupported operand type '" + type_name(v) + "'");
      total = total.is_integer() && v.is_integer() ? Value::integer(total.as_int() + v.as_int())
                                                   : Value::number(total.as_double() + v.as_double());
    }
    return total;
  }
  if (name == "min" || name == "max" || name == "unique" || name == "sort") {
    const bool is_sort = name == "sort";
    const bool reverse = is_sort && truthy(arg(args, 0, "reverse", kFalse));
    const bool case_sensitive = truthy(arg(args, is_sort ? 1 : 0, "case_sensitive", kFalse));
    const Value attribute = arg(args, is_sort ? 2 : 1, "attribute", kNone);
    List items = iterate(input);
    ev.step(items.size());
    if (name == "unique") {
      List out, seen;
      for (const auto& item : items) {
        const Value key = sort_key(item, attribute, case_sensitive);
        bool dup = false;
        for (const auto& s : seen) dup = dup || equals(s, key);
        ev.step(seen.size());
        if (!dup) {
          seen.push_back(key);
          out.push_back(item);
        }
      }
      return Value::make_list(std::move(out));
    }
    auto less = [&](const Value& a, const Value& b) {
      return compare(sort_key(a, attribute, case_sensitive), sort_key(b, attribute, case_sensitive)) < 0;
    };
    if (is_sort) {
      std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) { return reverse ? less(b, a) : less(a, b); });
      return Value::make_list(std::move(items));
    }
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    return name == "min" ? *std::min_element(items.begin(), items.end(), less) : *std::max_element(items.begin(), items.end(), less);
  }
  if (name == "reverse") {
    if (input.is_string()) {
      auto chars = utf8_chars(input.str);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value::string_like(input, std::move(out));  // value[::-1]
    }
    List items = iterate(input);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "dictsort") {
    if (!input.is_dict()) throw_error("TypeError", "dictsort needs a mapping");
    List pairs;
    for (const auto& [k, v] : input.dict->items) pairs.push_back(Value::make_list({Value::string(k), v}, true));
    const bool case_sensitive = truthy(arg(args, 0, "case_sensitive", kFalse));
    const bool by_value = py_str(arg(args, 1, "by", Value::string("key"))) == "value";
    const bool reverse = truthy(arg(args, 2, "reverse", kFalse));
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
      const int c = compare(sort_key((*a.list)[by_value], kNone, case_sensitive), sort_key((*b.list)[by_value], kNone, case_sensitive));
      return reverse ? c > 0 : c < 0;
    });
    return Value::make_list(std::move(pairs));
  }
  if (name == "indent") {
    return Value::string_like(input, indent(py_str(input), arg(args, 0, "width", Value::integer(4)),
                                            truthy(arg(args, 1, "first", kFalse)), truthy(arg(args, 2, "blank", kFalse))));
  }
  if (name == "wordcount") return Value::integer(static_cast<int64_t>(py_split(py_str(input), nullptr, -1).size()));
  if (name == "attr") return get_attr(input, py_str(a0));
  if (name == "batch") {
    const int64_t size = int_arg(a0, "batch size");
    if (size <= 0) throw_error("ValueError", "batch size must be positive");
    List out, cur;
    for (const auto& item : iterate(input)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == size) out.push_back(Value::make_list(std::exchange(cur, {})));
    }
    if (!cur.empty()) {
      const Value fill = arg(args, 1, "fill_with", kNone);
      if (!fill.is_none()) {
        while (static_cast<int64_t>(cur.size()) < size) cur.push_back(fill);
      }
      out.push_back(Value::make_list(std::move(cur)));
    }
    return Value::make_list(std::move(out));
  }
  throw_error("TemplateAssertionError", "No filter named '" + name + "'.");
}

}  // namespace cria::chat::jinja
