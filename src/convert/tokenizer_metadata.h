// The tokenizer.* keys a converter writes (FORMATS.md 6.1), gathered from a checkpoint's tokenizer
// files the way llama.cpp's converters do, then written in their order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_writer.h"

namespace cria::convert {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct TokenizerMetadata {
  std::string model;  // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string pre;
  std::vector<std::string> tokens;
  std::vector<float> scores;  // SentencePiece only
  std::vector<int32_t> types;
  std::vector<std::string> merges;  // BPE only
  std::vector<std::pair<std::string, uint32_t>> special_ids;  // ("bos", 1): tokenizer.ggml.bos_token_id
  std::vector<std::pair<std::string, bool>> add_special;      // ("bos", true): tokenizer.ggml.add_bos_token
  std::optional<std::string> chat_template;

  void write_to(gguf::Writer& writer) const;
};

// Hugging Face layout: tokenizer.model (SentencePiece) if present, otherwise tokenizer.json (BPE); special
// tokens and the chat template from tokenizer_config.json, config.json and generation_config.json.
// `vocab_size` is config.json's (0: the tokenizer's own size).
Result<TokenizerMetadata> read_hf_tokenizer(const std::filesystem::path& dir, uint32_t vocab_size);

// Meta layout: tokenizer.model alone; BOS/EOS come from the model's trainer spec, as Meta's own
// tokenizer.py reads them, and BOS is added, EOS not, as Meta's generation code does.
Result<TokenizerMetadata> read_meta_tokenizer(const std::filesystem::path& dir, uint32_t vocab_size);

}  // namespace cria::convert
