// Values of the Jinja template engine. They follow Python's semantics because chat templates are
// written against Python Jinja2: str() and repr() of every type, == between int and float, truthiness,
// insertion-ordered dicts, and Jinja2's lenient Undefined (prints as nothing, fails when used further).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cria::chat::jinja {

// Raised inside the engine and turned into an error value at its public boundary (jinja_template.h).
// `kind` is the Python exception class Jinja2 would raise (TemplateError, UndefinedError, TypeError, ...).
struct TemplateError : std::runtime_error {
  TemplateError(std::string kind_, const std::string& message) : std::runtime_error(message), kind(std::move(kind_)) {}
  std::string kind;
};

[[noreturn]] void throw_error(const char* kind, const std::string& message);

constexpr int kMaxNesting = 600;  // lists and dicts inside each other (JSON input allows 512)

struct Value;
class Evaluator;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string name;
  std::function<Value(Evaluator&, CallArgs&)> fn;
};

struct Dict;
using List = std::vector<Value>;

struct Value {
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

  Kind kind = Kind::Undefined;
  bool tuple = false;  // a List that prints as a Python tuple
  // Bounds on the shapes templates can build, so printing, comparing and freeing values never recurse
  // without limit: `nest` is the depth of lists and dicts (set when a container is made), `holds_namespace`
  // marks a value that is or holds a namespace or loop object, which a namespace may not store (that
  // would allow a value to contain itself).
  uint16_t nest = 0;
  bool holds_namespace = false;
  // A String that is a markupsafe.Markup, as the `safe` and `escape` filters return: combining it with a
  // plain string by `+`, `%`, .format() or .join() HTML-escapes the plain side. Published templates rely
  // on it (functionary writes `"..."|safe + name`). Templates render with autoescape off, so printing a
  // value never escapes, and `~` always gives a plain string.
  bool markup = false;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string str;  // String text, or the Undefined value's error message
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;
  std::shared_ptr<Callable> fn;

  static Value undefined(std::string hint) {
    Value v;
    v.str = std::move(hint);
    return v;
  }
  static Value none() { return with_kind(Kind::None); }
  static Value boolean(bool x) {
    Value v = with_kind(Kind::Bool);
    v.b = x;
    return v;
  }
  static Value integer(int64_t x) {
    Value v = with_kind(Kind::Int);
    v.i = x;
    return v;
  }
  static Value number(double x) {
    Value v = with_kind(Kind::Float);
    v.f = x;
    return v;
  }
  static Value string(std::string s) {
    Value v = with_kind(Kind::String);
    v.str = std::move(s);
    return v;
  }
  static Value markup_string(std::string s) {
    Value v = string(std::move(s));
    v.markup = true;
    return v;
  }
  // A string result derived from `from` by an operation that Markup overrides to return Markup (case
  // mapping, strip, slicing, repetition): marked when `from` is.
  static Value string_like(const Value& from, std::string s) {
    Value v = string(std::move(s));
    v.markup = from.markup;
    return v;
  }
  static Value make_list(List items = {}, bool as_tuple = false);
  static Value make_dict(Dict d);
  static Value callable(std::string name, std::function<Value(Evaluator&, CallArgs&)> fn);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_markup() const { return kind == Kind::String && markup; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }
  bool is_number() const { return kind == Kind::Bool || kind == Kind::Int || kind == Kind::Float; }
  bool is_integer() const { return kind == Kind::Bool || kind == Kind::Int; }  // Python: bool is an int
  double as_double() const { return kind == Kind::Float ? f : kind == Kind::Bool ? (b ? 1 : 0) : static_cast<double>(i); }
  int64_t as_int() const { return kind == Kind::Bool ? (b ? 1 : 0) : i; }

 private:
  static Value with_kind(Kind k) {
    Value v;
    v.kind = k;
    return v;
  }
};

// Python dicts keep insertion order, and `tojson` output depends on it. Keys are strings (JSON's).
// A namespace() object is a Dict whose attributes may be assigned.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;

  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

// Python type names as TypeError messages print them: 'str', 'int', 'NoneType', 'dict', ...
std::string type_name(const Value& v);
bool truthy(const Value& v);
std::string py_str(const Value& v);   // str(): what {{ v }} prints
std::string py_repr(const Value& v);  // repr(): inside printed lists and dicts
std::string py_float_repr(double x);
// markupsafe's escape(): & < > " ' as HTML entities.
std::string html_escape(std::string_view s);
// markupsafe.escape(v): a Markup value unchanged, anything else printed (str()) and escaped, as Markup.
Value markup_escape(const Value& v);
bool equals(const Value& a, const Value& b);
// <0, 0, >0 as Python orders numbers, strings and lists; TypeError for anything else.
int compare(const Value& a, const Value& b);

// Code point helpers: Python strings index and measure code points, not bytes.
size_t utf8_length(std::string_view s);
std::vector<std::string> utf8_chars(std::string_view s);

}  // namespace cria::chat::jinja
