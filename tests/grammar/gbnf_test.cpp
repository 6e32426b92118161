// GBNF grammars: grammars in the style of llama.cpp's grammars/ folder (arithmetic, JSON, a list, a chess
// move, a C-like expression) parse and accept exactly their language, text split anywhere (inside UTF-8
// sequences too); bad grammars are errors with line and column; and the sampler under a grammar draws
// only tokens that continue it, keeping the unconstrained greedy choice wherever that is allowed.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "sampling/sampler.h"

namespace cria::grammar {
namespace {

std::shared_ptr<const Grammar> parsed(const std::string& text) {
  auto g = parse_gbnf(text);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? std::make_shared<Grammar>(std::move(*g)) : nullptr;
}

// Whether the whole text is a sentence of the grammar, fed in pieces of `chunk` bytes.
bool matches(const std::shared_ptr<const Grammar>& g, const std::string& text, size_t chunk = 1) {
  Matcher m(g);
  for (size_t i = 0; i < text.size(); i += chunk) {
    if (!m.accept(text.substr(i, chunk))) return false;
  }
  return m.can_end();
}

// Whether the text can begin a sentence (every prefix is allowed).
bool prefix_ok(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  Matcher m(g);
  return m.accept(text);
}

const char* kArithmetic = R"G(# integers with + - * / and parentheses
root  ::= expr
expr  ::= term (("+" | "-") term)*
term  ::= factor (("*" | "/") factor)*
factor ::= [0-9]+ | "(" expr ")"
)G";

const char* kJson = R"G(
root   ::= value
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( member ( "," ws member )* )? "}" ws
member ::= string ":" ws value
array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" ws
number ::= "-"? ([0-9] | [1-9] [0-9]{0,15}) ("." [0-9]+)? ([eE] [-+]? [0-9]+)? ws
ws     ::= | " " | "\n" [ \t]{0,20}
)G";

const char* kList = R"G(root ::= item{1,3}
item ::= "- " [^\n]+ "\n"
)G";

const char* kChess = R"G(root ::= move (" " move)*
move ::= castle | piece? file? rank? "x"? file rank promotion? check?
castle ::= "O-O" "-O"?
piece ::= [KQRBN]
file ::= [a-h]
rank ::= [1-8]
promotion ::= "=" [QRBN]
check ::= [+#]
)G";

const char* kCExpr = R"G(root ::= (expr "=" ws term "\n")+
expr ::= term ([-+*/] ws term)*
term ::= ident | num | "(" ws expr ")" ws
ident ::= [a-z] [a-z0-9_]* ws
num ::= [0-9]+ ws
ws ::= [ \t]*
)G";

TEST(Gbnf, ArithmeticAcceptsItsLanguage) {
  const auto g = parsed(kArithmetic);
  ASSERT_TRUE(g);
  for (const char* ok : {"1", "12+3", "1+2*(3-4)/56", "((7))"}) EXPECT_TRUE(matches(g, ok)) << ok;
  for (const char* bad : {"", "1+", "1++2", "(1", "a", "1 + 2"}) EXPECT_FALSE(matches(g, bad)) << bad;
  EXPECT_TRUE(prefix_ok(g, "1+(2"));   // not finished, but on the way
  EXPECT_FALSE(prefix_ok(g, "1+)"));
}

