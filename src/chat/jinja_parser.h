// The Jinja parser: tokens to a syntax tree, with Jinja2's operator precedence (filters and tests bind
// tighter than arithmetic; `~` between + and *). Nesting deeper than kMaxParseDepth is an error, so a
// hostile template cannot exhaust the stack.
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace cria::chat::jinja {

constexpr int kMaxParseDepth = 256;

// Throws TemplateError("TemplateSyntaxError", ...) naming the line.
Body parse(const std::vector<Token>& tokens);

}  // namespace cria::chat::jinja
