#include "tokenizer/spm.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>

#include "tokenizer/unicode.h"

namespace cria::tokenizer {

namespace {

constexpr std::string_view kMark = "\xe2\x96\x81";  // U+2581, SPM's space

struct Symbol {
  int32_t prev, next;
  uint32_t start, len;  // bytes of the text; len 0 once merged into the left neighbour
};

struct Candidate {
  float score;
  int32_t left, right;
  uint32_t size;
};

// Max-heap order: higher score first, then leftmost.
bool later(const Candidate& a, const Candidate& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

}  // namespace

SpmTokenizer::SpmTokenizer(const Vocab& vocab) {
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = vocab.find(hex);
    if (id == kNoToken) id = vocab.find(std::string(1, char(b)));
    if (id == kNoToken) id = vocab.special.unk;
    byte_token_[b] = id;
  }
  split_words_ = true;
  for (const std::string& t : vocab.texts) {
    std::string_view rest(t);
    while (rest.substr(0, kMark.size()) == kMark) rest.remove_prefix(kMark.size());
    if (rest.find(kMark) != std::string_view::npos) {
      split_words_ = false;
      break;
    }
  }
}

void SpmTokenizer::encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) const {
  if (!split_words_ || text.size() > UINT32_MAX) {
    encode_segment(vocab, text, out);
    return;
  }
  // Words start at a U+2581 symbol that follows a symbol other than U+2581 (symbols as the merge cuts
  // them: one per UTF-8 lead byte). Short words are looked up in a per-call cache.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  std::vector<int32_t> store;
  auto emit = [&](std::string_view word) {
    if (word.size() > 64) {
      encode_segment(vocab, word, out);
      return;
    }
    auto [it, fresh] = cache.try_emplace(word, uint32_t(store.size()), 0u);
    if (fresh) {
      encode_segment(vocab, word, store);
      it->second.second = uint32_t(store.size()) - it->second.first;
    }
    out.insert(out.end(), store.begin() + it->second.first,
               store.begin() + it->second.first + it->second.second);
  };
  size_t word_start = 0;
  bool prev_mark = false;
  for (size_t off = 0; off < text.size();) {
    const size_t len = std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
    const bool mark = text.substr(off, len) == kMark;
    if (mark && off > 0 && !prev_mark) {
      emit(text.substr(word_start, off - word_start));
      word_start = off;
    }
    prev_mark = mark;
    off += len;
  }
  emit(text.substr(word_start));
}

void SpmTokenizer::encode_segment(const Vocab& vocab, std::string_view text,
                                  std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  for (size_t off = 0; off < text.size();) {
    const uint32_t len =
        static_cast<uint32_t>(std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off));
    const int32_t i = static_cast<int32_t>(sym.size());
    sym.push_back({i - 1, off + len < text.size() ? i + 1 : -1, static_cast<uint32_t>(off), len});
    off += len;
  }

  std::vector<Candidate> heap;
  heap.reserve(sym.size());
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = sym[left].len + sym[right].len;
    const int32_t id = vocab.find(text.substr(sym[left].start, size));
    if (id == kNoToken) return;
    heap.push_back({vocab.scores[id], left, right, size});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != c.size) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }

  // Every merged symbol is a vocabulary string (merges only form tokens), so a symbol that is no token
  // is one unmerged character: it goes out as bytes. (The reference's "reverse merge" lookup can never
  // succeed for such a symbol, so it is left out.)
  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const std::string_view piece = text.substr(sym[i].start, sym[i].len);
    if (const int32_t id = vocab.find(piece); id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) {
      const int32_t id = byte_token_[static_cast<uint8_t>(c)];
      if (id != kNoToken) out.push_back(id);
    }
  }
}

}  // namespace cria::tokenizer
