#include "grammar/token_mask.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace cria::grammar {

namespace {

constexpr size_t kCacheBytes = size_t{16} << 20;  // per sampler: remembered walks past this are forgotten (all at once)

void set_bit(std::vector<uint64_t>& bits, int32_t t) { bits[static_cast<size_t>(t) >> 6] |= uint64_t{1} << (t & 63); }
bool get_bit(const std::vector<uint64_t>& bits, int32_t t) { return (bits[static_cast<size_t>(t) >> 6] >> (t & 63)) & 1; }

}  // namespace

TokenTrie::TokenTrie(std::shared_ptr<const std::vector<std::string>> pieces) : pieces_(std::move(pieces)) {
  for (size_t t = 0; t < pieces_->size(); ++t) {
    if (!(*pieces_)[t].empty()) order_.push_back(static_cast<int32_t>(t));
  }
  std::stable_sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) { return piece(a) < piece(b); });
  for (int32_t t : order_) max_length_ = std::max(max_length_, piece(t).size());
  nodes_.push_back({0, 0, 0, static_cast<uint32_t>(order_.size()), 0, 0});
  build(0, 0);
}

// Fills in the children of `node`, whose tokens order_[lo, hi) share its first `depth` bytes.
void TokenTrie::build(uint32_t node, uint32_t depth) {
  uint32_t i = nodes_[node].lo;
  const uint32_t hi = nodes_[node].hi;
  while (i < hi && piece(order_[i]).size() == depth) ++i;  // sorted: the ones ending here come first
  nodes_[node].n_end = i - nodes_[node].lo;
  const auto first = static_cast<uint32_t>(nodes_.size());
  while (i < hi) {
    const auto byte = static_cast<unsigned char>(piece(order_[i])[depth]);
    uint32_t j = i;
    while (j < hi && static_cast<unsigned char>(piece(order_[j])[depth]) == byte) ++j;
    Node child;
    child.lo = i;
    child.hi = j;
    child.byte = byte;
    nodes_.push_back(child);
    i = j;
  }
  nodes_[node].first_child = first;
  nodes_[node].n_children = static_cast<uint32_t>(nodes_.size()) - first;
  for (uint32_t c = first; c < first + nodes_[node].n_children; ++c) build(c, depth + 1);
}

std::shared_ptr<const TokenTrie> TokenTrie::of(const std::shared_ptr<const std::vector<std::string>>& pieces) {
  static std::mutex mutex;
  static std::map<const void*, std::weak_ptr<const TokenTrie>> tries;
  std::lock_guard lock(mutex);
  for (auto it = tries.begin(); it != tries.end();) it = it->second.expired() ? tries.erase(it) : std::next(it);
  if (auto known = tries[pieces.get()].lock(); known && known->pieces_ == pieces) return known;
  auto trie = std::make_shared<const TokenTrie>(pieces);
  tries[pieces.get()] = trie;
  return trie;
}

TokenMasker::TokenMasker(std::shared_ptr<StackPool> pool, std::shared_ptr<const TokenTrie> trie, int depth)
    : pool_(std::move(pool)), trie_(std::move(trie)), depth_(depth) {}

void TokenMasker::mark_subtree(uint32_t node, std::vector<int32_t>& tokens) const {
  const auto& n = trie_->nodes()[node];
  tokens.insert(tokens.end(), trie_->order().begin() + n.lo, trie_->order().begin() + n.hi);
}

// `states_[depth]` is the text after the node's bytes. `escaped`: some way through the text so far has
// left the frames above the cut, so what the walk refuses below here may still be taken by the frames
// under it.
void TokenMasker::visit(uint32_t node, size_t depth, bool escaped, bool cut, Entry& out) {
  const auto& n = trie_->nodes()[node];
  {
    const MatchState& s = states_[depth];
    const bool whole = !s.stacks.empty() && partial_possible(*pool_, s);
    for (uint32_t i = n.lo; i < n.lo + n.n_end; ++i) {
      const int32_t t = trie_->order()[i];
      if (whole) {
        set_bit(out.accepted, t);
      } else if (escaped) {
        out.uncertain.push_back(t);
      }
    }
    if (cut && s.pending == 0 && std::binary_search(s.stacks.begin(), s.stacks.end(), StackPool::kEmpty)) escaped = true;
  }
  for (uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c) {
    MatchState& next = states_[depth + 1];
    next = states_[depth];
    const bool alive = feed_byte(*pool_, next, trie_->nodes()[c].byte, scratch_) &&
                       (next.pending == 0 || partial_possible(*pool_, next) ||
                        (cut && std::binary_search(next.stacks.begin(), next.stacks.end(), StackPool::kEmpty)));
    if (alive) {
      visit(c, depth + 1, escaped, cut, out);
    } else if (escaped) {
      mark_subtree(c, out.uncertain);
    }
  }
}

void TokenMasker::walk(const MatchState& start, bool cut, Entry& out) {
  out.accepted.assign((trie_->n_tokens() + 63) / 64, 0);
  out.uncertain.clear();
  states_.resize(trie_->max_length() + 2);  // one per depth, never reallocated during the walk
  states_[0] = start;
  visit(0, 0, false, cut, out);
}

const TokenMasker::Entry& TokenMasker::entry(int32_t key) {
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() * ((trie_->n_tokens() + 63) / 8) > kCacheBytes) cache_.clear();
  Entry& e = cache_[key];
  MatchState start;
  start.stacks = {key};
  walk(start, /*cut=*/true, e);
  return e;
}

bool TokenMasker::whole_match(int32_t stack, const std::string& text) {
  one_ = MatchState{};
  one_.stacks = {stack};
  for (char ch : text) {
    if (!feed_byte(*pool_, one_, static_cast<unsigned char>(ch), scratch_)) return false;
  }
  return partial_possible(*pool_, one_);
}

void TokenMasker::fill(const MatchState& state, std::vector<uint64_t>& allowed) {
  allowed.assign((trie_->n_tokens() + 63) / 64, 0);
  if (state.pending > 0) {
    // In the middle of a character (after a byte token): rare, and only continuation bytes can follow,
    // so the walk stops at the first byte of nearly every token.
    Entry e;
    walk(state, false, e);
    allowed = std::move(e.accepted);
    return;
  }
  keys_.clear();
  for (int32_t id : state.stacks) {
    if (id == StackPool::kEmpty) continue;
    // Always walked as cut: a key may be one stack's truncation and another's whole self, and a cut walk
    // is right for both (for the whole stack its uncertain tokens are refused ones, skipped below).
    keys_.push_back({id, pool_->truncate(id, depth_)});
    const Entry& e = entry(keys_.back().second);
    for (size_t w = 0; w < allowed.size(); ++w) allowed[w] |= e.accepted[w];
  }
  for (const auto& [id, key] : keys_) {
    if (key == id) continue;  // the whole stack: what runs past its end is refused
    for (int32_t t : entry(key).uncertain) {
      if (!get_bit(allowed, t) && whole_match(id, trie_->piece(t))) set_bit(allowed, t);
    }
  }
}

}  // namespace cria::grammar
