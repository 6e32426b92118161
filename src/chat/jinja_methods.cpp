// Jinja2's tests (`is defined`, `is string`, ...), the Python methods templates call on str, dict and
// list values, and the global functions range, dict and namespace (jinja_builtins.h).
#include <algorithm>

#include "chat/jinja_builtins.h"
#include "chat/jinja_strings.h"

namespace cria::chat::jinja {

namespace {

const Value kNone = Value::none();
const Value kUndefined = Value::undefined("");

bool identical(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::Bool: return a.b == b.b;
    case Value::Kind::Int: return a.i == b.i;
    case Value::Kind::Float: return a.f == b.f;
    case Value::Kind::String: return a.str == b.str;
    case Value::Kind::List: return a.list == b.list;
    case Value::Kind::Dict: return a.dict == b.dict;
    case Value::Kind::Callable: return a.fn == b.fn;
  }
  return false;
}

bool contains(const Value& seq, const Value& item) {
  switch (seq.kind) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string()) throw_error("TypeError", "'in <string>' requires string as left operand, not " + type_name(item));
      return seq.str.find(item.str) != std::string::npos;
    case Value::Kind::List:
      return std::any_of(seq.list->begin(), seq.list->end(), [&](const Value& v) { return equals(v, item); });
    case Value::Kind::Dict:
      if (seq.dict->is_namespace) break;
      return item.is_string() && seq.dict->find(item.str) != nullptr;
    default: break;
  }
  throw_error("TypeError", "argument of type '" + type_name(seq) + "' is not iterable");
}

bool is_cased_lower(const std::string& s, bool want_lower) {
  bool any_cased = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      if (!want_lower) return false;
      any_cased = true;
    } else if (c >= 'A' && c <= 'Z') {
      if (want_lower) return false;
      any_cased = true;
    }
  }
  return any_cased;
}

const Value& required(const CallArgs& args, size_t index, const char* what) {
  if (index >= args.positional.size()) throw_error("TypeError", std::string(what) + " needs an argument");
  return args.positional[index];
}

