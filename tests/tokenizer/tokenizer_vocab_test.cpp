// Vocabulary loading from metadata (and its errors), SPM merging and byte fallback, special-token
// partitioning, detokenization rules and WordPiece normalization, on small vocabularies made here.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wpm.h"

namespace cria::tokenizer {
namespace {

using gguf::Array;
using gguf::Value;
using gguf::ValueType;

const std::string kSp = "\xe2\x96\x81";  // U+2581

template <class T>
Array array_of(ValueType type, std::vector<T> items) {
  Array a;
  a.element_type = type;
  a.items = std::move(items);
  return a;
}

// A small SPM vocabulary: <unk> <s> </s>, the 256 byte tokens, then a few pieces and specials.
struct SpmVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  SpmVocab() {
    add("<unk>", 0, 2);
    add("<s>", 0, 3);
    add("</s>", 0, 3);
    for (int b = 0; b < 256; ++b) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "<0x%02X>", b);
      add(hex, 0, 6);
    }
    add(kSp, -1, 1);            // 259
    add("a", -2, 1);            // 260
    add("b", -2, 1);            // 261
    add("ab", -1.5f, 1);        // 262
    add(kSp + "a", -1, 1);      // 263
    add(kSp + "ab", -0.5f, 1);  // 264
    add("<user>", 0, 4);        // 265
    add("<ctl>", 0, 3);         // 266
    add("<|im_end|>", 0, 1);    // 267: NORMAL in the file, found by its text as end-of-turn
  }
  void add(const std::string& t, float s, int32_t type) {
    tokens.push_back(t);
    scores.push_back(s);
    types.push_back(type);
  }
  int32_t id(const std::string& t) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == t) return int32_t(i);
    }
    return -1;
  }
  gguf::Writer writer() const {
    gguf::Writer w;
    w.set("general.architecture", Value(std::string("llama")));
    w.set("tokenizer.ggml.model", Value(std::string("llama")));
    w.set("tokenizer.ggml.tokens", Value(array_of(ValueType::STRING, tokens)));
    w.set("tokenizer.ggml.scores", Value(array_of(ValueType::FLOAT32, scores)));
    w.set("tokenizer.ggml.token_type", Value(array_of(ValueType::INT32, types)));
    w.set("tokenizer.ggml.bos_token_id", Value(uint32_t{1}));
    w.set("tokenizer.ggml.eos_token_id", Value(uint32_t{2}));
    return w;
  }
};

class TokenizerVocab : public ::testing::Test {
 protected:
  std::string path_ = (std::filesystem::temp_directory_path() /
                       ("cria_tok_" + std::to_string(std::random_device{}()) + ".gguf"))
                          .string();
  void TearDown() override { std::filesystem::remove(path_); }

  Result<Tokenizer> load(const gguf::Writer& w) {
    if (auto s = w.write(path_); !s) return s.error();
    auto file = gguf::File::open(path_);
    if (!file) return file.error();
    return Tokenizer::load(*file);
  }
  // Loads a modified vocabulary and returns its error message ("" when it loaded).
  std::string load_error(const std::function<void(gguf::Writer&)>& edit) {
    gguf::Writer w = SpmVocab().writer();
    edit(w);
    auto t = load(w);
    return t.ok() ? "" : t.error().message;
  }
};

