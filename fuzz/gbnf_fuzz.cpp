// Fuzz target: any bytes as a GBNF grammar (up to the first NUL) give a grammar or an error with a line
// and column, never a crash or a hang; a grammar that parses then takes the rest of the input as text, a
// few bytes at a time, through the matcher: allows() must agree with accept(), and a refused piece must
// leave the matcher as it was. Input starting with '/' is a JSON Schema pattern instead (up to the NUL):
// regex_to_gbnf gives an error or an expression that must always parse as GBNF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "grammar/regex_gbnf.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::string grammar_text(input.substr(0, nul));
  if (grammar_text.starts_with("/")) {
    auto body = cria::grammar::regex_to_gbnf(std::string_view(grammar_text).substr(1), "jchar");
    if (!body) {
      require(!body.error().message.empty());
      return 0;
    }
    grammar_text = "root ::= " + *body + "\njchar ::= [^\"\\\\]\n";
    auto check = cria::grammar::parse_gbnf(grammar_text);
    require(check.ok());
  }
  auto g = cria::grammar::parse_gbnf(grammar_text);
  if (!g) {
    const std::string& m = g.error().message;
    require(!m.empty());
    return 0;
  }
  require(g->root >= 0 && static_cast<size_t>(g->root) < g->rules.size());
  if (nul == std::string_view::npos) return 0;
  cria::grammar::Matcher matcher(std::make_shared<cria::grammar::Grammar>(std::move(*g)));
  std::string_view text = input.substr(nul + 1);
  size_t step = 1;
  while (!text.empty()) {
    const std::string_view piece = text.substr(0, step);
    text.remove_prefix(piece.size());
    step = step % 4 + 1;  // pieces of 1 to 4 bytes, as tokens
    const bool allowed = matcher.allows(piece);
    const bool can_end_before = matcher.can_end();
    require(matcher.accept(piece) == allowed);
    if (!allowed) require(matcher.can_end() == can_end_before);
    (void)matcher.can_end();
  }
  return 0;
}