// Methods that would modify a value: Hugging Face renders in an immutable sandbox, which refuses them.
bool is_mutating(const Value& obj, const std::string& name) {
  static const char* kList[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"};
  static const char* kDict[] = {"update", "pop", "popitem", "setdefault", "clear"};
  if (obj.is_list()) return std::any_of(std::begin(kList), std::end(kList), [&](const char* m) { return name == m; });
  if (obj.is_dict() && !obj.dict->is_namespace) {
    return std::any_of(std::begin(kDict), std::end(kDict), [&](const char* m) { return name == m; });
  }
  return false;
}

// Markup (obj.markup) overrides the methods that return strings to return Markup, escaping the strings
// they insert (replace's `new`, join's items, format's arguments).
bool string_method(Evaluator& ev, const Value& obj, const std::string& name, CallArgs& args, Value& out) {
  const std::string& s = obj.str;
  auto opt_string = [&](size_t idx, const char* key, std::string& holder) -> const std::string* {
    const Value v = arg(args, idx, key, kNone);
    if (v.is_none() || v.is_undefined()) return nullptr;
    holder = py_str(v);
    return &holder;
  };
  std::string holder;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    out = Value::string_like(obj, py_strip(s, opt_string(0, "chars", holder), name != "rstrip", name != "lstrip"));
  } else if (name == "split" || name == "rsplit") {
    const Value maxsplit = arg(args, 1, "maxsplit", Value::integer(-1));
    List parts;
    for (auto& p : py_split(s, opt_string(0, "sep", holder), name == "split" ? maxsplit.as_int() : -1)) {
      parts.push_back(Value::string_like(obj, std::move(p)));
    }
    out = Value::make_list(std::move(parts));
  } else if (name == "splitlines") {
    List parts;
    for (auto& p : py_splitlines(s)) parts.push_back(Value::string_like(obj, std::move(p)));
    out = Value::make_list(std::move(parts));
  } else if (name == "startswith" || name == "endswith") {
    const Value& what = required(args, 0, name.c_str());
    List options = what.is_list() ? *what.list : List{what};
    bool hit = false;
    for (const auto& o : options) {
      if (!o.is_string()) throw_error("TypeError", name + " first arg must be str or a tuple of str");
      const std::string& p = o.str;
      hit = hit || (p.size() <= s.size() &&
                    (name == "startswith" ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0));
    }
    out = Value::boolean(hit);
  } else if (name == "upper") {
    out = Value::string_like(obj, py_upper(s));
  } else if (name == "lower") {
    out = Value::string_like(obj, py_lower(s));
  } else if (name == "title") {
    out = Value::string_like(obj, py_title(s));
  } else if (name == "capitalize") {
    out = Value::string_like(obj, py_capitalize(s));
  } else if (name == "replace") {
    const Value count = arg(args, 2, "count", Value::integer(-1));
    const Value& with = required(args, 1, "replace");
    out = Value::string_like(obj, py_replace(ev, s, py_str(required(args, 0, "replace")),
                                             obj.markup ? markup_escape(with).str : py_str(with), count.as_int()));
  } else if (name == "find" || name == "rfind" || name == "index" || name == "count") {
    const std::string sub = py_str(required(args, 0, name.c_str()));
    if (name == "count") {
      int64_t n = 0;
      for (size_t at = s.find(sub); at != std::string::npos && !sub.empty(); at = s.find(sub, at + sub.size())) ++n;
      out = Value::integer(sub.empty() ? static_cast<int64_t>(utf8_length(s)) + 1 : n);
    } else {
      const size_t at = name == "rfind" ? s.rfind(sub) : s.find(sub);
      if (at == std::string::npos && name == "index") throw_error("ValueError", "substring not found");
      out = Value::integer(at == std::string::npos ? -1 : static_cast<int64_t>(utf8_length(s.substr(0, at))));
    }
  } else if (name == "join") {
    std::string joined;
    bool first = true;
    for (const auto& item : iterate(required(args, 0, "join"))) {
      if (obj.markup) {  // Markup.join escapes each item, which also accepts non-strings
        if (!first) joined += s;
        first = false;
        joined += markup_escape(item).str;
        ev.check_string(joined.size());
        continue;
      }
      if (!item.is_string()) throw_error("TypeError", "sequence item: expected str instance, " + type_name(item) + " found");
      if (!first) joined += s;
      first = false;
      joined += item.str;
      ev.check_string(joined.size());
    }
    out = Value::string_like(obj, std::move(joined));
  } else if (name == "format") {
    out = Value::string_like(obj, brace_format(ev, s, args, obj.markup));
  } else if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace") {
    bool ok = !s.empty();
    for (char c : s) {
      const bool digit = c >= '0' && c <= '9';
      const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      ok = ok && (name == "isdigit" ? digit : name == "isalpha" ? alpha : name == "isalnum" ? digit || alpha
                                                                                            : py_strip(std::string(1, c), nullptr, true, true).empty());
    }
    out = Value::boolean(ok);
  } else if (name == "islower" || name == "isupper") {
    out = Value::boolean(is_cased_lower(s, name == "islower"));
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool apply_test(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args) {
  ev.step();
  using K = Value::Kind;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == K::Bool;
  if (name == "true") return v.kind == K::Bool && v.b;
  if (name == "false") return v.kind == K::Bool && !v.b;
  if (name == "integer") return v.kind == K::Int;
  if (name == "float") return v.kind == K::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict() && !v.dict->is_namespace;
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.dict->is_namespace);
  if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.dict->is_namespace);
  if (name == "callable") return v.kind == K::Callable;
  if (name == "sameas") return identical(v, required(args, 0, "sameas"));
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, required(args, 0, "eq"));
  if (name == "ne" || name == "!=") return !equals(v, required(args, 0, "ne"));
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, required(args, 0, "lt")) < 0;
  if (name == "le" || name == "<=") return compare(v, required(args, 0, "le")) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, required(args, 0, "gt")) > 0;
  if (name == "ge" || name == ">=") return compare(v, required(args, 0, "ge")) >= 0;
  if (name == "in") return contains(required(args, 0, "in"), v);
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_integer()) throw_error("TypeError", "test '" + name + "' needs an integer, got '" + type_name(v) + "'");
    if (name != "divisibleby") return (v.as_int() % 2 != 0) == (name == "odd");
    const Value& d = required(args, 0, "divisibleby");
    if (!d.is_integer() || d.as_int() == 0) throw_error("ZeroDivisionError", "divisibleby needs a nonzero integer");
    return v.as_int() % d.as_int() == 0;
  }
  if (name == "lower" || name == "upper") return v.is_string() && is_cased_lower(v.str, name == "lower");
  if (name == "escaped") return v.is_markup();  // has __html__
  throw_error("TemplateAssertionError", "No test named '" + name + "'.");
}

