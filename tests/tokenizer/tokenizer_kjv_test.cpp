// The KJV model's own SentencePiece tokenizer (from its GGUF file). Expected ids were produced with
// the sentencepiece library from the model's tokenizer.model (hf/), which agrees with llama.cpp's SPM here.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::tokenizer {
namespace {

class TokenizerKjv : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto path = test::kjv_gguf_dir() / "kjv-F32.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture absent: " << path;
    auto file = gguf::File::open(path.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto tok = Tokenizer::load(*file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    tok_.emplace(std::move(*tok));
  }
  std::optional<Tokenizer> tok_;
};

TEST_F(TokenizerKjv, MatchesSentencePiece) {
  const Tokenizer& t = *tok_;
  EXPECT_EQ(t.n_vocab(), 4096);
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
  EXPECT_TRUE(t.is_eog(2));
  // "▁In ▁the ▁beginning ▁God ▁created": one token per word, BOS first.
  EXPECT_EQ(t.encode("In the beginning God created", true, true),
            (std::vector<int32_t>{1, 1032, 261, 2229, 393, 3388}));
  EXPECT_EQ(t.token_to_piece(2229, false), " beginning");
  EXPECT_EQ(t.encode("Hello world 123!\n\tTabs and\nnewlines", false, false),
            (std::vector<int32_t>{417, 581,  4042, 1245, 4037, 52, 53,  54,   4092, 13,
                                  12,  4069, 474,  4044, 270,  13, 816, 4053, 4048, 1152}));
  EXPECT_EQ(t.encode("Z\xc3\xbcrich caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", false, false),
            (std::vector<int32_t>{654, 198, 191, 361, 328, 473, 4050, 198, 172, 4037, 233, 154, 168, 233, 159,
                                  175}));
  EXPECT_EQ(t.encode("  two  spaces  ", false, false),
            (std::vector<int32_t>{4037, 4037, 699, 4037, 425, 1258, 4037, 4037}));
  EXPECT_EQ(t.encode(" leading space", false, false), (std::vector<int32_t>{4037, 2388, 294, 425, 1907}));
}

TEST_F(TokenizerKjv, HeldOutTextMatchesAndRoundTrips) {
  const auto path = test::shared_dir() / "fixtures" / "models" / "kjv" / "reference" / "heldout-visible.txt";
  CRIA_REQUIRE_FIXTURE(path);
  const std::string text = test::read_file(path);
  const auto ids = tok_->encode(text, false, false);
  // Count and a position-weighted checksum of sentencepiece's ids for the same text.
  ASSERT_EQ(ids.size(), 9994u);
  uint64_t sum = 0;
  for (size_t i = 0; i < ids.size(); ++i) sum = (sum + (i + 1) * uint64_t(ids[i])) % 1000000007u;
  EXPECT_EQ(sum, 943418741u);
  EXPECT_EQ(tok_->decode(ids), text);
}

TEST_F(TokenizerKjv, ReferenceOutputsRoundTrip) {
  const auto path =
      test::shared_dir() / "fixtures" / "models" / "kjv" / "reference" / "llama_cpp_outputs.json";
  CRIA_REQUIRE_FIXTURE(path);
  const auto j = nlohmann::json::parse(test::read_file(path));
  size_t checked = 0;
  for (const auto& [file, entry] : j.items()) {
    for (const auto& [prompt, output] : entry["greedy"].items()) {
      const std::string out = output.get<std::string>();
      for (const std::string& text : std::vector<std::string>{prompt, out, prompt + out}) {
        const auto ids = tok_->encode(text, true, true);
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids[0], 1);
        EXPECT_EQ(tok_->decode(ids, true, false), " " + text);  // BOS removed keeps the dummy prefix
        EXPECT_EQ(tok_->decode(std::vector<int32_t>(ids.begin() + 1, ids.end())), text);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100u);
}

}  // namespace
}  // namespace cria::tokenizer
