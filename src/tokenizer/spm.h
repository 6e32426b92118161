// SentencePiece-style tokenization (FORMATS.md 6.3): symbols are UTF-8 characters; the adjacent pair
// whose concatenation is the highest-scoring vocabulary string merges first; leftovers fall back to
// <0xXX> byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace cria::tokenizer {

class SpmTokenizer {
 public:
  explicit SpmTokenizer(const Vocab& vocab);

  // Appends the ids of one raw-text fragment whose spaces are already U+2581.
  void encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const;

 private:
  void encode_segment(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const;

  // Byte fallback: <0xXX>, else the one-byte string, else <unk> (llama.cpp would fail on such a vocab).
  std::array<int32_t, 256> byte_token_{};
  // True when every token is a run of U+2581 followed by text without U+2581. Then no merge can cross
  // from a symbol other than U+2581 into a following U+2581, so the text splits there into words that
  // merge independently (the same result, in linear time, and repeated words are computed once).
  bool split_words_ = false;
};

}  // namespace cria::tokenizer
