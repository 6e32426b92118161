// WordPiece (BERT, FORMATS.md 6.7): normalize (first code point of NFD, drop marks and control
// characters, lower-case), split on whitespace and around punctuation, symbols and CJK ideographs, then
// match each word ("▁" + word) greedily longest-first; a word with an unmatched position becomes [UNK].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace cria::tokenizer {

// The normalized words of a text (exposed for tests).
std::vector<std::string> wpm_words(std::string_view text);

// Appends the ids of one raw-text fragment.
void wpm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace cria::tokenizer
