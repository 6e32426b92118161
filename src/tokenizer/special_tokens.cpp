#include "tokenizer/special_tokens.h"

namespace cria::tokenizer {

namespace {

bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

SpecialSplitter::SpecialSplitter(const Vocab& vocab) {
  nodes_.emplace_back();
  for (size_t k = 0; k < vocab.special_candidates.size(); ++k) {
    const std::string& t = vocab.texts[vocab.special_candidates[k]];
    first_byte_[static_cast<uint8_t>(t[0])] = true;
    int32_t node = 0;
    for (char c : t) {
      const uint64_t key = (uint64_t(node) << 8) | static_cast<uint8_t>(c);
      auto [it, fresh] = edges_.try_emplace(key, static_cast<int32_t>(nodes_.size()));
      if (fresh) nodes_.emplace_back();
      node = it->second;
    }
    if (nodes_[node].candidate < 0) nodes_[node].candidate = static_cast<int32_t>(k);
  }
}

std::vector<Fragment> SpecialSplitter::split(const Vocab& vocab, std::string_view text,
                                             bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({kNoToken, 0, text.size()});
  const auto& cands = vocab.special_candidates;
  if (cands.empty()) return frags;

  // Which candidates occur anywhere (texts are unique, so one trie node per candidate).
  std::vector<bool> present(cands.size(), false);
  bool any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!first_byte_[static_cast<uint8_t>(text[i])]) continue;
    int32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      auto it = edges_.find((uint64_t(node) << 8) | static_cast<uint8_t>(text[j]));
      if (it == edges_.end()) break;
      node = it->second;
      if (nodes_[node].candidate >= 0) present[nodes_[node].candidate] = any = true;
    }
  }
  if (!any) return frags;

  std::vector<Fragment> next;
  for (size_t k = 0; k < cands.size(); ++k) {
    if (!present[k]) continue;
    const int32_t id = cands[k];
    const uint32_t a = vocab.attrs[id];
    if (!parse_special && (a & (attr::kControl | attr::kUnknown)) != 0) continue;
    const std::string_view tok = vocab.texts[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (!f.is_text()) {
        next.push_back(f);
        continue;
      }
      size_t begin = f.begin;
      const size_t end = f.end;
      while (true) {
        const size_t m = text.substr(0, end).find(tok, begin);
        if (m == std::string_view::npos) {
          next.push_back({kNoToken, begin, end});
          break;
        }
        size_t left_end = m;
        if (a & attr::kLstrip) {
          while (left_end > begin && is_c_space(text[left_end - 1])) --left_end;
        }
        if (left_end > begin) next.push_back({kNoToken, begin, left_end});
        next.push_back({id, 0, 0});
        begin = m + tok.size();
        if (a & attr::kRstrip) {
          while (begin < end && is_c_space(text[begin])) ++begin;
        }
        if (begin >= end) break;
      }
    }
    frags.swap(next);
  }
  return frags;
}

}  // namespace cria::tokenizer
