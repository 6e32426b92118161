#include "tokenizer/detokenize.h"

#include <cstdio>

#include "tokenizer/bpe.h"
#include "tokenizer/unicode.h"

namespace cria::tokenizer {

namespace {

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581

void append_unescaped(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out.push_back(' ');
      i += kSpaceMark.size();
    } else {
      out.push_back(text[i++]);
    }
  }
}

// BPE vocabulary strings back to raw bytes through the inverse GPT-2 byte map.
void append_byte_decoded(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = decode_utf8(text, i);
    const int b = codepoint_to_byte(cp);
    if (b >= 0) {
      out.push_back(char(b));
      continue;
    }
    // As llama.cpp writes it: the character's UTF-8 bytes in hex, then the whole token text.
    std::string enc;
    append_utf8(enc, cp);
    out += "[UNK_BYTE_0x";
    for (unsigned char c : enc) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%02x", c);
      out += hex;
    }
    out.append(text);
    out += "]";
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void append_piece(const Vocab& vocab, int32_t id, bool special, int lstrip, std::string& out) {
  if (!vocab.valid(id)) return;
  const uint32_t a = vocab.attrs[id];
  if (!special && (a & (attr::kControl | attr::kUnknown))) return;
  const size_t start = out.size();
  const std::string& text = vocab.texts[id];
  if (a & (attr::kControl | attr::kUnknown | attr::kUserDefined)) {
    out += text;
  } else if (a & attr::kNormal) {
    if (vocab.type == VocabType::Bpe) {
      append_byte_decoded(text, out);
    } else {
      append_unescaped(text, out);
    }
  } else if ((a & attr::kByte) && vocab.type != VocabType::Wpm) {
    // <0xXX>: the two hex digits at positions 3-4 (parsed leniently, as strtol would).
    int v = 0;
    for (size_t i = 3; i < 5 && i < text.size() && hex_digit(text[i]) >= 0; ++i)
      v = v * 16 + hex_digit(text[i]);
    out.push_back(char(v));
  }
  if (lstrip > 0) {
    size_t n = 0;
    while (n < size_t(lstrip) && start + n < out.size() && out[start + n] == ' ') ++n;
    out.erase(start, n);
  }
}

void clean_up_spaces(std::string& t) {
  // " ?", " !", " .", " ,": drop the space.
  std::string a;
  a.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const char x = t[i];
    if (i > 0 && t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') && !a.empty())
      a.pop_back();
    a.push_back(x);
  }
  // " ' ": a lone apostrophe loses both spaces. The space after it is consumed, so it cannot also serve
  // as the space before a following apostrophe (the reference overwrites it in place).
  std::string b;
  b.reserve(a.size());
  bool prev_consumed = false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i];
    if (x == '\'' && i > 0 && i + 1 < a.size() && a[i - 1] == ' ' && !prev_consumed && a[i + 1] == ' ') {
      if (!b.empty()) b.pop_back();
      b.push_back(x);
      ++i;  // skip the space after
      prev_consumed = true;
      continue;
    }
    prev_consumed = false;
    b.push_back(x);
  }
  // " 's", " 'm", " 're", " 've": drop the space (kept before 't, 'd, 'll).
  std::string c;
  c.reserve(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const char x = b[i];
    if (i > 0 && b[i - 1] == ' ' && x == '\'' && i + 1 < b.size()) {
      const char x1 = b[i + 1];
      const bool drop =
          x1 == 's' || x1 == 'm' ||
          (i + 2 < b.size() && ((x1 == 'r' && b[i + 2] == 'e') || (x1 == 'v' && b[i + 2] == 'e')));
      if (drop && !c.empty()) c.pop_back();
    }
    c.push_back(x);
  }
  t.swap(c);
}

std::string detokenize(const Vocab& vocab, const std::vector<int32_t>& ids, bool remove_special,
                       bool unparse_special) {
  size_t first = 0, last = ids.size();
  bool remove_space = vocab.add_space_prefix;
  if (remove_special && vocab.add_bos && last > first && ids[first] == vocab.special.bos) {
    remove_space = false;
    ++first;
  }
  if (remove_special && vocab.add_eos && last > first && ids[last - 1] == vocab.special.eos) --last;
  std::string out;
  for (size_t i = first; i < last; ++i) {
    append_piece(vocab, ids[i], unparse_special, remove_space ? 1 : 0, out);
    remove_space = false;
  }
  if (vocab.clean_spaces) clean_up_spaces(out);
  return out;
}

}  // namespace cria::tokenizer
