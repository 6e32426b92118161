// Python's str methods as chat templates use them (strip, split, title, replace, format, % formatting).
// Case mapping is ASCII only; whitespace is Python's ASCII set plus what str.split treats as space.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_value.h"

namespace cria::chat::jinja {

class Evaluator;

// `chars` null: whitespace. left/right choose lstrip, rstrip or strip.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// `sep` null: runs of whitespace, empty pieces dropped. maxsplit < 0: no limit.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);       // str.title()
std::string jinja_title(std::string_view s);    // Jinja's |title: capitalizes after - ( { [ < and spaces
std::string py_capitalize(std::string_view s);
// count < 0: all. The result size is checked against the evaluator's string limit as it grows.
std::string py_replace(Evaluator& ev, std::string_view s, std::string_view old, std::string_view with, int64_t count);
// "..." % args: %s %r %d %i %f %x %%, and %(name)s with a dict. `escape`: the format string is Markup,
// which HTML-escapes what %s and %r insert (Markup arguments of %s stay as they are).
std::string percent_format(Evaluator& ev, std::string_view fmt, const Value& args, bool escape = false);
// "...".format(*args, **kwargs): {} {0} {name} and {{ }}; format specs are ignored. `escape` as above
// (markupsafe's EscapeFormatter).
std::string brace_format(Evaluator& ev, std::string_view fmt, const CallArgs& args, bool escape = false);

}  // namespace cria::chat::jinja