TEST(Gbnf, JsonAcceptsDocumentsAndRefusesTheRest) {
  const auto g = parsed(kJson);
  ASSERT_TRUE(g);
  for (const char* ok : {R"({"a": [1, 2.5e3, -0.5, true, null], "b": {"c": "\u00e9\n"}})", "[]", "\"x\"", "-12",
                         "{\"k\":\"\xce\xbb\xf0\x9f\x98\x80\"}"}) {
    for (size_t chunk : {1, 2, 3, 7}) EXPECT_TRUE(matches(g, ok, chunk)) << ok << " in pieces of " << chunk;
  }
  for (const char* bad : {"{", "[1,]", "{\"a\" 1}", "01", "\"\x01\"", "tru", "{\"a\":1}}"}) {
    EXPECT_FALSE(matches(g, bad)) << bad;
  }
  // A code point cut in the middle stays pending: allowed where the grammar can take it, not an end.
  Matcher m(g);
  ASSERT_TRUE(m.accept("\"\xce"));
  EXPECT_FALSE(m.can_end());
  EXPECT_TRUE(m.accept("\xbb\""));
  EXPECT_TRUE(m.can_end());
  Matcher number(g);
  EXPECT_FALSE(number.allows("\xce")) << "a number cannot start with a Greek letter";
  EXPECT_FALSE(number.allows("\xff")) << "not UTF-8";
  // Overlong encodings are not the characters they spell: C0 A2 and E0 80 A2 are not '"'.
  EXPECT_FALSE(Matcher(g).allows("\xc0\xa2"));
  EXPECT_FALSE(Matcher(g).allows("\xe0\x80\xa2"));
  EXPECT_FALSE(Matcher(g).allows("\xe0\x80")) << "can only end overlong";
  EXPECT_FALSE(matches(g, "\"\xed\xa0\x80\"")) << "a surrogate";
  EXPECT_FALSE(matches(g, "\"\xf4\x90\x80\x80\"")) << "past U+10FFFF";
}

TEST(Gbnf, RepetitionBoundsListChessAndCExpressions) {
  const auto list = parsed(kList);
  ASSERT_TRUE(list);
  EXPECT_TRUE(matches(list, "- bread\n"));
  EXPECT_TRUE(matches(list, "- bread\n- wine\n- fish\n"));
  EXPECT_FALSE(matches(list, "- a\n- b\n- c\n- d\n"));
  EXPECT_FALSE(matches(list, "- \n"));
  const auto chess = parsed(kChess);
  ASSERT_TRUE(chess);
  for (const char* ok : {"e4", "Nf3 O-O-O", "exd5 e8=Q+", "Qxf7#"}) EXPECT_TRUE(matches(chess, ok)) << ok;
  for (const char* bad : {"e9", "Zf3", "O-O-O-O", "e4  e5"}) EXPECT_FALSE(matches(chess, bad)) << bad;
  const auto c = parsed(kCExpr);
  ASSERT_TRUE(c);
  EXPECT_TRUE(matches(c, "a_1 + (b * 2) = c\nx=1\n"));
  EXPECT_FALSE(matches(c, "1a = b\n"));
  const auto bounds = parsed("root ::= \"a\"{2,3} [xy]{0,} \".\"?\n");
  ASSERT_TRUE(bounds);
  for (const char* ok : {"aa", "aaa", "aaxyyx", "aax."}) EXPECT_TRUE(matches(bounds, ok)) << ok;
  for (const char* bad : {"a", "aaaa", "aa.x"}) EXPECT_FALSE(matches(bounds, bad)) << bad;
  const auto any = parsed("root ::= \"<\" [^>]* \">\" . \n");
  ASSERT_TRUE(any);
  EXPECT_TRUE(matches(any, "<\xe2\x82\xac>\xe2\x82\xac"));
  EXPECT_FALSE(matches(any, "<>>>"));
}

