// Tokenizer metadata from Hugging Face files, on small hand-written inputs whose expected keys follow
// llama.cpp's documented rules (FORMATS.md 6.1): SentencePiece flags map to token types, added tokens
// are CONTROL when special and USER_DEFINED otherwise (score -1000), byte-level BPE writes no scores.
#include <gtest/gtest.h>

#include "convert/sentencepiece_model.h"
#include "convert/tokenizer_metadata.h"
#include "convert_test_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;
using convert::TokenizerMetadata;

constexpr const char* kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

nlohmann::json bpe_tokenizer_json(const std::string& split_regex) {
  nlohmann::json pre = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", split_regex}}}, {"behavior", "Isolated"}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  return {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}, {"\xc4\xa0", 3}}}, {"merges", {"a b"}}}},
          {"added_tokens",
           {{{"id", 4}, {"content", "<|begin|>"}, {"special", true}},
            {{"id", 5}, {"content", "<|end|>"}, {"special", false}},
            {{"id", 6}, {"content", "hello"}, {"special", false}}}},
          {"pre_tokenizer", pre}};
}

TEST(TokenizerFiles, ByteLevelBpeFromTokenizerJson) {
  ScratchDir dir("bpe");
  write_bytes(dir / "tokenizer.json", bpe_tokenizer_json(kLlama3Split).dump());
  write_bytes(dir / "tokenizer_config.json",
              R"({"bos_token": "<|begin|>", "eos_token": {"content": "<|end|>"}, "add_bos_token": true,
                  "chat_template": "{{ messages }}"})");
  write_bytes(dir / "config.json", R"({"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 6})");
  auto m = convert::read_hf_tokenizer(dir.path(), 8);  // config says 8: id 7 is padding
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->model, "gpt2");
  EXPECT_EQ(m->pre, "llama-bpe");
  EXPECT_EQ(m->tokens, (std::vector<std::string>{"a", "b", "ab", "\xc4\xa0", "<|begin|>", "<|end|>", "hello", "[PAD7]"}));
  // <|end|> is not marked special but looks like a control token, as llama.cpp treats it.
  EXPECT_EQ(m->types, (std::vector<int32_t>{1, 1, 1, 1, 3, 3, 4, 5}));
  EXPECT_TRUE(m->scores.empty());
  EXPECT_EQ(m->merges, (std::vector<std::string>{"a b"}));
  // Ids matched by text in tokenizer.json win over config.json's; config.json fills the rest.
  EXPECT_EQ(m->special_ids, (std::vector<std::pair<std::string, uint32_t>>{{"bos", 4}, {"eos", 5}, {"pad", 6}}));
  EXPECT_EQ(m->add_special, (std::vector<std::pair<std::string, bool>>{{"bos", true}}));
  EXPECT_EQ(m->chat_template, "{{ messages }}");
}

TEST(TokenizerFiles, UnknownPreTokenizerIsRefusedByName) {
  ScratchDir dir("bpe_unknown");
  write_bytes(dir / "tokenizer.json", bpe_tokenizer_json("\\p{L}+").dump());
  auto m = convert::read_hf_tokenizer(dir.path(), 0);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("'\\p{L}+' is not one cria recognizes"), std::string::npos) << m.error().message;
}

TEST(TokenizerFiles, AddedTokensOverrideSentencePiecePieces) {
  const fs::path spm = kjv_checkpoint("hf") / "tokenizer.model";
  CRIA_REQUIRE_FIXTURE(spm);
  ScratchDir dir("spm_added");
  fs::create_symlink(spm, dir / "tokenizer.model");
  write_bytes(dir / "tokenizer_config.json", R"({"added_tokens_decoder": {
      "0": {"content": "<unk>", "special": true},
      "4096": {"content": "<|im_start|>", "special": false},
      "4097": {"content": "my\u2581word", "special": false}}})");
  auto m = convert::read_hf_tokenizer(dir.path(), 4100);
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->tokens.size(), 4100u);
  EXPECT_EQ(m->types[0], 3);  // was UNKNOWN, now CONTROL
  EXPECT_EQ(m->scores[0], -1000.0f);
  EXPECT_EQ(m->tokens[4096], "<|im_start|>");
  EXPECT_EQ(m->types[4096], 3);
  EXPECT_EQ(m->tokens[4097], "my word");  // user-defined tokens get real spaces
  EXPECT_EQ(m->types[4097], 4);
  EXPECT_EQ(m->tokens[4098], "[PAD4098]");
  EXPECT_EQ(m->types[4098], 5);
  EXPECT_EQ(m->scores[4098], -10000.0f);
}

TEST(TokenizerFiles, SentencePieceModelFieldsAndMalformedBytes) {
  const fs::path spm = kjv_checkpoint("hf") / "tokenizer.model";
  CRIA_REQUIRE_FIXTURE(spm);
  auto model = convert::read_sentencepiece_model(spm.string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  // The fixture README: SentencePiece BPE, vocab 4096, byte fallback, dummy prefix, unk 0, bos 1, eos 2,
  // ids 3..258 are <0x00>..<0xFF>.
  EXPECT_EQ(model->pieces.size(), 4096u);
  EXPECT_EQ(model->model_type, 2);
  EXPECT_TRUE(model->byte_fallback);
  EXPECT_TRUE(model->add_dummy_prefix);
  EXPECT_EQ(model->unk_id, 0);
  EXPECT_EQ(model->bos_id, 1);
  EXPECT_EQ(model->eos_id, 2);
  EXPECT_EQ(model->pieces[3].text, "<0x00>");
  EXPECT_EQ(model->pieces[258].text, "<0xFF>");
  EXPECT_EQ(model->pieces[258].type, convert::SpmPieceType::BYTE);

  const std::string bytes = read_file(spm);
  for (const std::string& bad : {std::string("\x0a\xff\xff\xff\xff\x0f", 6), std::string("\x0b", 1), bytes.substr(0, 3)}) {
    auto r = convert::parse_sentencepiece_model(bad, "bad.model");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("bad.model"), std::string::npos);
  }
}

}  // namespace
}  // namespace cria::test
