// BPE pre-tokenization (FORMATS.md 6.4): each pre-tokenizer is a list of regexes applied in sequence;
// every regex re-splits each current chunk into its matches and the gaps between them. PCRE2 runs them
// (UTF + UCP mode, JIT), so \p{L}, \p{N}, \s follow Unicode as the reference tokenizers do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "tokenizer/vocab.h"

namespace cria::tokenizer {

// The result of splitting: `text` is the input with invalid UTF-8 replaced by U+FFFD (as llama.cpp
// does before splitting), and each word is a byte range of it.
struct PreTokenized {
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> words;  // [begin, end)
  std::string_view word(size_t i) const {
    return std::string_view(text).substr(words[i].first, words[i].second - words[i].first);
  }
};

class PreTokenizer {
 public:
  static Result<PreTokenizer> create(PreType type);

  // Safe to call from several threads at once.
  void split(std::string_view text, PreTokenized& out) const;

  // The regexes of a pre-tokenizer, in PCRE2 syntax.
  static std::vector<std::string_view> patterns(PreType type);

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace cria::tokenizer
