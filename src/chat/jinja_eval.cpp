#include "chat/jinja_eval.h"

#include <cmath>

#include "chat/jinja_builtins.h"
#include "tokenizer/unicode.h"

namespace cria::chat::jinja {

namespace {

// Jinja2's names for objects in "has no attribute" messages.
std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_markup()) return "markupsafe.Markup object";  // Jinja2 names non-builtin types by module
  return type_name(v) + " object";
}

// GCC 12 misreports `"literal" + temporary string` under -Wrestrict, so these messages are appended.
std::string no_attribute(const Value& obj, const std::string& name) {
  std::string msg = "'";
  msg += object_type_repr(obj);
  msg += "' has no attribute '";
  msg += name;
  msg += "'";
  return msg;
}

[[noreturn]] void fail_undefined(const Value& v) { throw_error("UndefinedError", v.str); }

void check_overflow(bool overflow) {
  if (overflow) throw_error("OverflowError", "integer result too large");
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) {
    throw_error("TypeError", "unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
  }
  const bool ints = a.is_integer() && b.is_integer();
  if (ints) {
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    if (op == "+" || op == "-" || op == "*") {
      check_overflow(op == "+"   ? __builtin_add_overflow(x, y, &r)
                     : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                 : __builtin_mul_overflow(x, y, &r));
      return Value::integer(r);
    }
    if (op == "//" || op == "%") {
      if (y == 0) throw_error("ZeroDivisionError", "integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) throw_error("OverflowError", "integer result too large");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value::integer(op == "//" ? q : m);
    }
    if (op == "**" && y >= 0) {
      int64_t result = 1;
      for (int64_t k = 0; k < y; ++k) {
        if (__builtin_mul_overflow(result, x, &result)) throw_error("OverflowError", "integer result too large");
        if (result == 0 || result == 1) break;
        if (result == -1) {
          result = (y - k - 1) % 2 == 0 ? -1 : 1;
          break;
        }
      }
      return Value::integer(result);
    }
  }
  const double x = a.as_double(), y = b.as_double();
  if (op == "+") return Value::number(x + y);
  if (op == "-") return Value::number(x - y);
  if (op == "*") return Value::number(x * y);
  if (op == "/") {
    if (y == 0) throw_error("ZeroDivisionError", "division by zero");
    return Value::number(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) throw_error("ZeroDivisionError", "float modulo");
    const double q = std::floor(x / y);
    return Value::number(op == "//" ? q : x - q * y);
  }
  if (op == "**") return Value::number(std::pow(x, y));
  throw_error("TypeError", "unsupported operator " + op);
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict()) {
    if (const Value* v = obj.dict->find(name)) return *v;
  }
  return Value::undefined(no_attribute(obj, name));
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.dict->find(key.str)) return *v;
    return Value::undefined(no_attribute(obj, key.str));
  }
  if ((obj.is_list() || obj.is_string()) && key.is_integer()) {
    int64_t idx = key.as_int();
    if (obj.is_list()) {
      const int64_t n = static_cast<int64_t>(obj.list->size());
      if (idx < 0) idx += n;
      if (idx >= 0 && idx < n) return (*obj.list)[static_cast<size_t>(idx)];
    } else {
      const auto chars = utf8_chars(obj.str);
      const int64_t n = static_cast<int64_t>(chars.size());
      if (idx < 0) idx += n;
      if (idx >= 0 && idx < n) return Value::string_like(obj, chars[static_cast<size_t>(idx)]);
    }
  }
  return Value::undefined(no_attribute(obj, py_str(key)));
}

List iterate(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return *v.list;
    case Value::Kind::Dict: {
      if (v.dict->is_namespace) break;
      List keys;
      for (const auto& item : v.dict->items) keys.push_back(Value::string(item.first));
      return keys;
    }
    case Value::Kind::String: {
      List chars;
      for (auto& c : utf8_chars(v.str)) chars.push_back(Value::string(std::move(c)));
      return chars;
    }
    default: break;
  }
  throw_error("TypeError", "'" + type_name(v) + "' object is not iterable");
}

Evaluator::DepthGuard::DepthGuard(Evaluator&, int& counter, int limit, const char* what) : counter_(counter) {
  if (++counter_ > limit) {
    --counter_;
    throw_error("LimitError", std::string("template exceeded the ") + what + " limit of " + std::to_string(limit));
  }
}

