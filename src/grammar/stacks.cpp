#include "grammar/stacks.h"

#include <algorithm>

namespace cria::grammar {

size_t StackPool::KeyHash::operator()(const Key& k) const {
  uint64_t h = static_cast<uint32_t>(k.pos.rule);
  h = h * 0x9E3779B97F4A7C15ull + static_cast<uint32_t>(k.pos.alt);
  h = h * 0x9E3779B97F4A7C15ull + static_cast<uint32_t>(k.pos.pos);
  h = h * 0x9E3779B97F4A7C15ull + static_cast<uint32_t>(k.below);
  return static_cast<size_t>(h ^ (h >> 29));
}

StackPool::StackPool(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {}

int32_t StackPool::intern(Position pos, int32_t below) {
  const auto [it, inserted] = index_.try_emplace(Key{pos, below}, static_cast<int32_t>(nodes_.size()));
  if (inserted) nodes_.push_back({pos, below});
  return it->second;
}

std::vector<int32_t> StackPool::start() {
  std::vector<int32_t> out;
  const auto& root = grammar_->rules[static_cast<size_t>(grammar_->root)];
  for (size_t a = 0; a < root.alternatives.size(); ++a) {
    const auto& e = expand(intern({grammar_->root, static_cast<int32_t>(a), 0}, kEmpty));
    out.insert(out.end(), e.begin(), e.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Follows the top frame until a character set is on top, once for each way its rule references can
// start; a frame with nothing left hands over to the one below (the parser refuses left recursion, so
// this ends).
void StackPool::expand_into(int32_t id, std::vector<int32_t>& out) {
  const Position p = nodes_[static_cast<size_t>(id)].pos;
  const int32_t below = nodes_[static_cast<size_t>(id)].below;
  const auto& alt = grammar_->rules[static_cast<size_t>(p.rule)].alternatives[static_cast<size_t>(p.alt)];
  if (static_cast<size_t>(p.pos) == alt.size()) {
    if (below == kEmpty) {
      out.push_back(kEmpty);
    } else {
      const auto& e = expand(below);
      out.insert(out.end(), e.begin(), e.end());
    }
    return;
  }
  const Element& e = alt[static_cast<size_t>(p.pos)];
  if (e.rule < 0) {
    out.push_back(id);
    return;
  }
  // The frame resumes after the reference (dropped when nothing of it is left); the rule starts above it.
  const bool last = static_cast<size_t>(p.pos) + 1 == alt.size();
  const int32_t resume = last ? below : intern({p.rule, p.alt, p.pos + 1}, below);
  const size_t n_alts = grammar_->rules[static_cast<size_t>(e.rule)].alternatives.size();
  for (size_t a = 0; a < n_alts; ++a) {
    const auto& sub = expand(intern({e.rule, static_cast<int32_t>(a), 0}, resume));
    out.insert(out.end(), sub.begin(), sub.end());
  }
}

const std::vector<int32_t>& StackPool::expand(int32_t id) {
  if (id == kEmpty) {
    static const std::vector<int32_t> empty_only{kEmpty};
    return empty_only;
  }
  if (const int32_t known = nodes_[static_cast<size_t>(id)].expanded; known >= 0) return lists_[static_cast<size_t>(known)];
  std::vector<int32_t> out;
  expand_into(id, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  lists_.push_back(std::move(out));
  nodes_[static_cast<size_t>(id)].expanded = static_cast<int32_t>(lists_.size() - 1);
  return lists_.back();
}

const CharSet& StackPool::top(int32_t id) const {
  const Position p = nodes_[static_cast<size_t>(id)].pos;
  return grammar_->rules[static_cast<size_t>(p.rule)]
      .alternatives[static_cast<size_t>(p.alt)][static_cast<size_t>(p.pos)]
      .chars;
}

const std::vector<int32_t>& StackPool::step(int32_t id, uint32_t cp) {
  if (id == kEmpty || !top(id).contains(cp)) return no_stacks_;
  if (const int32_t known = nodes_[static_cast<size_t>(id)].advanced; known >= 0) return lists_[static_cast<size_t>(known)];
  const Node n = nodes_[static_cast<size_t>(id)];
  const int32_t moved = intern({n.pos.rule, n.pos.alt, n.pos.pos + 1}, n.below);
  const auto& after = expand(moved);
  nodes_[static_cast<size_t>(id)].advanced = nodes_[static_cast<size_t>(moved)].expanded;
  return after;
}

int32_t StackPool::truncate(int32_t id, int depth) {
  std::vector<Position> frames;
  for (int32_t at = id; at != kEmpty && static_cast<int>(frames.size()) < depth; at = nodes_[static_cast<size_t>(at)].below) {
    frames.push_back(nodes_[static_cast<size_t>(at)].pos);
  }
  int32_t out = kEmpty;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) out = intern(*it, out);
  return out;
}

}  // namespace cria::grammar