TEST_F(TokenizerVocab, SpmMergesByScoreAndFallsBackToBytes) {
  const SpmVocab v;
  auto tok = load(v.writer());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->n_vocab(), int32_t(v.tokens.size()));
  EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{v.id(kSp + "ab")}));
  EXPECT_EQ(tok->encode("ab ab", false, false), (std::vector<int32_t>{v.id(kSp + "ab"), v.id(kSp + "ab")}));
  // "x" is no piece: the dummy-prefix space stays alone and "x" goes out as its byte.
  EXPECT_EQ(tok->encode("x", false, false), (std::vector<int32_t>{v.id(kSp), 3 + 'x'}));
  // Two-byte character, no piece: two byte tokens.
  EXPECT_EQ(tok->encode("\xc3\xa9", false, false), (std::vector<int32_t>{v.id(kSp), 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->encode("", true, false), (std::vector<int32_t>{1}));
  EXPECT_EQ(tok->encode("", false, false), (std::vector<int32_t>{}));
  EXPECT_EQ(tok->encode("a", true, false), (std::vector<int32_t>{1, v.id(kSp + "a")}));
}

TEST_F(TokenizerVocab, SpecialTokensArePartitionedFirst) {
  const SpmVocab v;
  auto tok = load(v.writer());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const int32_t user = v.id("<user>"), ctl = v.id("<ctl>");
  // USER_DEFINED tokens always match; the text after a special gets the dummy-prefix space again.
  EXPECT_EQ(tok->encode("a<user>b", false, false),
            (std::vector<int32_t>{v.id(kSp + "a"), user, v.id(kSp), v.id("b")}));
  // CONTROL tokens only with parse_special.
  const auto plain = tok->encode("a<ctl>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), ctl), 0);
  EXPECT_EQ(tok->encode("a<ctl>", false, true), (std::vector<int32_t>{v.id(kSp + "a"), ctl}));
  EXPECT_EQ(tok->encode("</s><s>", false, true), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(tok->encode("<s>", true, true), (std::vector<int32_t>{1, 1}));
}

TEST_F(TokenizerVocab, PiecesAndDetokenize) {
  const SpmVocab v;
  auto tok = load(v.writer());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->token_to_piece(v.id(kSp + "ab"), false), " ab");
  EXPECT_EQ(tok->token_to_piece(3 + 'A', false), "A");
  EXPECT_EQ(tok->token_to_piece(1, false), "");
  EXPECT_EQ(tok->token_to_piece(1, true), "<s>");
  EXPECT_EQ(tok->token_to_piece(v.id("<user>"), false), "<user>");
  EXPECT_EQ(tok->token_to_piece(-5, true), "");
  EXPECT_EQ(tok->token_to_piece(1 << 30, true), "");
  const int32_t ab = v.id(kSp + "ab");
  EXPECT_EQ(tok->decode({ab, ab}), "ab ab");  // the dummy prefix is removed once
  EXPECT_EQ(tok->decode({1, ab, 2}, false, true), "<s> ab</s>");
  EXPECT_EQ(tok->decode({1, ab, 2}, true, false), " ab");  // BOS removed: the space stays (llama.cpp)
  EXPECT_EQ(tok->decode({3 + 0xC3, 3 + 0xA9}), "\xc3\xa9");
}

TEST_F(TokenizerVocab, SpecialIdsDefaultsAndEndOfGeneration) {
  const SpmVocab v;
  auto tok = load(v.writer());
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_FALSE(tok->add_eos());
  EXPECT_TRUE(tok->is_eog(2));
  EXPECT_FALSE(tok->is_eog(1));
  // Found by its text: end of generation, and now CONTROL (so only matched with parse_special).
  const int32_t im_end = v.id("<|im_end|>");
  EXPECT_TRUE(tok->is_eog(im_end));
  EXPECT_EQ(tok->vocab().special.eot, im_end);
  EXPECT_EQ(tok->encode("<|im_end|>", false, true), (std::vector<int32_t>{im_end}));
  EXPECT_EQ(tok->token_to_piece(im_end, false), "");

  gguf::Writer w = v.writer();
  w.set("tokenizer.ggml.add_eos_token", Value(true));
  w.set("tokenizer.ggml.add_bos_token", Value(false));
  auto tok2 = load(w);
  ASSERT_TRUE(tok2.ok()) << tok2.error().message;
  EXPECT_EQ(tok2->encode("a", true, false), (std::vector<int32_t>{v.id(kSp + "a"), 2}));
}

TEST_F(TokenizerVocab, AddSpacePrefixOff) {
  const SpmVocab v;
  gguf::Writer w = v.writer();
  w.set("tokenizer.ggml.add_space_prefix", Value(false));
  auto tok = load(w);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{v.id("ab")}));
  EXPECT_EQ(tok->decode({v.id(kSp + "ab")}), " ab");
}

