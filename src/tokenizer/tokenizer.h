// The tokenizer a model runner uses: built from a GGUF file's `tokenizer.ggml.*` metadata, it turns
// text into token ids exactly as llama.cpp does (SPM, byte-level BPE or WordPiece) and ids back into text.
// Cheap to copy (shared, immutable state); every method is safe to call from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/vocab.h"

namespace cria::tokenizer {

class Tokenizer {
 public:
  static Result<Tokenizer> load(const gguf::File& file);

  // Text to ids. `add_special` adds BOS/EOS as the vocabulary asks (WordPiece: [CLS] ... [SEP]);
  // `parse_special` lets control tokens written in the text (e.g. "</s>") become their ids.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes of one token; CONTROL/UNKNOWN tokens are empty unless `special`.
  std::string token_to_piece(int32_t id, bool special) const;

  // Ids to text (llama.cpp's detokenize): `remove_special` drops a leading BOS and trailing EOS the
  // vocabulary adds; `unparse_special` renders control tokens as their text.
  std::string decode(const std::vector<int32_t>& ids, bool remove_special = false,
                     bool unparse_special = false) const;

  int32_t n_vocab() const;
  int32_t bos() const;  // kNoToken (-1) when there is none
  int32_t eos() const;
  bool add_bos() const;
  bool add_eos() const;
  bool is_eog(int32_t id) const;

  const Vocab& vocab() const;

 private:
  Tokenizer() = default;
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace cria::tokenizer
