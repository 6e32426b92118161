#include "grammar/matcher.h"

#include <algorithm>

namespace cria::grammar {

namespace {

void sort_unique(std::vector<Matcher::Stack>& stacks) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
}

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

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {
  const auto& root = grammar_->rules[static_cast<size_t>(grammar_->root)];
  for (size_t a = 0; a < root.alternatives.size(); ++a) {
    expand({{grammar_->root, static_cast<int32_t>(a), 0}}, state_.stacks);
  }
  sort_unique(state_.stacks);
}

// Advances a stack until its top is a character set, once for each way its rule references can start;
// a stack with nothing left means the grammar may end there. (The parser refuses left recursion, so
// this ends.)
void Matcher::expand(Stack stack, std::vector<Stack>& out) const {
  while (!stack.empty()) {
    const Position top = stack.back();
    const auto& alt = grammar_->rules[static_cast<size_t>(top.rule)].alternatives[static_cast<size_t>(top.alt)];
    if (static_cast<size_t>(top.pos) == alt.size()) {
      stack.pop_back();  // this alternative is done: its caller goes on
      continue;
    }
    const Element& e = alt[static_cast<size_t>(top.pos)];
    if (e.rule < 0) break;
    // The caller resumes after the reference (dropped when nothing of it is left); the rule starts.
    ++stack.back().pos;
    if (static_cast<size_t>(stack.back().pos) == alt.size()) stack.pop_back();
    const auto& rule = grammar_->rules[static_cast<size_t>(e.rule)];
    for (size_t a = 0; a < rule.alternatives.size(); ++a) {
      Stack next = stack;
      next.push_back({e.rule, static_cast<int32_t>(a), 0});
      expand(std::move(next), out);
    }
    return;
  }
  out.push_back(std::move(stack));
}

bool Matcher::step(State& state, uint32_t cp) const {
  std::vector<Stack> next;
  for (const Stack& s : state.stacks) {
    if (s.empty()) continue;
    const Position top = s.back();
    const Element& e =
        grammar_->rules[static_cast<size_t>(top.rule)].alternatives[static_cast<size_t>(top.alt)][static_cast<size_t>(top.pos)];
    if (!e.chars.contains(cp)) continue;
    Stack moved = s;
    ++moved.back().pos;
    expand(std::move(moved), next);
  }
  if (next.empty()) return false;
  sort_unique(next);
  state.stacks = std::move(next);
  return true;
}

bool Matcher::partial_possible(const State& state) const {
  for (const Stack& s : state.stacks) {
    if (s.empty()) continue;
    const Position top = s.back();
    const Element& e =
        grammar_->rules[static_cast<size_t>(top.rule)].alternatives[static_cast<size_t>(top.alt)][static_cast<size_t>(top.pos)];
    if (overlaps(e.chars, state.partial_min, state.partial_max)) return true;
  }
  return false;
}

// Consumes bytes: whole code points step the stacks; a sequence cut short stays pending. False on
// invalid UTF-8 or a code point no stack accepts (the state is then unusable; callers work on a copy).
bool Matcher::feed(State& state, std::string_view bytes) const {
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
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
      if (state.partial_min > state.partial_max) return false;  // overlong or above U+10FFFF already
      continue;
    }
    // Overlong encodings (a '"' as C0 A2), surrogates and code points past U+10FFFF are not UTF-8.
    const uint32_t cp = state.partial;
    if (cp < state.smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    state.smallest = 0;
    if (!step(state, cp)) return false;
  }
  return state.pending == 0 || partial_possible(state);
}

bool Matcher::allows(std::string_view bytes) const {
  // Most tokens fail on their first character: check it against the stacks' tops before copying them.
  if (!bytes.empty() && state_.pending == 0 && static_cast<unsigned char>(bytes[0]) < 0x80) {
    const auto cp = static_cast<uint32_t>(static_cast<unsigned char>(bytes[0]));
    bool any = false;
    for (const Stack& s : state_.stacks) {
      if (s.empty()) continue;
      const Position top = s.back();
      any = grammar_->rules[static_cast<size_t>(top.rule)]
                .alternatives[static_cast<size_t>(top.alt)][static_cast<size_t>(top.pos)]
                .chars.contains(cp);
      if (any) break;
    }
    if (!any) return false;
  }
  State copy = state_;
  return feed(copy, bytes);
}

bool Matcher::accept(std::string_view bytes) {
  State copy = state_;
  if (!feed(copy, bytes)) return false;
  state_ = std::move(copy);
  return true;
}

bool Matcher::can_end() const {
  if (state_.pending > 0) return false;
  return std::any_of(state_.stacks.begin(), state_.stacks.end(), [](const Stack& s) { return s.empty(); });
}

}  // namespace cria::grammar
