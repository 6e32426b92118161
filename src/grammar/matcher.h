// Matching text against a GBNF grammar (gbnf.h) one code point at a time, as llama.cpp's grammar sampler
// does: the state is a set of stacks of grammar positions, each advanced until its top is a character set
// (or it is empty: the grammar may end there). Text arrives as bytes (token pieces); a UTF-8 sequence
// split across tokens is carried over and checked against what the stacks could still accept.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "grammar/gbnf.h"

namespace cria::grammar {

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> grammar);

  // Whether all of `bytes` continues the text (nothing changes), and consuming them (all or nothing:
  // false leaves the matcher as it was).
  bool allows(std::string_view bytes) const;
  bool accept(std::string_view bytes);
  // Whether the text so far is a complete sentence of the grammar (no partial character pending).
  bool can_end() const;
  // No text can continue: only after accepting something the grammar does not allow, which accept refuses.
  bool dead() const { return state_.stacks.empty(); }

  // A position in the grammar: element `pos` of alternative `alt` of rule `rule`.
  struct Position {
    int32_t rule, alt, pos;
    auto operator<=>(const Position&) const = default;
  };
  using Stack = std::vector<Position>;

 private:
  struct State {
    std::vector<Stack> stacks;
    uint32_t partial = 0;  // the code point's bits so far
    int pending = 0;       // continuation bytes still expected
    uint32_t smallest = 0;  // the least code point the sequence's length may encode (shorter ones are overlong)
    uint32_t partial_min = 0, partial_max = 0;  // what the pending sequence can still become
  };
  void expand(Stack stack, std::vector<Stack>& out) const;
  bool step(State& state, uint32_t cp) const;        // false: no stack accepts cp
  bool feed(State& state, std::string_view bytes) const;
  bool partial_possible(const State& state) const;

  std::shared_ptr<const Grammar> grammar_;
  State state_;
};

}  // namespace cria::grammar
