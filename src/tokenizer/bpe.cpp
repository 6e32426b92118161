#include "tokenizer/bpe.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace cria::tokenizer {

namespace {

struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 0x144> to_byte{};  // code points 0..0x143 back to bytes, -1 outside the map
  ByteMap() {
    to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? uint32_t(b) : next++;
      to_byte[to_cp[b]] = int16_t(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

// Max-heap order: lowest rank first, then leftmost.
bool later(const BpeScratch::Candidate& a, const BpeScratch::Candidate& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return byte_map().to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < 0x144 ? byte_map().to_byte[cp] : -1; }

void append_byte_encoded(std::string& out, std::string_view raw) {
  const auto& m = byte_map().to_cp;
  for (char c : raw) append_utf8(out, m[static_cast<uint8_t>(c)]);
}

int32_t BpeMerges::intern(const std::string& text, const Vocab& vocab) {
  auto [it, fresh] = piece_ids_.try_emplace(text, static_cast<int32_t>(pieces_.size()));
  if (fresh) pieces_.push_back(Piece{text, vocab.find(text)});
  return it->second;
}

Result<BpeMerges> BpeMerges::load(const gguf::File& file, const Vocab& vocab) {
  constexpr std::string_view kKey = "tokenizer.ggml.merges";
  auto arr = file.get_array(kKey, gguf::ValueType::STRING);
  if (!arr) return arr.error();
  const auto& entries = std::get<std::vector<std::string>>((*arr)->items);
  if (entries.size() > size_t(INT32_MAX))
    return make_error(file.path() + ": metadata 'tokenizer.ggml.merges': too many merges");

  BpeMerges m;
  m.merges_.reserve(entries.size());
  m.piece_ids_.reserve(entries.size() * 2);
  std::string joined;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& e = entries[i];
    const size_t space = e.size() > 1 ? e.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) continue;  // can never apply (llama.cpp files it under an empty pair)
    const std::string left = e.substr(0, space), right = e.substr(space + 1);
    if (right.empty()) continue;
    joined = left + right;
    const int32_t l = m.intern(left, vocab), r = m.intern(right, vocab), res = m.intern(joined, vocab);
    const uint64_t key = (uint64_t(uint32_t(l)) << 32) | uint32_t(r);
    m.merges_.try_emplace(key, Merge{static_cast<int32_t>(i), res});  // the first (lowest) rank wins
  }

  std::string enc;
  for (int b = 0; b < 256; ++b) {
    enc.clear();
    append_utf8(enc, byte_to_codepoint(uint8_t(b)));
    auto it = m.piece_ids_.find(enc);
    m.byte_piece_[b] = it == m.piece_ids_.end() ? -1 : it->second;
    m.byte_token_[b] = vocab.find(enc);
    m.raw_byte_token_[b] = vocab.find(std::string(1, char(b)));
  }
  return m;
}

// A symbol that is no vocabulary string: each byte of its encoded text that is itself a token.
void BpeMerges::emit_fallback(const Vocab&, std::string_view encoded, std::vector<int32_t>& out) const {
  for (char c : encoded) {
    const int32_t t = raw_byte_token_[static_cast<uint8_t>(c)];
    if (t != kNoToken) out.push_back(t);
  }
}

void BpeMerges::encode_word(const Vocab& vocab, std::string_view word, BpeScratch& s,
                            std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (vocab.ignore_merges) {
    s.encoded.clear();
    append_byte_encoded(s.encoded, word);
    if (const int32_t id = vocab.find(s.encoded); id != kNoToken) {
      out.push_back(id);
      return;
    }
  }
  const int32_t n = static_cast<int32_t>(word.size());
  auto& sym = s.symbols;
  sym.resize(word.size());
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {i - 1, i + 1 < n ? i + 1 : -1, 1, byte_piece_[static_cast<uint8_t>(word[i])]};
  }
  auto& heap = s.heap;
  heap.clear();
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || sym[left].piece < 0 || sym[right].piece < 0) return;
    const uint64_t key = (uint64_t(uint32_t(sym[left].piece)) << 32) | uint32_t(sym[right].piece);
    auto it = merges_.find(key);
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, left, right, sym[left].len, sym[right].len, it->second.piece});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const auto c = heap.back();
    heap.pop_back();
    auto& l = sym[c.left];
    auto& r = sym[c.right];
    // Stale: a side was merged away or has grown since the candidate was made. Symbols only grow by
    // absorbing their right neighbour, so equal lengths mean equal texts.
    if (l.len != c.left_len || r.len != c.right_len) continue;
    l.len += r.len;
    l.piece = c.piece;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }

  for (int32_t i = 0, pos = 0; i != -1; pos += sym[i].len, i = sym[i].next) {
    const auto& x = sym[i];
    if (x.piece >= 0) {
      const Piece& p = pieces_[x.piece];
      if (p.token != kNoToken) {
        out.push_back(p.token);
      } else {
        emit_fallback(vocab, p.text, out);
      }
      continue;
    }
    const uint8_t b = static_cast<uint8_t>(word[pos]);  // never merged: one byte
    if (byte_token_[b] != kNoToken) {
      out.push_back(byte_token_[b]);
    } else {
      s.encoded.clear();
      append_utf8(s.encoded, byte_to_codepoint(b));
      emit_fallback(vocab, s.encoded, out);
    }
  }
}

}  // namespace cria::tokenizer