TEST(Gbnf, BadGrammarsSayWhereAndWhat) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"root ::= \"abc\n", "line 1, column 14: newline in a string"},
           Case{"root ::= x\nx = \"a\"\n", "line 2, column 3: expected '::=' after 'x'"},
           Case{"root ::= item\n", "line 1, column 10: rule 'item' is used but never defined"},
           Case{"item ::= \"a\"\n", "the grammar has no 'root' rule"},
           Case{"root ::= root \"a\" | \"b\"\n", "rule 'root' is left-recursive"},
           Case{"root ::= \"\\q\"\n", "line 1, column 11: unknown escape '\\q'"},
           Case{"root ::= [a-z\n", "line 1, column 14"},
           Case{"root ::= \"a\"{3,2}\n", "reversed"},
           Case{"root ::= * \"a\"\n", "line 1, column 10: '*' follows nothing to repeat"},
           Case{"root ::= \"a\"\nroot ::= \"b\"\n", "line 2, column 1: rule 'root' is defined twice"},
           Case{"root ::= (\"a\" | \"b\"\n", "expected ')'"},
           Case{"root ::= [z-a]\n", "ends below its start"},
           Case{"root ::= \"a\"{1,99999}\n", "repetition bound above 10000"},
           Case{"root ::= x*\nx ::= \"a\"?\n", "left-recursive"},
           Case{"(deep)", "groups nest more than 256 deep"},
           Case{"(chain)", "rules that each begin with the next"},
       }) {
    std::string text = c.text;
    if (text == "(deep)") text = "root ::= " + std::string(300, '(') + "\"a\"" + std::string(300, ')') + "\n";
    if (text == "(chain)") {
      text = "root ::= r0\n";
      for (int i = 0; i < 2500; ++i) text += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + " \"x\"\n";
      text += "r2500 ::= \"y\"\n";
    }
    auto g = parse_gbnf(text);
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_NE(g.error().message.find(c.message), std::string::npos) << c.text << " -> " << g.error().message;
  }
}

// A toy vocabulary: the sampler under `root ::= "yes" | "no"` draws only what spells one of them and
// ends where the grammar does; greedy keeps the unconstrained choice wherever the grammar allows it.
TEST(GbnfSampler, DrawsOnlyWhatTheGrammarAllows) {
  const auto pieces = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"</s>", "y", "es", "no", "maybe", "n", "o", "yes"});
  const std::vector<int32_t> eog = {0};
  const auto g = parsed("root ::= \"yes\" | \"no\"\n");
  ASSERT_TRUE(g);
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    sampling::SamplingParams p;
    p.temp = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    sampling::Sampler s(p, static_cast<int64_t>(pieces->size()), 64);
    s.set_grammar(g, pieces, eog);
    std::vector<float> logits(pieces->size(), 0.0f);
    logits[4] = 5.0f;  // "maybe" is the model's favourite and never allowed
    std::string text;
    for (int step = 0; step < 5; ++step) {
      const int32_t id = s.sample(logits.data());
      if (id == 0) break;
      text += (*pieces)[static_cast<size_t>(id)];
    }
    EXPECT_TRUE(text == "yes" || text == "no") << "seed " << seed << ": " << text;
  }
  // Greedy: the best allowed token, and the unconstrained best where it is allowed.
  sampling::SamplingParams greedy;
  greedy.temp = 0.0f;
  sampling::Sampler s(greedy, static_cast<int64_t>(pieces->size()), 64);
  s.set_grammar(g, pieces, eog);
  std::vector<float> logits = {9.0f, 1.0f, 0.0f, 2.0f, 8.0f, 3.0f, 0.0f, 0.5f};
  EXPECT_EQ(s.sample(logits.data()), 5) << "'n' is the best allowed first token ('</s>' and 'maybe' are not)";
  logits = {0.0f, 1.0f, 0.0f, 2.0f, 8.0f, 0.0f, 4.0f, 0.5f};
  EXPECT_EQ(s.sample(logits.data()), 6) << "'o' after 'n', the unconstrained best apart from 'maybe'";
  EXPECT_EQ(s.sample(logits.data()), 0) << "only the end is left";
  s.restart_grammar();
  logits = {0.0f, 1.0f, 0.0f, 2.0f, 0.0f, 0.0f, 0.0f, 7.0f};
  EXPECT_EQ(s.sample(logits.data()), 7) << "the unconstrained choice, allowed, is kept";
}

}  // namespace
}  // namespace cria::grammar
