// The matcher's stacks of grammar positions, shared and numbered: a stack is an id naming its top frame
// and the id of the stack below it, and equal stacks get equal ids (hash-consing), so copying a set of
// stacks copies integers, comparing two compares integers, and what follows a stack (its expansion to
// character-set tops, its step over a character) is worked out once per id and remembered.
#pragma once

#include <cstdint>
#include <memory>
#include <deque>
#include <unordered_map>
#include <vector>

#include "grammar/gbnf.h"

namespace cria::grammar {

// A position in the grammar: element `pos` of alternative `alt` of rule `rule`.
struct Position {
  int32_t rule, alt, pos;
  auto operator<=>(const Position&) const = default;
};

class StackPool {
 public:
  // The empty stack: the grammar may end here (or, for a stack cut below its top frames, the text goes
  // on in frames that were cut).
  static constexpr int32_t kEmpty = -1;

  explicit StackPool(std::shared_ptr<const Grammar> grammar);

  const Grammar& grammar() const { return *grammar_; }
  // The stacks the root rule starts with, expanded (sorted).
  std::vector<int32_t> start();
  // The stacks `id` becomes once references are followed: each has a character set on top, or is kEmpty.
  const std::vector<int32_t>& expand(int32_t id);
  // The expanded stacks after the top character of the expanded stack `id` takes one code point; empty
  // when its set refuses cp.
  const std::vector<int32_t>& step(int32_t id, uint32_t cp);
  // The character set on top of an expanded, non-empty stack.
  const CharSet& top(int32_t id) const;
  // The stack's top `depth` frames alone (the rest cut off), expanded the same way.
  int32_t truncate(int32_t id, int depth);
  size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    Position pos;
    int32_t below;
    int32_t expanded = -1;  // index into lists_, once known
    int32_t advanced = -1;  // index into lists_: the expansion after the top character, once known
  };
  int32_t intern(Position pos, int32_t below);
  void expand_into(int32_t id, std::vector<int32_t>& out);

  std::shared_ptr<const Grammar> grammar_;
  std::vector<Node> nodes_;
  struct Key {
    Position pos;
    int32_t below;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  std::unordered_map<Key, int32_t, KeyHash> index_;
  std::deque<std::vector<int32_t>> lists_;  // a deque: references handed out stay valid as it grows
  std::vector<int32_t> no_stacks_;
};

}  // namespace cria::grammar
