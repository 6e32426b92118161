// JSON Schema to GBNF: each schema's grammar accepts documents valid against it and refuses invalid ones
// (objects with required and optional properties in any combination, enums, consts, arrays with bounds,
// string lengths, unions, nullable, $ref recursion); integer bounds are checked exhaustively against
// every integer from -1200 to 1200; unsupported keywords are errors naming the keyword and where it is.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

namespace cria::grammar {
namespace {

using Json = nlohmann::ordered_json;

std::shared_ptr<const Grammar> grammar_of(const std::string& schema) {
  auto text = json_schema_to_gbnf(Json::parse(schema));
  EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().message);
  if (!text.ok()) return nullptr;
  auto g = parse_gbnf(*text);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message) << "\n" << *text;
  return g.ok() ? std::make_shared<Grammar>(std::move(*g)) : nullptr;
}

bool matches(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  Matcher m(g);
  return m.accept(text) && m.can_end();
}

struct Case {
  const char* schema;
  std::vector<const char*> valid, invalid;
};

TEST(JsonSchema, GrammarsAcceptValidDocumentsOnly) {
  const Case cases[] = {
      {R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
           "required": ["name"]})",
       {R"({"name": "Moses"})", R"({"name": "Moses", "age": 120})", R"({ "name" : "A\"b\u00e9" ,
"age": -3 })"},
       {R"({})", R"({"name": "a",
  "age": 1})" /* whitespace is one space or one newline */, R"({"age": 120})", R"({"age": 1, "name": "x"})", R"({"name": 1})", R"({"name": "a", "x": 1})",
        R"({"name": "a",})"}},
      {R"({"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}, "c": {"type": "number"}}})",
       {"{}", R"({"a": true})", R"({"b": null})", R"({"c": 1.5e3})", R"({"a": false, "c": -0.25})", R"({"a": true, "b": null, "c": 0})"},
       {R"({,"b": null})", R"({"b": null, "a": true})", R"({"a": true,})", R"({"c": 01})"}},
      {R"({"enum": ["red", "green", 3, null]})", {R"("red")", R"("green")", "3", "null"}, {R"("blue")", "4", R"(red)"}},
      {R"({"const": {"k": [1, 2]}})", {R"({"k":[1,2]})"}, {R"({"k": [1, 2]})", R"({"k":[1]})"}},
      {R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3})",
       {"[1, 2]", "[1,2,3]", "[ 1 , -2 ]"},
       {"[]", "[1]", "[1, 2, 3, 4]", "[1, \"a\"]"}},
      {R"({"type": "array", "maxItems": 0})", {"[]", "[ ]"}, {"[1]"}},
      {R"({"type": "array", "items": {"type": "string"}})", {"[]", R"(["a"])", R"(["a", "b", "c"])"}, {"[,]", R"(["a",])"}},
      {R"({"type": "string", "minLength": 2, "maxLength": 3})", {R"("ab")", R"("abc")", R"("\n\t")"}, {R"("a")", R"("abcd")"}},
      {R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]})", {"7", R"("x")"}, {R"("xy")", "true"}},
      {R"({"type": ["integer", "null"]})", {"1", "null"}, {"\"1\""}},
      {R"({"type": "string", "nullable": true})", {R"("s")", "null"}, {"1"}},
      {R"({"type": "object", "additionalProperties": {"type": "integer"}})", {"{}", R"({"x": 1, "y": 2})"}, {R"({"x": "1"})"}},
      {R"({"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"], "additionalProperties": true})",
       {R"({"id": 1})", R"({"id": 1, "tags": ["a", {"b": null}]})"}, {R"({"tags": []})"}},
      {R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}},
                               "required": ["v"]}},
           "$ref": "#/$defs/node"})",
       {R"({"v": 1})", R"({"v": 1, "next": {"v": 2, "next": {"v": 3}}})"}, {R"({"v": 1, "next": {}})"}},
      {R"({"type": "object", "properties": {"q": {"type": "object", "properties": {"r": {"enum": ["x"]}}, "required": ["r"]}},
           "required": ["q"], "title": "T", "description": "nested"})",
       {R"({"q": {"r": "x"}})"}, {R"({"q": {}})", R"({"q": {"r": "y"}})"}},
      {"{}", {"1", R"({"a": [true, null]})", R"("s")"}, {"{", "nul"}},
  };
  for (const Case& c : cases) {
    const auto g = grammar_of(c.schema);
    ASSERT_TRUE(g) << c.schema;
    for (const char* doc : c.valid) EXPECT_TRUE(matches(g, doc)) << c.schema << "\n  should accept " << doc;
    for (const char* doc : c.invalid) EXPECT_FALSE(matches(g, doc)) << c.schema << "\n  should refuse " << doc;
  }
}

TEST(JsonSchema, IntegerBoundsAreExact) {
  struct Bounds {
    const char* keywords;
    long lo, hi;
  };
  const Bounds bounds[] = {
      {R"("minimum": 0, "maximum": 100)", 0, 100},
      {R"("minimum": 7, "maximum": 1093)", 7, 1093},
      {R"("minimum": -250, "maximum": -19)", -250, -19},
      {R"("minimum": -35, "maximum": 460)", -35, 460},
      {R"("exclusiveMinimum": 9, "exclusiveMaximum": 1000)", 10, 999},
      {R"("minimum": 120)", 120, 100000},
      {R"("maximum": -3)", -100000, -3},
      {R"("maximum": 45)", -100000, 45},
      {R"("minimum": -11)", -11, 100000},
      {R"("minimum": 0.5, "maximum": 20.5)", 1, 20},
  };
  for (const Bounds& b : bounds) {
    const auto g = grammar_of(std::string(R"({"type": "integer", )") + b.keywords + "}");
    ASSERT_TRUE(g) << b.keywords;
    for (long v = -1200; v <= 1200; ++v) {
      ASSERT_EQ(matches(g, std::to_string(v)), v >= b.lo && v <= b.hi) << b.keywords << ": " << v;
    }
    EXPECT_FALSE(matches(g, "007")) << b.keywords;
    EXPECT_FALSE(matches(g, "-0")) << b.keywords;
  }
}

