// Token to text (FORMATS.md 6.6): the piece of one token, and the joined text of a sequence with the
// dummy-prefix and clean-up-spaces rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/vocab.h"

namespace cria::tokenizer {

// The bytes of one token. CONTROL and UNKNOWN tokens are empty unless `special`; `lstrip` removes up to
// that many leading spaces. Ids outside the vocabulary give an empty piece.
void append_piece(const Vocab& vocab, int32_t id, bool special, int lstrip, std::string& out);

// Joins pieces: drops a leading BOS / trailing EOS when `remove_special`, strips the SPM dummy-prefix
// space from the first piece, and applies the clean-up rules when the vocabulary asks for them.
std::string detokenize(const Vocab& vocab, const std::vector<int32_t>& ids, bool remove_special,
                       bool unparse_special);

// The clean-up-spaces passes on their own (" ." -> ".", " ' " -> "'", " 's" -> "'s", ...).
void clean_up_spaces(std::string& text);

}  // namespace cria::tokenizer
