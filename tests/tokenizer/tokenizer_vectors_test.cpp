// The llama.cpp test vectors (FORMATS.md 6.8): every .inp/.out pair in ../shared/fixtures/vocab must give
// the exact ids (no BOS/EOS, parse_special off), and lossless vocabularies must give the text back.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "test_support.h"
#include "tokenizer/detokenize.h"
#include "tokenizer/tokenizer.h"

namespace cria::tokenizer {
namespace {

struct Vectors {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> expected;
};

Vectors read_vectors(const std::filesystem::path& gguf) {
  Vectors v;
  const std::string inp = test::read_file(gguf.string() + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inp.size();) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    v.inputs.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream out(test::read_file(gguf.string() + ".out"));
  std::string line;
  while (v.expected.size() < v.inputs.size() && std::getline(out, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ls >> id) ids.push_back(id);
    v.expected.push_back(ids);
  }
  return v;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

class TokenizerVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerVectors, MatchLlamaCpp) {
  const auto path =
      test::shared_dir() / "fixtures" / "vocab" / (std::string("ggml-vocab-") + GetParam() + ".gguf");
  CRIA_REQUIRE_FIXTURE(path);
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::load(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const Vectors v = read_vectors(path);
  ASSERT_EQ(v.inputs.size(), 46u);
  ASSERT_EQ(v.expected.size(), v.inputs.size());
  size_t passed = 0;
  for (size_t i = 0; i < v.inputs.size(); ++i) {
    const auto ids = tok->encode(v.inputs[i], false, false);
    if (ids == v.expected[i]) {
      ++passed;
    } else {
      ADD_FAILURE() << GetParam() << " vector " << i << " '" << v.inputs[i]
                    << "'\n  expected:" << show(v.expected[i]) << "\n  got:     " << show(ids);
    }
  }
  std::printf("[ vectors  ] %s: %zu/%zu pass\n", GetParam(), passed, v.inputs.size());
}

INSTANTIATE_TEST_SUITE_P(TokenizerFixtures, TokenizerVectors,
                         ::testing::Values("bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                           "llama-spm", "llama3", "mpt", "phi-3", "qwen3", "refact", "starcoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

// Byte-level BPE and SPM lose nothing: the pieces give the text back. llama.cpp's detokenize also
// applies "clean up spaces" for vocabularies that ask for it (" ?" -> "?"); that is checked separately.
class TokenizerRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerRoundTrip, DecodeGivesTextBack) {
  const auto path =
      test::shared_dir() / "fixtures" / "vocab" / (std::string("ggml-vocab-") + GetParam() + ".gguf");
  CRIA_REQUIRE_FIXTURE(path);
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = Tokenizer::load(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  for (const std::string& text : read_vectors(path).inputs) {
    const auto ids = tok->encode(text, false, false);
    std::string expected = text;
    if (tok->vocab().clean_spaces) clean_up_spaces(expected);
    EXPECT_EQ(tok->decode(ids), expected) << GetParam();
    // With BOS added and removed again: as in llama.cpp, dropping BOS keeps the SPM dummy-prefix space.
    const auto with_bos = tok->encode(text, true, false);
    const bool keeps_prefix = tok->vocab().add_space_prefix && tok->add_bos() && !text.empty();
    EXPECT_EQ(tok->decode(with_bos, true, false), (keeps_prefix ? " " : "") + expected) << GetParam();
    std::string joined;
    for (int32_t id : ids) joined += tok->token_to_piece(id, false);
    if (tok->vocab().add_space_prefix && !joined.empty() && joined[0] == ' ') joined.erase(0, 1);
    EXPECT_EQ(joined, text) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(TokenizerLossless, TokenizerRoundTrip,
                         ::testing::Values("deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm",
                                           "llama3", "mpt", "phi-3", "qwen3", "refact", "starcoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

}  // namespace
}  // namespace cria::tokenizer
