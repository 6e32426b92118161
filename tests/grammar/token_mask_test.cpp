// The token mask (grammar/token_mask) against matching every token on its own: along random walks through
// grammars (a JSON schema's, GBNF with Unicode ranges, negated classes, bounded and nested repetition),
// the masker allows exactly the tokens Matcher::allows allows, at every cut depth (1 cuts below every
// top frame, so nearly every token is matched again; 100 never cuts), over a synthetic vocabulary full of
// JSON fragments, multi-byte characters and lone UTF-8 bytes, and over the bundled llama-spm vocabulary.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace cria::grammar {
namespace {

std::shared_ptr<const Grammar> parsed(const std::string& text) {
  auto g = parse_gbnf(text);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return g.ok() ? std::make_shared<Grammar>(std::move(*g)) : nullptr;
}

std::shared_ptr<const Grammar> from_schema(const char* schema) {
  auto text = json_schema_to_gbnf(nlohmann::ordered_json::parse(schema));
  EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().message);
  return text.ok() ? parsed(*text) : nullptr;
}

// Fragments a JSON document is made of, letters and digits, multi-byte characters whole and cut, lone
// bytes, and random strings over them.
std::shared_ptr<const std::vector<std::string>> synthetic_vocab() {
  std::vector<std::string> v = {"",   "{",    "}",  "[",   "]",    ",",     ":",     "\"",   " ",      "\n",
                                "\": ", "\",", "\"}", "{\"", "\"\n", "\\",    "\\n",   "\\u00", "true", "false",
                                "null", "1",   "23",  "-",   ".5",   "e+",    "é",     "日本", "\xe6",  "\x97\xa5",
                                "\xf0\x9f", "\x98\x80", "\xc3", "\xa9", "\xc0\xa2", "\xed\xa0\x80", "abc", "\"a", "a\"",
                                "\"]", "],", "},", "\t"};
  const std::string alphabet = "ab\"{}[],: \\n0123456789-.";
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % 7);
    for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    if (rng() % 8 == 0) s += "é";
    v.push_back(s);
  }
  return std::make_shared<std::vector<std::string>>(std::move(v));
}

// Walks `steps` random allowed tokens from the start, comparing the mask with matching each token.
void check_walk(const std::shared_ptr<const Grammar>& g, const std::shared_ptr<const std::vector<std::string>>& vocab,
                int depth, int steps, uint32_t seed) {
  ASSERT_NE(g, nullptr);
  auto pool = std::make_shared<StackPool>(g);
  Matcher m(pool);
  TokenMasker masker(pool, TokenTrie::of(vocab), depth);
  std::mt19937 rng(seed);
  std::vector<uint64_t> mask;
  for (int step = 0; step < steps; ++step) {
    masker.fill(m.state(), mask);
    std::vector<int32_t> allowed;
    for (size_t t = 0; t < vocab->size(); ++t) {
      const bool expected = !(*vocab)[t].empty() && m.allows((*vocab)[t]);
      const bool got = (mask[t >> 6] >> (t & 63)) & 1;
      ASSERT_EQ(got, expected) << "depth " << depth << ", step " << step << ", token " << t << " '" << (*vocab)[t]
                               << "'";
      if (expected) allowed.push_back(static_cast<int32_t>(t));
    }
    if (allowed.empty()) break;
    ASSERT_TRUE(m.accept((*vocab)[static_cast<size_t>(allowed[rng() % allowed.size()])]));
  }
}

const char* kSchema = R"({"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 12},
    "tags": {"type": "array", "items": {"enum": ["a", "bb", "\u00e9"]}, "maxItems": 3},
    "n": {"type": "integer", "minimum": -5, "maximum": 120},
    "child": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"x": {"type": "number"}}}]},
    "free": {"type": "string"}},
  "required": ["name", "n"]})";

const char* kUnicode = R"G(root ::= (word " ")* word "\n"?
word ::= [a-z\u00e0-\u00ff\u65e5-\u672c]{1,5} | "\"" [^"\\\n]* "\"" | [0-9]+ ("." [0-9]{1,3})?)G";

TEST(TokenMask, EqualsMatchingEachTokenAtEveryCutDepth) {
  const auto vocab = synthetic_vocab();
  const auto schema = from_schema(kSchema);
  const auto unicode = parsed(kUnicode);
  for (int depth : {1, 2, 4, 100}) {
    for (uint32_t seed = 1; seed <= 3; ++seed) {
      check_walk(schema, vocab, depth, 60, seed);
      check_walk(unicode, vocab, depth, 40, seed);
    }
  }
}

// A stack cut to its top frames can equal a whole stack (the start of a recursive rule): the remembered
// walk must serve both.
TEST(TokenMask, CutStacksThatEqualWholeOnes) {
  const auto vocab = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"(", ")", "x", "x)", "((", "))", "x))", "(x", "(x)", ")x"});
  const auto nested = parsed("root ::= \"(\" root \")\" | \"x\"\n");
  for (int depth : {1, 2, 4}) {
    for (uint32_t seed = 1; seed <= 8; ++seed) check_walk(nested, vocab, depth, 12, seed);
  }
}

TEST(TokenMask, EqualsMatchingEachTokenOverTheLlamaVocabulary) {
  const auto path = std::filesystem::path(CRIA_SOURCE_DIR) / "models/vocab/ggml-vocab-llama-spm.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "absent: " << path;
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = tokenizer::Tokenizer::load(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto pieces = std::make_shared<std::vector<std::string>>();
  for (int32_t id = 0; id < tok->n_vocab(); ++id) pieces->push_back(tok->token_to_piece(id, false));
  check_walk(from_schema(kSchema), pieces, TokenMasker::kDefaultDepth, 40, 11);
  check_walk(parsed(kUnicode), pieces, 2, 25, 12);
}

TEST(TokenMask, OneTriePerVocabulary) {
  const auto vocab = synthetic_vocab();
  EXPECT_EQ(TokenTrie::of(vocab), TokenTrie::of(vocab));
  EXPECT_NE(TokenTrie::of(vocab), TokenTrie::of(synthetic_vocab()));
}

}  // namespace
}  // namespace cria::grammar
