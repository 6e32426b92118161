#include "chat/jinja_parser.h"

#include <charconv>
#include <cstdlib>
#include <initializer_list>

namespace cria::chat::jinja {

namespace {

NodePtr make(NodeKind kind, int line) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->line = line;
  return n;
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  Body parse_template() {
    Body body = parse_body({});
    if (cur().type != TokenType::End) error("unexpected '" + cur().text + "'");
    return body;
  }

 private:
  // Guards recursion: every nested expression or block goes through one of these.
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxParseDepth) p_.error("template nested deeper than " + std::to_string(kMaxParseDepth) + " levels");
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  const Token& cur() const { return t_[pos_]; }
  const Token& peek(size_t ahead = 1) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < t_.size()) ++pos_;
  }
  [[noreturn]] void error(const std::string& what) const {
    throw_error("TemplateSyntaxError", what + " (line " + std::to_string(cur().line) + ")");
  }
  bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(std::string("expected '") + op + "', got '" + describe(cur()) + "'");
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) error("expected a name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) error("expected the end of the block tag, got '" + describe(cur()) + "'");
    advance();
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::End: return "end of template";
      case TokenType::BlockEnd: return "%}";
      case TokenType::VarEnd: return "}}";
      default: return t.text;
    }
  }

  // Statements until a block tag whose name is in `end_tags` (left unconsumed, positioned at its name).
  Body parse_body(std::initializer_list<const char*> end_tags) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& tok = cur();
      if (tok.type == TokenType::End) {
        // The closing tag is the last of `end_tags` (elif/else come first).
        if (end_tags.size() != 0) error(std::string("unexpected end of template, expected '") + *(end_tags.end() - 1) + "'");
        return body;
      }
      if (tok.type == TokenType::Data) {
        auto n = make(NodeKind::Data, tok.line);
        n->name = tok.text;
        body.push_back(std::move(n));
        advance();
      } else if (tok.type == TokenType::VarBegin) {
        advance();
        auto n = make(NodeKind::Output, tok.line);
        n->kids.push_back(parse_expression());
        if (cur().type != TokenType::VarEnd) error("expected '}}', got '" + describe(cur()) + "'");
        advance();
        body.push_back(std::move(n));
      } else if (tok.type == TokenType::BlockBegin) {
        advance();
        if (cur().type != TokenType::Name) error("expected a statement name after '{%'");
        for (const char* end : end_tags) {
          if (cur().text == end) return body;
        }
        body.push_back(parse_statement());
      } else {
        error("unexpected '" + describe(tok) + "'");
      }
    }
  }

  void expect_end_tag(const char* name) {
    if (!skip_name(name)) error(std::string("expected '") + name + "'");
    expect_block_end();
  }

  NodePtr parse_statement() {
    const int line = cur().line;
    const std::string kw = cur().text;
    advance();
    if (kw == "if") return parse_if(line);
    if (kw == "for") return parse_for(line);
    if (kw == "set") return parse_set(line);
    if (kw == "macro") return parse_macro(line);
    if (kw == "call") return parse_call_block(line);
    if (kw == "filter") {
      auto n = make(NodeKind::FilterBlock, line);
      n->kids.push_back(parse_filter_chain(make(NodeKind::BlockInput, line), /*leading_pipe=*/false));
      expect_block_end();
      n->body = parse_body({"endfilter"});
      expect_end_tag("endfilter");
      return n;
    }
    if (kw == "with") return parse_with(line);
    if (kw == "generation") {  // transformers' assistant-mask marker: renders its body unchanged
      expect_block_end();
      auto n = make(NodeKind::With, line);
      n->body = parse_body({"endgeneration"});
      expect_end_tag("endgeneration");
      return n;
    }
    if (kw == "break" || kw == "continue") {
      if (loop_depth_ == 0) error("'" + kw + "' outside a loop");
      expect_block_end();
      return make(kw == "break" ? NodeKind::Break : NodeKind::Continue, line);
    }
    error("unknown or unsupported tag '" + kw + "'");
  }

  NodePtr parse_if(int line) {
    auto n = make(NodeKind::If, line);
    while (true) {
      n->kids.push_back(parse_expression());
      expect_block_end();
      n->branches.push_back(parse_body({"elif", "else", "endif"}));
      if (skip_name("elif")) continue;
      if (skip_name("else")) {
        expect_block_end();
        n->else_body = parse_body({"endif"});
      }
      expect_end_tag("endif");
      return n;
    }
  }

  NodePtr parse_for(int line) {
    auto n = make(NodeKind::For, line);
    n->names.push_back(expect_name());
    while (skip_op(",")) n->names.push_back(expect_name());
    if (!skip_name("in")) error("expected 'in' in a for loop");
    n->kids.push_back(parse_condexpr_without_if());
    n->kids.push_back(skip_name("if") ? parse_expression() : nullptr);
    if (is_name("recursive")) error("recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    n->body = parse_body({"else", "endfor"});
    --loop_depth_;
    if (skip_name("else")) {
      expect_block_end();
      n->else_body = parse_body({"endfor"});
    }
    expect_end_tag("endfor");
    return n;
  }

  NodePtr parse_set(int line) {
    // Target: a name, ns.attr, or several names.
    NodePtr target = make(NodeKind::Name, line);
    target->name = expect_name();
    if (skip_op(".")) {
      auto attr = make(NodeKind::GetAttr, line);
      attr->name = expect_name();
      attr->kids.push_back(std::move(target));
      target = std::move(attr);
    } else if (is_op(",")) {
      auto tuple = make(NodeKind::TupleLit, line);
      tuple->kids.push_back(std::move(target));
      while (skip_op(",")) {
        auto name = make(NodeKind::Name, line);
        name->name = expect_name();
        tuple->kids.push_back(std::move(name));
      }
      target = std::move(tuple);
    }
    if (skip_op("=")) {
      auto n = make(NodeKind::Set, line);
      n->kids.push_back(std::move(target));
      n->kids.push_back(parse_tuple_expression());
      expect_block_end();
      return n;
    }
    if (target->kind != NodeKind::Name) error("a block set assigns one name");
    auto n = make(NodeKind::SetBlock, line);
    n->kids.push_back(std::move(target));
    n->kids.push_back(is_op("|") ? parse_filter_chain(make(NodeKind::BlockInput, line)) : nullptr);
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    n->body = parse_body({"endset"});
    loop_depth_ = saved;
    expect_end_tag("endset");
    return n;
  }

  void parse_params(Node& n) {
    expect_op("(");
    while (!skip_op(")")) {
      if (!n.names.empty()) expect_op(",");
      if (skip_op(")")) break;
      n.names.push_back(expect_name());
      n.kids.push_back(skip_op("=") ? parse_expression() : nullptr);
    }
  }

  NodePtr parse_macro(int line) {
    auto n = make(NodeKind::Macro, line);
    n->name = expect_name();
    parse_params(*n);
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    n->body = parse_body({"endmacro"});
    loop_depth_ = saved;
    expect_end_tag("endmacro");
    return n;
  }

  NodePtr parse_call_block(int line) {
    auto n = make(NodeKind::CallBlock, line);
    auto params = make(NodeKind::Macro, line);
    if (is_op("(")) parse_params(*params);
    NodePtr call = parse_expression();
    if (call->kind != NodeKind::Call) error("expected a call in a call block");
    n->kids.push_back(std::move(call));
    n->names = std::move(params->names);
    for (auto& d : params->kids) n->kids.push_back(std::move(d));
    expect_block_end();
    const int saved = loop_depth_;
    loop_depth_ = 0;
    n->body = parse_body({"endcall"});
    loop_depth_ = saved;
    expect_end_tag("endcall");
    return n;
  }

  NodePtr parse_with(int line) {
    auto n = make(NodeKind::With, line);
    while (cur().type != TokenType::BlockEnd) {
      if (!n->names.empty()) expect_op(",");
      n->names.push_back(expect_name());
      expect_op("=");
      n->kids.push_back(parse_expression());
    }
    expect_block_end();
    n->body = parse_body({"endwith"});
    expect_end_tag("endwith");
    return n;
  }

  // ---- expressions, lowest precedence first ----

  // `a, b` without brackets (a tuple) where Jinja allows it: set values.
  NodePtr parse_tuple_expression() {
    NodePtr first = parse_expression();
    if (!is_op(",")) return first;
    auto tuple = make(NodeKind::TupleLit, first->line);
    tuple->kids.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().type == TokenType::BlockEnd) break;
      tuple->kids.push_back(parse_expression());
    }
    return tuple;
  }

  NodePtr parse_expression() {
    DepthGuard guard(*this);
    NodePtr expr = parse_or();
    while (is_name("if")) {
      advance();
      auto n = make(NodeKind::CondExpr, expr->line);
      n->kids.push_back(parse_or());
      n->kids.push_back(std::move(expr));
      n->kids.push_back(skip_name("else") ? parse_expression() : nullptr);
      expr = std::move(n);
    }
    return expr;
  }

  // A for loop's iterable: `if` there starts the loop filter, not a conditional expression.
  NodePtr parse_condexpr_without_if() { return parse_or(); }

  NodePtr binary(const std::string& op, NodePtr lhs, NodePtr rhs) {
    auto n = make(NodeKind::Binary, lhs->line);
    n->name = op;
    n->kids.push_back(std::move(lhs));
    n->kids.push_back(std::move(rhs));
    return n;
  }

  NodePtr parse_or() {
    NodePtr lhs = parse_and();
    while (skip_name("or")) lhs = binary("or", std::move(lhs), parse_and());
    return lhs;
  }

  NodePtr parse_and() {
    NodePtr lhs = parse_not();
    while (skip_name("and")) lhs = binary("and", std::move(lhs), parse_not());
    return lhs;
  }

  NodePtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto n = make(NodeKind::Unary, cur().line);
      advance();
      n->name = "not";
      n->kids.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }

  NodePtr parse_compare() {
    NodePtr lhs = parse_math1();
    while (true) {
      if (cur().type == TokenType::Operator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" || cur().text == "<=" ||
           cur().text == ">=")) {
        const std::string op = cur().text;
        advance();
        lhs = binary(op, std::move(lhs), parse_math1());
      } else if (skip_name("in")) {
        lhs = binary("in", std::move(lhs), parse_math1());
      } else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
        advance();
        advance();
        lhs = binary("not in", std::move(lhs), parse_math1());
      } else {
        return lhs;
      }
    }
  }

  NodePtr parse_math1() {
    NodePtr lhs = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().text;
      advance();
      lhs = binary(op, std::move(lhs), parse_concat());
    }
    return lhs;
  }

  NodePtr parse_concat() {
    NodePtr lhs = parse_math2();
    while (skip_op("~")) lhs = binary("~", std::move(lhs), parse_math2());
    return lhs;
  }

  NodePtr parse_math2() {
    NodePtr lhs = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().text;
      advance();
      lhs = binary(op, std::move(lhs), parse_pow());
    }
    return lhs;
  }

  NodePtr parse_pow() {
    NodePtr lhs = parse_unary(true);
    while (skip_op("**")) lhs = binary("**", std::move(lhs), parse_unary(true));
    return lhs;
  }

  NodePtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    NodePtr node;
    if (is_op("-") || is_op("+")) {
      node = make(NodeKind::Unary, cur().line);
      node->name = cur().text;
      advance();
      node->kids.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    return with_filter ? parse_filter_expr(std::move(node)) : std::move(node);
  }

  NodePtr parse_primary() {
    const Token& tok = cur();
    const int line = tok.line;
    if (tok.type == TokenType::Name) {
      const std::string name = tok.text;
      advance();
      auto n = make(NodeKind::Literal, line);
      if (name == "true" || name == "True") {
        n->value = Value::boolean(true);
      } else if (name == "false" || name == "False") {
        n->value = Value::boolean(false);
      } else if (name == "none" || name == "None") {
        n->value = Value::none();
      } else {
        n->kind = NodeKind::Name;
        n->name = name;
      }
      return n;
    }
    if (tok.type == TokenType::String) {
      std::string s;
      while (cur().type == TokenType::String) {  // adjacent literals concatenate
        s += cur().text;
        advance();
      }
      auto n = make(NodeKind::Literal, line);
      n->value = Value::string(std::move(s));
      return n;
    }
    if (tok.type == TokenType::Integer || tok.type == TokenType::Float) {
      auto n = make(NodeKind::Literal, line);
      if (tok.type == TokenType::Integer) {
        int64_t v = 0;
        auto res = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
        if (res.ec != std::errc()) error("integer literal " + tok.text + " is out of range");
        n->value = Value::integer(v);
      } else {
        n->value = Value::number(std::strtod(tok.text.c_str(), nullptr));
      }
      advance();
      return n;
    }
    if (skip_op("(")) {
      if (skip_op(")")) return make(NodeKind::TupleLit, line);
      NodePtr first = parse_expression();
      if (skip_op(")")) return first;
      auto tuple = make(NodeKind::TupleLit, line);
      tuple->kids.push_back(std::move(first));
      while (skip_op(",")) {
        if (is_op(")")) break;
        tuple->kids.push_back(parse_expression());
      }
      expect_op(")");
      return tuple;
    }
    if (skip_op("[")) {
      auto list = make(NodeKind::ListLit, line);
      while (!skip_op("]")) {
        if (!list->kids.empty()) {
          expect_op(",");
          if (skip_op("]")) break;
        }
        list->kids.push_back(parse_expression());
      }
      return list;
    }
    if (skip_op("{")) {
      auto dict = make(NodeKind::DictLit, line);
      while (!skip_op("}")) {
        if (!dict->kids.empty()) {
          expect_op(",");
          if (skip_op("}")) break;
        }
        dict->kids.push_back(parse_expression());
        expect_op(":");
        dict->kids.push_back(parse_expression());
      }
      return dict;
    }
    error("unexpected '" + describe(tok) + "'");
  }

  NodePtr parse_postfix(NodePtr node) {
    while (true) {
      const int line = cur().line;
      if (skip_op(".")) {
        if (cur().type == TokenType::Integer) {  // `items.0` indexes
          auto n = make(NodeKind::GetItem, line);
          n->kids.push_back(std::move(node));
          auto idx = make(NodeKind::Literal, line);
          idx->value = Value::integer(std::strtoll(cur().text.c_str(), nullptr, 10));
          advance();
          n->kids.push_back(std::move(idx));
          node = std::move(n);
          continue;
        }
        auto n = make(NodeKind::GetAttr, line);
        n->name = expect_name();
        n->kids.push_back(std::move(node));
        node = std::move(n);
      } else if (skip_op("[")) {
        node = parse_subscript(std::move(node), line);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  NodePtr parse_subscript(NodePtr obj, int line) {
    NodePtr parts[3];
    bool is_slice = false;
    for (int k = 0; k < 3; ++k) {
      if (!is_op(":") && !is_op("]")) parts[k] = parse_expression();
      if (k < 2 && skip_op(":")) {
        is_slice = true;
        continue;
      }
      break;
    }
    expect_op("]");
    if (!is_slice) {
      if (!parts[0]) error("empty subscript");
      auto n = make(NodeKind::GetItem, line);
      n->kids.push_back(std::move(obj));
      n->kids.push_back(std::move(parts[0]));
      return n;
    }
    auto n = make(NodeKind::Slice, line);
    n->kids.push_back(std::move(obj));
    for (auto& p : parts) n->kids.push_back(std::move(p));
    return n;
  }

  // Arguments `(a, b, key=c)` into n's kids (after those already there) and names.
  void parse_args(Node& n) {
    expect_op("(");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) {
        expect_op(",");
        if (skip_op(")")) break;
      }
      first = false;
      if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == "=") {
        n.names.push_back(cur().text);
        advance();
        advance();
      } else {
        if (is_op("*") || is_op("**")) error("*args and **kwargs in calls are not supported");
        n.names.emplace_back();
      }
      n.kids.push_back(parse_expression());
    }
  }

  NodePtr parse_call(NodePtr callee) {
    auto n = make(NodeKind::Call, callee->line);
    n->kids.push_back(std::move(callee));
    parse_args(*n);
    return n;
  }

  NodePtr parse_filter_expr(NodePtr node) {
    while (true) {
      if (is_op("|")) {
        node = parse_filter_chain(std::move(node));
      } else if (is_name("is")) {
        advance();
        auto n = make(NodeKind::Test, node->line);
        n->flag = skip_name("not");
        n->name = expect_name();
        n->kids.push_back(std::move(node));
        if (is_op("(")) {
          parse_args(*n);
        } else if (starts_test_argument()) {
          n->names.emplace_back();
          n->kids.push_back(parse_unary(false));
        }
        node = std::move(n);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  // `x is divisibleby 3`: a test may take one argument without parentheses.
  bool starts_test_argument() const {
    const Token& t = cur();
    if (t.type == TokenType::String || t.type == TokenType::Integer || t.type == TokenType::Float) return true;
    if (t.type == TokenType::Operator) return t.text == "[" || t.text == "{" || t.text == "-";
    if (t.type == TokenType::Name) {
      static const char* kStop[] = {"else", "or", "and", "if", "is", "in", "not"};
      for (const char* s : kStop) {
        if (t.text == s) return false;
      }
      return true;
    }
    return false;
  }

  // One or more `| name(args)` applied to `input`.
  NodePtr parse_filter_chain(NodePtr input, bool leading_pipe = true) {
    while (!leading_pipe || skip_op("|")) {
      leading_pipe = true;
      auto n = make(NodeKind::Filter, cur().line);
      n->name = expect_name();
      while (skip_op(".")) n->name.append(".").append(expect_name());
      n->kids.push_back(std::move(input));
      if (is_op("(")) parse_args(*n);
      input = std::move(n);
    }
    return input;
  }

  const std::vector<Token>& t_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace cria::chat::jinja