// Patterns: the JSON text of exactly the strings the pattern matches (quotes and backslashes escaped),
// anchored or not.
TEST(JsonSchema, PatternsMatchTheirStringsAsJsonText) {
  const Case cases[] = {
      {R"({"type": "string", "pattern": "^[A-Z][a-z]{1,5}$"})", {R"("Moses")", R"("Ur")"}, {R"("moses")", R"("M")", R"("Abraham")"}},
      {R"({"pattern": "^\\d{3}-\\d{4}$", "type": "string"})", {R"("555-1234")"}, {R"("5551234")", R"("555-12345")"}},
      {R"({"type": "string", "pattern": "^(yes|no)?$"})", {R"("yes")", R"("no")", R"("")"}, {R"("yesno")", R"("maybe")"}},
      {R"({"type": "string", "pattern": "ab"})", {R"("ab")", R"("xxabyy")", R"("a\"ab")"}, {R"("ba")", R"("a b")"}},
      {R"({"type": "string", "pattern": "^a\"b\\\\c$"})", {R"("a\"b\\c")"}, {R"("a"b\c")", R"("a\"bc")"}},
      {R"({"type": "string", "pattern": "^.+$"})", {R"("a b\tc")", R"("\"")"}, {R"("a\nb")", R"("")"}},
      {R"({"type": "string", "pattern": "^[^a]$"})", {R"("\"")", R"("\\")", R"("b")", R"("\n")"}, {R"("a")", R"("bb")"}},
      {R"({"type": "string", "pattern": "^\\w+@\\w+\\.com$"})", {R"("moses@sinai.com")"}, {R"("moses@sinai.org")", R"("@x.com")"}},
      {R"({"type": "string", "pattern": "^[α-ω]+ (?:Ἰ|I)\\u0394?$"})", {R"("αβγ I")", R"("ω ἸΔ")"}, {R"("αβγ")", R"("Α I")"}},
      // Repeated parts that cannot be empty, and bounded repeats of ones that can.
      {R"({"type": "string", "pattern": "^(ab?)*$"})", {R"("")", R"("abab")", R"("aab")"}, {R"("b")", R"("abb")"}},
      {R"({"type": "string", "pattern": "^(a?){2,3}$"})", {R"("")", R"("aa")", R"("aaa")"}, {R"("aaaa")"}},
  };
  for (const Case& c : cases) {
    const auto g = grammar_of(c.schema);
    ASSERT_TRUE(g) << c.schema;
    for (const char* doc : c.valid) EXPECT_TRUE(matches(g, doc)) << c.schema << "\n  should accept " << doc;
    for (const char* doc : c.invalid) EXPECT_FALSE(matches(g, doc)) << c.schema << "\n  should refuse " << doc;
  }
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
  struct Bad {
    const char* schema;
    const char* message;
  };
  for (const Bad& b : {
           Bad{R"({"type": "string", "format": "date-time"})", "#: unsupported keyword 'format'"},
           Bad{R"({"type": "string", "pattern": "^(a)\\1$"})", "#/pattern, at character 5: backreferences are not supported"},
           Bad{R"({"type": "string", "pattern": "(?=a)b"})", "#/pattern, at character 2: lookaround"},
           // A repeated part that can be empty would make a left-recursive rule (found by the fuzzer).
           Bad{R"({"type": "string", "pattern": "= term ()*"})", "#/pattern, at character 10: a repeated part that can match nothing"},
           Bad{R"({"type": "string", "pattern": "^(a|b?)+$"})", "#/pattern, at character 8: a repeated part that can match nothing"},
           Bad{R"({"type": "string", "pattern": "(x*y*){2,}"})", "#/pattern, at character 7: a repeated part that can match nothing"},
           Bad{R"({"type": "string", "pattern": "^a+$", "maxLength": 3})", "#: pattern together with minLength"},
           Bad{R"({"properties": {"d": {"type": "string", "format": "date"}}})", "#/properties/d: unsupported keyword 'format'"},
           Bad{R"({"type": "number", "minimum": 1.5})", "#/minimum: bounds are supported on integers, not on numbers"},
           Bad{R"({"allOf": [{"type": "string"}, {"maxLength": 2}]})", "#/allOf: only a single schema"},
           Bad{R"({"$ref": "#/components/x"})", "#/$ref: '#/components/x' is not"},
           Bad{R"({"type": "rational"})", "#/type: unknown type 'rational'"},
           Bad{R"({"type": "array", "minItems": 3, "maxItems": 2})", "maxItems is below minItems"},
           Bad{R"({"type": "integer", "minimum": 5, "maximum": 4})", "no integer lies between the bounds"},
           Bad{R"(false)", "the schema 'false' allows no value"},
           Bad{R"({"items": {"prefixItems": []}})", "#/items: unsupported keyword 'prefixItems'"},
       }) {
    auto r = json_schema_to_gbnf(Json::parse(b.schema));
    ASSERT_FALSE(r.ok()) << b.schema;
    EXPECT_NE(r.error().message.find(b.message), std::string::npos) << b.schema << " -> " << r.error().message;
  }
}

}  // namespace
}  // namespace cria::grammar
