// The public face of the Jinja engine: parse a template once, render it with variables. Errors (syntax,
// a raised exception, an exceeded limit) come back as values; messages start with the Python exception
// class Jinja2 would raise, e.g. "TemplateError: System role not supported".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chat/jinja_ast.h"
#include "chat/jinja_eval.h"
#include "chat/jinja_lexer.h"
#include "core/result.h"

namespace cria::chat::jinja {

struct TemplateOptions {
  LexOptions lex;        // defaults: trim_blocks and lstrip_blocks on, as Hugging Face renders
  RenderLimits limits;
};

class Template {
 public:
  static Result<Template> parse(std::string_view source, const TemplateOptions& options = {});
  Result<std::string> render(const Dict& variables) const;

 private:
  std::shared_ptr<const Body> body_;
  RenderLimits limits_;
};

}  // namespace cria::chat::jinja
