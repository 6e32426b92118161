// The syntax tree of a parsed Jinja template: one node type with a kind, so the parser and evaluator
// stay two flat switch statements instead of a class per construct.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace cria::chat::jinja {

enum class NodeKind {
  // expressions
  Literal,    // value
  Name,       // name
  ListLit,    // kids: items
  TupleLit,   // kids: items
  DictLit,    // kids: key, value, key, value, ...
  GetAttr,    // kids[0].name
  GetItem,    // kids[0][kids[1]]
  Slice,      // kids[0][kids[1]:kids[2]:kids[3]] (absent parts are null)
  Call,       // kids[0](kids[1..]); names[k-1]: keyword of argument k ("" positional)
  Filter,     // kids[0] | name(kids[1..]); kids[0] is BlockInput for a filter block / set block
  Test,       // kids[0] is [not] name(kids[1..]); flag: negated
  Unary,      // name: "not", "-", "+"; kids[0]
  Binary,     // name: operator, or "and", "or", "in", "not in"; kids[0], kids[1]
  CondExpr,   // kids[1] if kids[0] else kids[2] (kids[2] may be null)
  BlockInput, // the rendered body a filter block or set block feeds its filters
  // statements
  Data,       // name: literal text
  Output,     // {{ kids[0] }}
  If,         // kids: conditions; branches: one body per condition; else_body
  For,        // names: targets; kids[0]: iterable, kids[1]: filter (null when none); body; else_body
  Set,        // kids[0]: target (Name, GetAttr or TupleLit), kids[1]: value
  SetBlock,   // kids[0]: target name, kids[1]: filter chain or null; body
  Macro,      // name; names: parameters; kids: defaults (null when none); body
  CallBlock,  // kids[0]: the call; names: caller parameters; kids[1..]: their defaults; body
  FilterBlock,  // kids[0]: filter chain; body
  With,       // names; kids: values; body
  Break,
  Continue,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  NodeKind kind;
  int line = 0;
  std::string name;
  Value value;
  bool flag = false;
  std::vector<NodePtr> kids;
  std::vector<std::string> names;
  std::vector<Body> branches;
  Body body;
  Body else_body;
};

}  // namespace cria::chat::jinja