bool call_method(Evaluator& ev, const Value& obj, const std::string& name, CallArgs& args, Value& result) {
  if (is_mutating(obj, name)) {
    throw_error("SecurityError", "access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
  }
  ev.step();
  if (obj.is_string()) return string_method(ev, obj, name, args, result);
  if (obj.is_dict() && !obj.dict->is_namespace) {
    if (obj.dict->find(name)) return false;  // a stored callable (e.g. loop.cycle) wins
    if (name == "get") {
      const Value& key = required(args, 0, "get");
      const Value* found = key.is_string() ? obj.dict->find(key.str) : nullptr;
      result = found ? *found : arg(args, 1, "default", kNone);
      return true;
    }
    if (name == "items" || name == "keys" || name == "values") {
      List out;
      for (const auto& [k, v] : obj.dict->items) {
        if (name == "items") out.push_back(Value::make_list({Value::string(k), v}, true));
        if (name == "keys") out.push_back(Value::string(k));
        if (name == "values") out.push_back(v);
      }
      result = Value::make_list(std::move(out));
      return true;
    }
    return false;
  }
  if (obj.is_list() && (name == "index" || name == "count")) {
    const Value& x = required(args, 0, name.c_str());
    int64_t n = 0;
    for (size_t k = 0; k < obj.list->size(); ++k) {
      if (!equals((*obj.list)[k], x)) continue;
      if (name == "index") {
        result = Value::integer(static_cast<int64_t>(k));
        return true;
      }
      ++n;
    }
    if (name == "index") throw_error("ValueError", py_repr(x) + " is not in list");
    result = Value::integer(n);
    return true;
  }
  return false;
}

void add_builtin_globals(Dict& globals) {
  globals.set("range", Value::callable("range", [](Evaluator& ev, CallArgs& args) {
    if (args.positional.empty() || args.positional.size() > 3) throw_error("TypeError", "range expects 1 to 3 arguments");
    for (const auto& a : args.positional) {
      if (!a.is_integer()) {
        std::string msg = "'";  // appended, not `"'" + type_name(a)`: GCC 12 misreports that under -Wrestrict
        msg += type_name(a);
        throw_error("TypeError", msg + "' object cannot be interpreted as an integer");
      }
    }
    const bool one = args.positional.size() == 1;
    const int64_t start = one ? 0 : args.positional[0].as_int();
    const int64_t stop = one ? args.positional[0].as_int() : args.positional[1].as_int();
    const int64_t step = args.positional.size() == 3 ? args.positional[2].as_int() : 1;
    if (step == 0) throw_error("ValueError", "range() arg 3 must not be zero");
    const long double span = step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
    const long double count = span <= 0 ? 0 : (span + (std::abs(static_cast<long double>(step)) - 1)) / std::abs(static_cast<long double>(step));
    ev.check_items(count > 1e18L ? SIZE_MAX : static_cast<size_t>(count));
    List out;
    for (int64_t k = 0; k < static_cast<int64_t>(count); ++k) out.push_back(Value::integer(start + k * step));
    ev.step(out.size());
    return Value::make_list(std::move(out));
  }));
  auto from_kwargs = [](CallArgs& args, bool is_namespace) {
    Dict d;
    d.is_namespace = is_namespace;
    for (const auto& p : args.positional) {
      if (!p.is_dict()) throw_error("TypeError", "expected a mapping as positional argument");
      for (const auto& [k, v] : p.dict->items) d.set(k, v);
    }
    for (auto& [k, v] : args.keyword) d.set(k, v);
    return Value::make_dict(std::move(d));
  };
  globals.set("dict", Value::callable("dict", [from_kwargs](Evaluator&, CallArgs& args) { return from_kwargs(args, false); }));
  globals.set("namespace", Value::callable("namespace", [from_kwargs](Evaluator&, CallArgs& args) { return from_kwargs(args, true); }));
}

}  // namespace cria::chat::jinja
