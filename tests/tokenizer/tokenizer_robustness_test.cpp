// Hostile input never crashes or hangs: random bytes (mostly invalid UTF-8), long runs of one character
// and special-token look-alikes, on every vocabulary in the fixtures; and time stays linear.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "test_support.h"
#include "tokenizer/bpe_pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace cria::tokenizer {
namespace {

// Time limits only mean something in an optimized build; sanitizer builds run smaller inputs untimed.
#ifdef NDEBUG
constexpr size_t kScale = 1;
constexpr double kTimeFactor = 1.0;
#else
constexpr size_t kScale = 8;
constexpr double kTimeFactor = 1e9;
#endif

std::vector<std::filesystem::path> tokenizer_files() {
  auto files = test::gguf_files_under(test::shared_dir() / "fixtures" / "vocab");
  const auto kjv = test::kjv_gguf_dir() / "kjv-F32.gguf";
  if (std::filesystem::exists(kjv)) files.push_back(kjv);
  return files;
}

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  std::uniform_int_distribution<int> byte(0, 255);
  for (char& c : s) c = char(byte(rng));
  return s;
}

// Random text that mixes ASCII, multi-byte characters, broken sequences and special-token texts.
std::string random_mix(std::mt19937& rng, size_t n) {
  static const std::vector<std::string> parts = {"a",
                                                 "Z",
                                                 " ",
                                                 "  ",
                                                 "\n",
                                                 "\t",
                                                 "\r\n",
                                                 "1",
                                                 "123",
                                                 ".",
                                                 "'s",
                                                 "'ll",
                                                 "!",
                                                 "\xc3\xa9",
                                                 "\xe4\xb8\xad",
                                                 "\xf0\x9f\x98\x81",
                                                 "\xe2\x96\x81",
                                                 "\xc3",
                                                 "\x80",
                                                 "\xff",
                                                 "\xed\xa0\x80",
                                                 "\xf4\x90\x80\x80",
                                                 "\xc0\x80",
                                                 "<s>",
                                                 "</s>",
                                                 "<unk>",
                                                 "<|endoftext|>",
                                                 "[CLS]",
                                                 "[SEP]",
                                                 "<0x0A>",
                                                 "\xe0\xb8\x81",
                                                 "\xd9\x85",
                                                 "\0"};
  std::uniform_int_distribution<size_t> pick(0, parts.size() - 1);
  std::string s;
  while (s.size() < n) s += parts[pick(rng)];
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class TokenizerRobustness : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(TokenizerRobustness, RandomBytesAndLongRuns) {
  auto file = gguf::File::open(GetParam().string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::load(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const int32_t n_vocab = tok->n_vocab();
  auto check = [&](const std::string& text, bool add_special, bool parse_special) {
    const auto ids = tok->encode(text, add_special, parse_special);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < n_vocab) << id;
    (void)tok->decode(ids, true, true);
    for (size_t i = 0; i < ids.size() && i < 64; ++i) (void)tok->token_to_piece(ids[i], true);
  };

  std::mt19937 rng(1234);
  for (int i = 0; i < 40; ++i) {
    check(random_bytes(rng, 1 + rng() % 300), i % 2 == 0, i % 3 == 0);
    check(random_mix(rng, 1 + rng() % 400), i % 2 == 1, i % 3 != 0);
  }

  // Long runs of one character: must stay well below quadratic time.
  const std::vector<std::string> units = {
      " ", "a", "\n", "1", ".", "\t", "\xc3\xa9", "\xe4\xb8\xad", "\xff", "\xe2\x96\x81", "'", "ab ", "<s>"};
  for (const std::string& u : units) {
    std::string text;
    while (text.size() < 64 * 1024 / kScale) text += u;
    const auto t0 = std::chrono::steady_clock::now();
    check(text, true, true);
    EXPECT_LT(seconds_since(t0), 5.0 * kTimeFactor) << "run of '" << u << "' on " << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(TokenizerFixtures, TokenizerRobustness, ::testing::ValuesIn(tokenizer_files()),
                         [](const auto& info) {
                           std::string n = info.param.stem().string();
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TokenizerRobustness);

// One megabyte, as text and as runs of one character, stays far from quadratic time on SPM, BPE and WPM.
TEST(TokenizerLargeInput, OneMegabyteIsFast) {
  for (const char* name : {"llama-spm", "gpt-2", "deepseek-llm", "bert-bge"}) {
    const auto path =
        test::shared_dir() / "fixtures" / "vocab" / (std::string("ggml-vocab-") + name + ".gguf");
    if (!std::filesystem::exists(path)) continue;
    auto file = gguf::File::open(path.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto tok = Tokenizer::load(*file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    std::mt19937 rng(99);
    const size_t n = (1u << 20) / kScale;
    const std::vector<std::string> inputs = {random_mix(rng, n), std::string(n, ' '), std::string(n, 'a'),
                                             std::string(n, '\n')};
    for (const std::string& text : inputs) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto ids = tok->encode(text, false, true);
      const double s = seconds_since(t0);
      EXPECT_LT(s, 10.0 * kTimeFactor) << name;
      std::printf("[ %zu KB ] %s: %.3f s, %zu tokens\n", n / 1024, name, s, ids.size());
      if (text[0] != ' ' && text[0] != '\n') {
        EXPECT_FALSE(ids.empty());
      }
    }
  }
}

// Every pre-tokenizer compiles and, on long runs, splits in roughly linear time without losing a byte.
TEST(TokenizerPreTokenizer, EveryTypeIsLinearAndLossless) {
  const PreType all[] = {PreType::Default,      PreType::Llama3, PreType::DeepseekLlm, PreType::DeepseekCoder,
                         PreType::Deepseek3Llm, PreType::Falcon, PreType::Starcoder,   PreType::Gpt2,
                         PreType::Qwen2,        PreType::Poro,   PreType::Viking,      PreType::Tekken,
                         PreType::Chameleon};
  const std::vector<std::string> units = {
      " ", "a", "A", "\n", " \n", "1", ".", "\xc3\xa9", "\xe4\xb8\xad", "aB", "' ", "\t ", "  a"};
  for (PreType type : all) {
    auto pre = PreTokenizer::create(type);
    ASSERT_TRUE(pre.ok()) << pre.error().message;
    PreTokenized out;
    for (const std::string& u : units) {
      std::string text;
      while (text.size() < 256 * 1024 / kScale) text += u;
      const auto t0 = std::chrono::steady_clock::now();
      pre->split(text, out);
      EXPECT_LT(seconds_since(t0), 2.0 * kTimeFactor) << "type " << int(type) << " run of '" << u << "'";
      std::string joined;
      for (size_t i = 0; i < out.words.size(); ++i) joined += out.word(i);
      EXPECT_EQ(joined, text) << "type " << int(type);
    }
  }
}

}  // namespace
}  // namespace cria::tokenizer