TEST_F(TokenizerVocab, MetadataErrorsNameFileAndKey) {
  auto expect_error = [&](const std::function<void(gguf::Writer&)>& edit, const std::string& key,
                          const std::string& what) {
    const std::string msg = load_error(edit);
    EXPECT_NE(msg.find(path_), std::string::npos) << msg;
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  };
  EXPECT_EQ(load_error([](gguf::Writer&) {}), "");
  expect_error([](gguf::Writer& w) { w.remove("tokenizer.ggml.model"); }, "tokenizer.ggml.model", "missing");
  expect_error([](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value(std::string("sentencepiece"))); },
               "tokenizer.ggml.model", "unknown tokenizer model 'sentencepiece'");
  expect_error([](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value(std::string("t5"))); },
               "tokenizer.ggml.model", "not supported");
  expect_error([](gguf::Writer& w) { w.remove("tokenizer.ggml.tokens"); }, "tokenizer.ggml.tokens",
               "missing");
  expect_error(
      [](gguf::Writer& w) {
        w.set("tokenizer.ggml.scores", Value(array_of(ValueType::FLOAT32, std::vector<float>{1})));
      },
      "tokenizer.ggml.scores", "has 1 entries");
  expect_error(
      [](gguf::Writer& w) {
        w.set("tokenizer.ggml.token_type", Value(array_of(ValueType::INT32, std::vector<int32_t>{1, 1})));
      },
      "tokenizer.ggml.token_type", "has 2 entries");
  expect_error([](gguf::Writer& w) { w.set("tokenizer.ggml.eos_token_id", Value(uint32_t{99999})); },
               "tokenizer.ggml.eos_token_id", "out of range");
  expect_error([](gguf::Writer& w) { w.set("tokenizer.ggml.bos_token_id", Value(int32_t{1})); },
               "tokenizer.ggml.bos_token_id", "UINT32");
  expect_error(
      [](gguf::Writer& w) {
        SpmVocab v;
        v.add("ab", 0, 1);
        w.set("tokenizer.ggml.tokens", Value(array_of(ValueType::STRING, v.tokens)));
        w.set("tokenizer.ggml.scores", Value(array_of(ValueType::FLOAT32, v.scores)));
        w.set("tokenizer.ggml.token_type", Value(array_of(ValueType::INT32, v.types)));
      },
      "tokenizer.ggml.tokens", "duplicate token 'ab'");
  expect_error([](gguf::Writer& w) { w.set("tokenizer.ggml.model", Value(std::string("gpt2"))); },
               "tokenizer.ggml.merges", "missing");
  expect_error(
      [](gguf::Writer& w) {
        w.set("tokenizer.ggml.model", Value(std::string("gpt2")));
        w.set("tokenizer.ggml.pre", Value(std::string("no-such-pre")));
      },
      "tokenizer.ggml.pre", "unknown pre-tokenizer 'no-such-pre'");
  // A padding id past the end is ignored, as llama.cpp does (converters write such files).
  EXPECT_EQ(
      load_error([](gguf::Writer& w) { w.set("tokenizer.ggml.padding_token_id", Value(uint32_t{99999})); }),
      "");
}

TEST(TokenizerDetokenize, CleanUpSpaces) {
  auto clean = [](std::string s) {
    clean_up_spaces(s);
    return s;
  };
  EXPECT_EQ(clean("Hello , world !"), "Hello, world!");
  EXPECT_EQ(clean("a . b ?"), "a. b?");
  EXPECT_EQ(clean("rock ' n roll"), "rock'n roll");
  EXPECT_EQ(clean("a ' ' b"), "a'' b");
  EXPECT_EQ(clean("it 's I 'm we 're you 've"), "it's I'm we're you've");
  EXPECT_EQ(clean("don 't I 'd we 'll"), "don 't I 'd we 'll");
  EXPECT_EQ(clean(" ."), ".");
  EXPECT_EQ(clean(""), "");
}

TEST(TokenizerWordPiece, NormalizesAndSplits) {
  EXPECT_EQ(wpm_words("H\xc3\xa9llo, WORLD!"), (std::vector<std::string>{"hello", ",", "world", "!"}));
  EXPECT_EQ(wpm_words("  a\tb\n"), (std::vector<std::string>{"a", "b"}));
  // CJK ideographs stand alone; ASCII symbols split; control characters vanish without splitting.
  EXPECT_EQ(wpm_words("x\xe6\x88\x91y$z\x01w"),
            (std::vector<std::string>{"x", "\xe6\x88\x91", "y", "$", "zw"}));
  // Decomposed accent: the combining mark is dropped.
  EXPECT_EQ(wpm_words("e\xcc\x81t\xc3\xa9"), (std::vector<std::string>{"ete"}));
}

}  // namespace
}  // namespace cria::tokenizer