void Evaluator::step(uint64_t n) {
  steps_ += n;
  if (steps_ > limits_.max_steps) {
    throw_error("LimitError", "template exceeded the step limit of " + std::to_string(limits_.max_steps) +
                                  " (a loop or recursion that does not end?)");
  }
}

void Evaluator::check_string(size_t bytes) const {
  if (bytes > limits_.max_string_bytes) {
    throw_error("LimitError", "template built a string of " + std::to_string(bytes) + " bytes, over the limit of " +
                                  std::to_string(limits_.max_string_bytes));
  }
}

void Evaluator::check_items(size_t n) const {
  if (n > limits_.max_items) {
    throw_error("LimitError", "template built a list of " + std::to_string(n) + " items, over the limit of " +
                                  std::to_string(limits_.max_items));
  }
}

void Evaluator::append(std::string& out, std::string_view text) const {
  check_string(out.size() + text.size());
  out += text;
}

std::string Evaluator::render(const Body& body, const Dict& globals) {
  auto root = std::make_shared<Scope>();
  Dict builtins;
  add_builtin_globals(builtins);
  for (auto& [k, v] : builtins.items) root->vars[k] = v;
  for (const auto& [k, v] : globals.items) root->vars[k] = v;
  std::string out;
  // Macros hold their defining scope, which holds them: clear captured scopes at the end to free them.
  struct ScopeReleaser {
    std::vector<std::weak_ptr<Scope>>& scopes;
    ~ScopeReleaser() {
      for (auto& w : scopes) {
        if (auto s = w.lock()) s->vars.clear();
      }
      scopes.clear();
    }
  } releaser{macro_scopes_};
  releaser.scopes.push_back(root);
  exec_body(body, root, out);
  return out;
}

