// JSON Schema's `pattern` (an ECMAScript regular expression) as a GBNF expression for the inside of a JSON
// string: what the grammar allows is the JSON text (quotes excluded) of exactly the strings the pattern
// matches, with '"' and '\' written as \" and \\ and newline, tab and carriage return as \n \t \r.
// The subset:
//   literal characters (UTF-8) and escaped metacharacters (\. \\ \/ \( \) \[ \] \{ \} \* \+ \? \| \^ \$ \-);
//   \n \r \t \f \v, \xHH, \uHHHH; classes \d \D \w \W \s \S; '.' (any character but a line end);
//   [...] and [^...] with ranges and the escapes above; groups ( ) and (?: ); alternation |;
//   * + ? {m} {m,} {m,n} (a lazy '?' after them is allowed: it changes no language);
//   ^ at the start and $ at the end: without them any text may come before or after, as JSON Schema's
//   patterns are not anchored.
// Anything else is an error naming it: backreferences, lookaround, \b, \p{...}, ^ or $ elsewhere. Control
// characters other than newline, tab and carriage return are never written.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace cria::grammar {

// `any_char` names the grammar's rule for one JSON string character, used for unanchored ends.
Result<std::string> regex_to_gbnf(std::string_view pattern, const std::string& any_char);

}  // namespace cria::grammar
