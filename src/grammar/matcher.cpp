#include "grammar/matcher.h"

#include <algorithm>

namespace cria::grammar {

namespace {

// Whether the set holds some code point in [lo, hi].
bool overlaps(const CharSet& set, uint32_t lo, uint32_t hi) {
  if (!set.negated) {
    for (const auto& [a, b] : set.ranges) {
      if (a <= hi && lo <= b) return true;
    }
    return false;
  }
  // Negated: some point of [lo, hi] outside every range. Walk up from lo past the ranges that cover it.
  for (uint32_t cp = lo;;) {
    bool covered = false;
    for (const auto& [a, b] : set.ranges) {
      if (a <= cp && cp <= b) {
        if (b >= hi) return false;
        cp = b + 1;
        covered = true;
        break;
      }
    }
    if (!covered) return true;
  }
}

}  // namespace

bool partial_possible(const StackPool& pool, const MatchState& state) {
  if (state.pending == 0) return true;
  return std::any_of(state.stacks.begin(), state.stacks.end(), [&](int32_t id) {
    return id != StackPool::kEmpty && overlaps(pool.top(id), state.partial_min, state.partial_max);
  });
}

bool feed_byte(StackPool& pool, MatchState& state, unsigned char b, std::vector<int32_t>& next) {
  if (state.pending > 0) {
    if ((b & 0xC0) != 0x80) return false;
    state.partial = (state.partial << 6) | (b & 0x3F);
    --state.pending;
  } else if (b < 0x80) {
    state.partial = b;
    state.smallest = 0;
  } else {
    const int len = (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0) return false;
    state.partial = b & (0xFF >> (len + 1));
    state.pending = len - 1;
    state.smallest = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  }
  if (state.pending > 0) {
    const int bits = 6 * state.pending;
    state.partial_min = std::max(state.partial << bits, state.smallest);
    state.partial_max = std::min((state.partial << bits) | ((1u << bits) - 1), 0x10FFFFu);
    return state.partial_min <= state.partial_max;  // else overlong or above U+10FFFF already
  }
  // Overlong encodings (a '"' as C0 A2), surrogates and code points past U+10FFFF are not UTF-8.
  const uint32_t cp = state.partial;
  if (cp < state.smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  state.smallest = 0;
  next.clear();
  for (int32_t id : state.stacks) {
    const auto& after = pool.step(id, cp);
    next.insert(next.end(), after.begin(), after.end());
  }
  if (next.empty()) return false;
  if (state.stacks.size() > 1) {
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
  }
  state.stacks.swap(next);
  return true;
}

Matcher::Matcher(std::shared_ptr<const Grammar> grammar)
    : Matcher(std::make_shared<StackPool>(std::move(grammar))) {}

Matcher::Matcher(std::shared_ptr<StackPool> pool) : pool_(std::move(pool)) { state_.stacks = pool_->start(); }

bool Matcher::feed(MatchState& state, std::string_view bytes) const {
  for (char ch : bytes) {
    if (!feed_byte(*pool_, state, static_cast<unsigned char>(ch), scratch_)) return false;
  }
  return partial_possible(*pool_, state);
}

bool Matcher::allows(std::string_view bytes) const {
  // Most tokens fail on their first character: check it against the stacks' tops before copying them.
  if (!bytes.empty() && state_.pending == 0 && static_cast<unsigned char>(bytes[0]) < 0x80) {
    const auto cp = static_cast<uint32_t>(static_cast<unsigned char>(bytes[0]));
    const bool any = std::any_of(state_.stacks.begin(), state_.stacks.end(), [&](int32_t id) {
      return id != StackPool::kEmpty && pool_->top(id).contains(cp);
    });
    if (!any) return false;
  }
  MatchState copy = state_;
  return feed(copy, bytes);
}

bool Matcher::accept(std::string_view bytes) {
  MatchState copy = state_;
  if (!feed(copy, bytes)) return false;
  state_ = std::move(copy);
  return true;
}

bool Matcher::can_end() const {
  return state_.pending == 0 && std::binary_search(state_.stacks.begin(), state_.stacks.end(), StackPool::kEmpty);
}

}  // namespace cria::grammar