Evaluator::Flow Evaluator::exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
  DepthGuard guard(*this, eval_depth_, limits_.max_eval_depth, "nesting depth");
  for (const auto& node : body) {
    const Flow f = exec(*node, scope, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

std::string Evaluator::render_block(const Body& body, const ScopePtr& scope) {
  std::string text;
  exec_body(body, scope, text);
  return text;
}

Evaluator::Flow Evaluator::exec(const Node& n, const ScopePtr& scope, std::string& out) {
  step();
  switch (n.kind) {
    case NodeKind::Data: append(out, n.name); return Flow::Normal;
    case NodeKind::Output: {
      const Value v = eval(*n.kids[0], scope);
      append(out, py_str(v));
      return Flow::Normal;
    }
    case NodeKind::If: {
      for (size_t k = 0; k < n.kids.size(); ++k) {
        if (truthy(eval(*n.kids[k], scope))) return exec_body(n.branches[k], scope, out);
      }
      return exec_body(n.else_body, scope, out);
    }
    case NodeKind::For: {
      Flow flow = Flow::Normal;
      exec_for(n, scope, out, flow);
      return flow;
    }
    case NodeKind::Set: exec_set(n, scope); return Flow::Normal;
    case NodeKind::SetBlock: {
      Value v = Value::string(render_block(n.body, scope));
      if (n.kids[1]) v = eval_filter(*n.kids[1], scope, &v);
      scope->vars[n.kids[0]->name] = std::move(v);
      return Flow::Normal;
    }
    case NodeKind::Macro: scope->vars[n.name] = make_macro(n, scope); return Flow::Normal;
    case NodeKind::CallBlock: {
      const Value caller = make_macro(n, scope);
      const Node& call = *n.kids[0];
      CallArgs args = eval_args(call, scope, 1);
      args.keyword.emplace_back("caller", caller);
      const Value callee = eval(*call.kids[0], scope);
      append(out, py_str(this->call(callee, args)));
      return Flow::Normal;
    }
    case NodeKind::FilterBlock: {
      const Value body = Value::string(render_block(n.body, scope));
      append(out, py_str(eval_filter(*n.kids[0], scope, &body)));
      return Flow::Normal;
    }
    case NodeKind::With: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      for (size_t k = 0; k < n.names.size(); ++k) inner->vars[n.names[k]] = eval(*n.kids[k], scope);
      return exec_body(n.body, inner, out);
    }
    case NodeKind::Break: return Flow::Break;
    case NodeKind::Continue: return Flow::Continue;
    default: throw_error("TemplateError", "internal: expression used as a statement");
  }
}

void Evaluator::exec_for(const Node& n, const ScopePtr& scope, std::string& out, Flow& flow) {
  const Value iterable = eval(*n.kids[0], scope);
  List items = iterate(iterable);
  auto bind = [&](Scope& s, const Value& item) {
    if (n.names.size() == 1) {
      s.vars[n.names[0]] = item;
      return;
    }
    List parts = iterate(item);
    if (parts.size() != n.names.size()) {
      throw_error("ValueError", parts.size() < n.names.size() ? "not enough values to unpack" : "too many values to unpack");
    }
    for (size_t k = 0; k < parts.size(); ++k) s.vars[n.names[k]] = parts[k];
  };
  if (n.kids[1]) {  // the loop filter runs before the loop, so loop.length counts what passes
    List kept;
    for (const auto& item : items) {
      step();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      bind(*probe, item);
      if (truthy(eval(*n.kids[1], probe))) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t len = static_cast<int64_t>(items.size());
  // One `loop` object per loop, updated in place each iteration: building it afresh was most of the
  // cost of an iteration.
  auto position = std::make_shared<int64_t>(0);
  Dict loop_dict;
  for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "previtem", "nextitem"}) {
    loop_dict.items.emplace_back(key, Value());
  }
  loop_dict.set("depth", Value::integer(1));
  loop_dict.set("depth0", Value::integer(0));
  loop_dict.set("cycle", Value::callable("cycle", [position](Evaluator&, CallArgs& args) {
    if (args.positional.empty()) throw_error("TypeError", "no items for cycling given");
    return args.positional[static_cast<size_t>(*position) % args.positional.size()];
  }));
  Value loop = Value::make_dict(std::move(loop_dict));
  loop.holds_namespace = true;  // its items change each iteration, so it counts as mutable like a namespace
  auto& slots = loop.dict->items;
  for (int64_t k = 0; k < len; ++k) {
    step();
    *position = k;
    slots[0].second = Value::integer(k + 1);
    slots[1].second = Value::integer(k);
    slots[2].second = Value::integer(len - k);
    slots[3].second = Value::integer(len - k - 1);
    slots[4].second = Value::boolean(k == 0);
    slots[5].second = Value::boolean(k == len - 1);
    slots[6].second = Value::integer(len);
    slots[7].second = k > 0 ? items[k - 1] : Value::undefined("there is no previous item");
    slots[8].second = k + 1 < len ? items[k + 1] : Value::undefined("there is no next item");
    auto iter_scope = std::make_shared<Scope>();
    iter_scope->parent = scope;
    bind(*iter_scope, items[k]);
    iter_scope->vars["loop"] = loop;
    if (exec_body(n.body, iter_scope, out) == Flow::Break) break;
  }
  if (len == 0) flow = exec_body(n.else_body, scope, out);
}

void Evaluator::exec_set(const Node& n, const ScopePtr& scope) {
  const Node& target = *n.kids[0];
  Value v = eval(*n.kids[1], scope);
  if (target.kind == NodeKind::Name) {
    scope->vars[target.name] = std::move(v);
  } else if (target.kind == NodeKind::GetAttr) {
    const Value obj = eval(*target.kids[0], scope);
    if (!obj.is_dict() || !obj.dict->is_namespace) {
      throw_error("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
    }
    if (v.holds_namespace) throw_error("TemplateRuntimeError", "a namespace cannot hold a namespace or loop object");
    if (v.nest + 1 > kMaxNesting) throw_error("LimitError", "value nested too deeply to store in a namespace");
    obj.dict->set(target.name, std::move(v));
  } else {
    const List parts = iterate(v);
    if (parts.size() != target.kids.size()) {
      throw_error("ValueError", parts.size() < target.kids.size() ? "not enough values to unpack" : "too many values to unpack");
    }
    for (size_t k = 0; k < parts.size(); ++k) scope->vars[target.kids[k]->name] = parts[k];
  }
}

// A macro (or a call block's caller) as a callable value: parameters bound by position then keyword,
// defaults evaluated at call time, the body rendered in a scope under the defining one.
Value Evaluator::make_macro(const Node& n, const ScopePtr& scope) {
  macro_scopes_.push_back(scope);
  const size_t default_offset = n.kind == NodeKind::CallBlock ? 1 : 0;
  const std::string name = n.kind == NodeKind::CallBlock ? "caller" : n.name;
  std::weak_ptr<Scope> weak = scope;
  return Value::callable(name, [&n, weak, default_offset, name](Evaluator& ev, CallArgs& args) {
    DepthGuard guard(ev, ev.call_depth_, ev.limits_.max_call_depth, "macro call depth");
    auto inner = std::make_shared<Scope>();
    inner->parent = weak.lock();
    List varargs;
    for (size_t k = 0; k < args.positional.size(); ++k) {
      if (k < n.names.size()) {
        inner->vars[n.names[k]] = args.positional[k];
      } else {
        varargs.push_back(args.positional[k]);
      }
    }
    Dict kwargs;
    for (auto& [key, value] : args.keyword) {
      bool is_param = false;
      for (const auto& p : n.names) is_param = is_param || p == key;
      if (is_param || key == "caller") {
        inner->vars[key] = value;
      } else {
        kwargs.set(key, value);
      }
    }
    for (size_t k = 0; k < n.names.size(); ++k) {
      if (inner->vars.count(n.names[k])) continue;
      const Node* def = n.kids[default_offset + k].get();
      inner->vars[n.names[k]] = def ? ev.eval(*def, inner) : Value::undefined("'" + n.names[k] + "' is undefined");
    }
    inner->vars["varargs"] = Value::make_list(std::move(varargs));
    inner->vars["kwargs"] = Value::make_dict(std::move(kwargs));
    return Value::string(ev.render_block(n.body, inner));
  });
}

Value Evaluator::call(const Value& callee, CallArgs& args) {
  step();
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.kind != Value::Kind::Callable) throw_error("TypeError", "'" + type_name(callee) + "' object is not callable");
  return callee.fn->fn(*this, args);
}

Value Evaluator::lookup(const std::string& name, const ScopePtr& scope) const {
  for (const Scope* s = scope.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

CallArgs Evaluator::eval_args(const Node& n, const ScopePtr& scope, size_t first) {
  CallArgs args;
  for (size_t k = first; k < n.kids.size(); ++k) {
    const std::string& key = n.names[k - 1];
    Value v = eval(*n.kids[k], scope);
    if (key.empty()) {
      args.positional.push_back(std::move(v));
    } else {
      args.keyword.emplace_back(key, std::move(v));
    }
  }
  return args;
}

Value Evaluator::eval_call(const Node& n, const ScopePtr& scope) {
  const Node& callee = *n.kids[0];
  CallArgs args = eval_args(n, scope, 1);
  if (callee.kind == NodeKind::GetAttr) {
    const Value obj = eval(*callee.kids[0], scope);
    Value result;
    if (call_method(*this, obj, callee.name, args, result)) return result;
    return call(get_attr(obj, callee.name), args);
  }
  return call(eval(callee, scope), args);
}

Value Evaluator::eval_filter(const Node& n, const ScopePtr& scope, const Value* block_input) {
  if (n.kind == NodeKind::BlockInput) return *block_input;
  if (n.kind != NodeKind::Filter) return eval(n, scope);
  const Value input = eval_filter(*n.kids[0], scope, block_input);
  CallArgs args = eval_args(n, scope, 1);
  step();
  return apply_filter(*this, n.name, input, args);
}

Value Evaluator::eval_binary(const Node& n, const ScopePtr& scope) {
  const std::string& op = n.name;
  if (op == "and" || op == "or") {
    Value lhs = eval(*n.kids[0], scope);
    if (truthy(lhs) == (op == "or")) return lhs;
    return eval(*n.kids[1], scope);
  }
  const Value a = eval(*n.kids[0], scope);
  const Value b = eval(*n.kids[1], scope);
  if (op == "==") return Value::boolean(equals(a, b));
  if (op == "!=") return Value::boolean(!equals(a, b));
  if (op == "<") return Value::boolean(compare(a, b) < 0);
  if (op == ">") return Value::boolean(compare(a, b) > 0);
  if (op == "<=") return Value::boolean(compare(a, b) <= 0);
  if (op == ">=") return Value::boolean(compare(a, b) >= 0);
  if (op == "in" || op == "not in") {
    CallArgs args;
    args.positional.push_back(b);
    return Value::boolean(apply_test(*this, "in", a, args) == (op == "in"));
  }
  if (op == "~") {
    std::string s = py_str(a);
    const std::string t = py_str(b);
    check_string(s.size() + t.size());
    return Value::string(s + t);
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.markup || b.markup) {  // Markup.__add__/__radd__: the plain side is escaped
      const Value x = markup_escape(a), y = markup_escape(b);
      check_string(x.str.size() + y.str.size());
      return Value::markup_string(x.str + y.str);
    }
    check_string(a.str.size() + b.str.size());
    return Value::string(a.str + b.str);
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    check_items(a.list->size() + b.list->size());
    step(a.list->size() + b.list->size());
    List joined = *a.list;
    joined.insert(joined.end(), b.list->begin(), b.list->end());
    return Value::make_list(std::move(joined));
  }
  if (op == "+" && (a.is_markup() || b.is_markup())) {  // Markup returns NotImplemented, so Python's message
    throw_error("TypeError", "unsupported operand type(s) for +: '" + type_name(a) + "' and '" + type_name(b) + "'");
  }
  if (op == "+" && (a.is_string() || b.is_string())) {
    throw_error("TypeError", "can only concatenate str (not \"" + type_name(a.is_string() ? b : a) + "\") to str");
  }
  if (op == "*" && (a.is_string() || a.is_list()) && b.is_integer()) {
    const int64_t times = std::max<int64_t>(0, b.as_int());
    if (a.is_string()) {
      if (times > 0) check_string(static_cast<size_t>(times) > limits_.max_string_bytes ? limits_.max_string_bytes + 1 : a.str.size() * static_cast<size_t>(times));
      std::string s;
      for (int64_t k = 0; k < times; ++k) s += a.str;
      return Value::string_like(a, std::move(s));
    }
    if (times > 0) check_items(static_cast<size_t>(times) > limits_.max_items ? limits_.max_items + 1 : a.list->size() * static_cast<size_t>(times));
    List repeated;
    for (int64_t k = 0; k < times; ++k) {
      step(a.list->size());
      repeated.insert(repeated.end(), a.list->begin(), a.list->end());
    }
    return Value::make_list(std::move(repeated));
  }
  if (op == "%" && a.is_string()) {
    CallArgs args;
    args.positional.push_back(b);
    return apply_filter(*this, "__percent_format", a, args);
  }
  return arithmetic(op, a, b);
}

Value Evaluator::eval(const Node& n, const ScopePtr& scope) {
  DepthGuard guard(*this, eval_depth_, limits_.max_eval_depth, "nesting depth");
  step();
  switch (n.kind) {
    case NodeKind::Literal: return n.value;
    case NodeKind::Name: return lookup(n.name, scope);
    case NodeKind::ListLit:
    case NodeKind::TupleLit: {
      List items;
      for (const auto& k : n.kids) items.push_back(eval(*k, scope));
      return Value::make_list(std::move(items), n.kind == NodeKind::TupleLit);
    }
    case NodeKind::DictLit: {
      Dict d;
      for (size_t k = 0; k + 1 < n.kids.size(); k += 2) {
        const Value key = eval(*n.kids[k], scope);
        if (!key.is_string()) throw_error("TypeError", "dict keys must be strings here, got '" + type_name(key) + "'");
        d.set(key.str, eval(*n.kids[k + 1], scope));
      }
      return Value::make_dict(std::move(d));
    }
    case NodeKind::GetAttr: return get_attr(eval(*n.kids[0], scope), n.name);
    case NodeKind::GetItem: return get_item(eval(*n.kids[0], scope), eval(*n.kids[1], scope));
    case NodeKind::Slice: {
      CallArgs args;
      for (size_t k = 1; k < 4; ++k) args.positional.push_back(n.kids[k] ? eval(*n.kids[k], scope) : Value::none());
      return apply_filter(*this, "__slice", eval(*n.kids[0], scope), args);
    }
    case NodeKind::Call: return eval_call(n, scope);
    case NodeKind::Filter: return eval_filter(n, scope, nullptr);
    case NodeKind::Test: {
      const Value v = eval(*n.kids[0], scope);
      CallArgs args = eval_args(n, scope, 1);
      return Value::boolean(apply_test(*this, n.name, v, args) != n.flag);
    }
    case NodeKind::Unary: {
      const Value v = eval(*n.kids[0], scope);
      if (n.name == "not") return Value::boolean(!truthy(v));
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) throw_error("TypeError", "bad operand type for unary " + n.name + ": '" + type_name(v) + "'");
      if (n.name == "+") return v.kind == Value::Kind::Bool ? Value::integer(v.as_int()) : v;
      if (v.kind == Value::Kind::Float) return Value::number(-v.f);
      if (v.as_int() == INT64_MIN) throw_error("OverflowError", "integer result too large");
      return Value::integer(-v.as_int());
    }
    case NodeKind::Binary: return eval_binary(n, scope);
    case NodeKind::CondExpr: {
      if (truthy(eval(*n.kids[0], scope))) return eval(*n.kids[1], scope);
      if (n.kids[2]) return eval(*n.kids[2], scope);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    default: throw_error("TemplateError", "internal: statement used as an expression");
  }
}

}  // namespace cria::chat::jinja
