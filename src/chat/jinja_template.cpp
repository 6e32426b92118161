#include "chat/jinja_template.h"

#include <new>

#include "chat/jinja_parser.h"

namespace cria::chat::jinja {

Result<Template> Template::parse(std::string_view source, const TemplateOptions& options) {
  try {
    Template t;
    t.body_ = std::make_shared<const Body>(jinja::parse(lex(source, options.lex)));
    t.limits_ = options.limits;
    return t;
  } catch (const TemplateError& e) {
    return make_error(e.kind + ": " + e.what());
  } catch (const std::exception& e) {
    return make_error(std::string("TemplateSyntaxError: ") + e.what());
  }
}

Result<std::string> Template::render(const Dict& variables) const {
  try {
    Evaluator ev(limits_);
    return ev.render(*body_, variables);
  } catch (const TemplateError& e) {
    return make_error(e.kind + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return make_error("MemoryError: the template ran out of memory");
  } catch (const std::exception& e) {  // e.g. a number too large for std::stoll in an attribute path
    return make_error(std::string("ValueError: ") + e.what());
  }
}

}  // namespace cria::chat::jinja
