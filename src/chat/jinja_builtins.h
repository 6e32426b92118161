// Jinja's built-in filters, tests, global functions, and the Python str/dict/list methods chat templates
// call (`message.content.strip()`, `message.get('x')`). Behaviour follows Jinja2 3.1 and Python 3.
#pragma once

#include <string>

#include "chat/jinja_eval.h"
#include "chat/jinja_value.h"

namespace cria::chat::jinja {

// Throws TemplateError("TemplateAssertionError", "No filter named ...") for an unknown filter.
Value apply_filter(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& input, CallArgs& args);

// Calls method `name` of a str, list or dict; false when that type has no such method (the caller then
// falls back to attribute lookup).
bool call_method(Evaluator& ev, const Value& obj, const std::string& name, CallArgs& args, Value& result);

// range, dict, namespace (Jinja2's default globals that chat templates use).
void add_builtin_globals(Dict& globals);

// Argument `index` by position or keyword `name`; `fallback` when absent (a copy: fallbacks are often
// temporaries).
Value arg(const CallArgs& args, size_t index, const char* name, const Value& fallback);

}  // namespace cria::chat::jinja
