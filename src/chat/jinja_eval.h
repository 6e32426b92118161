// The Jinja evaluator: runs a parsed template against variables and produces text. Every unit of work
// is counted against RenderLimits, so a hostile template (endless-looking loops, runaway recursion,
// exponential string growth) ends with an error naming the limit instead of hanging or exhausting memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace cria::chat::jinja {

struct RenderLimits {
  uint64_t max_steps = 5'000'000;      // expression evaluations, statements and loop iterations
  size_t max_string_bytes = 16u << 20;  // any string built, the output included
  size_t max_items = 1u << 17;          // elements of any list built (range(), list * n, ...)
  int max_call_depth = 200;             // nested macro / caller calls
  int max_eval_depth = 3000;            // nested evaluation frames (keeps the C++ stack bounded)
};

class Evaluator {
 public:
  explicit Evaluator(const RenderLimits& limits) : limits_(limits) {}

  std::string render(const Body& body, const Dict& globals);

  // Budget accounting used by the evaluator and the built-in functions.
  void step(uint64_t n = 1);
  void check_string(size_t bytes) const;
  void check_items(size_t n) const;

  Value call(const Value& callee, CallArgs& args);

 private:
  struct Scope {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;
  };
  using ScopePtr = std::shared_ptr<Scope>;
  enum class Flow { Normal, Break, Continue };

  struct DepthGuard {
    DepthGuard(Evaluator& e, int& counter, int limit, const char* what);
    ~DepthGuard() { --counter_; }
    int& counter_;
  };

  Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec(const Node& n, const ScopePtr& scope, std::string& out);
  void exec_for(const Node& n, const ScopePtr& scope, std::string& out, Flow& flow);
  void exec_set(const Node& n, const ScopePtr& scope);
  Value make_macro(const Node& n, const ScopePtr& scope);
  std::string render_block(const Body& body, const ScopePtr& scope);

  Value eval(const Node& n, const ScopePtr& scope);
  Value eval_binary(const Node& n, const ScopePtr& scope);
  Value eval_call(const Node& n, const ScopePtr& scope);
  Value eval_filter(const Node& n, const ScopePtr& scope, const Value* block_input);
  CallArgs eval_args(const Node& n, const ScopePtr& scope, size_t first);
  Value lookup(const std::string& name, const ScopePtr& scope) const;
  void append(std::string& out, std::string_view text) const;

  RenderLimits limits_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
  std::vector<std::weak_ptr<Scope>> macro_scopes_;
};

// Attribute and item access with Jinja2's rules (missing: an Undefined that names what is missing).
Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// The items a for loop or filter iterates: list items, dict keys, string characters; Undefined is empty.
List iterate(const Value& v);

}  // namespace cria::chat::jinja
