// Matching text against a GBNF grammar (gbnf.h) one code point at a time, as llama.cpp's grammar sampler
// does: the state is a set of stacks of grammar positions (stacks.h), each advanced until its top is a
// character set (or it is empty: the grammar may end there). Text arrives as bytes (token pieces); a
// UTF-8 sequence split across tokens is carried over and checked against what the stacks could still
// accept.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/stacks.h"

namespace cria::grammar {

// Where the text is: the live stacks (sorted ids of a StackPool), and a UTF-8 sequence still open.
struct MatchState {
  std::vector<int32_t> stacks;
  uint32_t partial = 0;   // the code point's bits so far
  int pending = 0;        // continuation bytes still expected
  uint32_t smallest = 0;  // the least code point the sequence's length may encode (shorter ones are overlong)
  uint32_t partial_min = 0, partial_max = 0;  // what the pending sequence can still become
  bool operator==(const MatchState&) const = default;
};

// One byte more: false on invalid UTF-8 or a code point no stack takes (the state is then unusable;
// callers work on a copy). `next` is scratch.
bool feed_byte(StackPool& pool, MatchState& state, unsigned char byte, std::vector<int32_t>& next);
// Whether some stack could take the code point a pending sequence is becoming (true when none is pending).
bool partial_possible(const StackPool& pool, const MatchState& state);

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> grammar);
  explicit Matcher(std::shared_ptr<StackPool> pool);

  // Whether all of `bytes` continues the text (nothing changes), and consuming them (all or nothing:
  // false leaves the matcher as it was).
  bool allows(std::string_view bytes) const;
  bool accept(std::string_view bytes);
  // Whether the text so far is a complete sentence of the grammar (no partial character pending).
  bool can_end() const;
  // No text can continue: only after accepting something the grammar does not allow, which accept refuses.
  bool dead() const { return state_.stacks.empty(); }

  const MatchState& state() const { return state_; }
  StackPool& pool() const { return *pool_; }

 private:
  bool feed(MatchState& state, std::string_view bytes) const;

  std::shared_ptr<StackPool> pool_;
  MatchState state_;
  mutable std::vector<int32_t> scratch_;
};

}  // namespace cria::grammar
