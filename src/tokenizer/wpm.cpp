#include "tokenizer/wpm.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace cria::tokenizer {

namespace {

bool is_cjk_ideograph(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) ||
         (cp >= 0x2B920 && cp <= 0x2CEAF) ||  // sic: Hugging Face's range starts at 0x2B920
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Calls `word(std::string_view)` for each normalized word.
template <class F>
void for_each_word(std::string_view text, F&& word) {
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) word(std::string_view(cur));
    cur.clear();
  };
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = nfd_first(decode_utf8(text, i));
    if (is_whitespace(cp)) {
      flush();
      continue;
    }
    const uint32_t flags = cpt_flags(cp);
    if (cp == 0 || cp == kReplacementChar || (flags & (cpt_flag::kControl | cpt_flag::kMark)) != 0) continue;
    const uint32_t lower = to_lower(cp);
    if ((flags & cpt_flag::kPunct) || (cp < 0x7F && (flags & cpt_flag::kSymbol)) || is_cjk_ideograph(cp)) {
      flush();
      append_utf8(cur, lower);
      flush();
    } else {
      append_utf8(cur, lower);
    }
  }
  flush();
}

}  // namespace

std::vector<std::string> wpm_words(std::string_view text) {
  std::vector<std::string> words;
  for_each_word(text, [&](std::string_view w) { words.emplace_back(w); });
  return words;
}

void wpm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  std::string word;
  for_each_word(text, [&](std::string_view w) {
    word.assign("\xe2\x96\x81");  // the GGUF vocabulary marks word starts with U+2581
    word.append(w);
    const size_t n = word.size();
    const size_t start = out.size();
    for (size_t i = 0; i < n;) {
      size_t matched = 0;
      for (size_t j = std::min(n, i + vocab.max_token_len + 1); j > i; --j) {
        if (const int32_t id = vocab.find(std::string_view(word).substr(i, j - i)); id != kNoToken) {
          out.push_back(id);
          matched = j;
          break;
        }
      }
      if (matched == 0) {
        out.resize(start);
        break;
      }
      i = matched;
    }
    if (out.size() == start) out.push_back(vocab.special.unk);
  });
}

}  // namespace cria::tokenizer
