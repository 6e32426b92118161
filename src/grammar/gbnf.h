// llama.cpp's GBNF grammars (its grammars/README.md): rules `name ::= ...` with alternation `|`, groups
// `( )`, repetition `* + ? {m} {m,} {m,n}`, string literals, character classes with ranges and negation,
// `.` (any character), escapes (\n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH), `#` comments, and newlines
// inside groups and after `|`. parse_gbnf turns the text into rules whose alternatives are sequences of
// character sets and rule references; repetitions and groups become generated rules, as llama.cpp does.
// A bad grammar is an error with its line and column; a rule used but never defined, a missing `root`,
// and left recursion (which a pushdown matcher cannot run) are errors naming the rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace cria::grammar {

// Code points in any of `ranges` (inclusive), or with `negated` in none of them. `.` is a negated empty set.
struct CharSet {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  bool negated = false;
  bool contains(uint32_t cp) const;
};

// One step of an alternative: a character from `chars`, or the rule `rule` (when rule >= 0).
struct Element {
  int rule = -1;
  CharSet chars;
};

struct Rule {
  std::string name;
  std::vector<std::vector<Element>> alternatives;  // an empty alternative matches the empty string
};

struct Grammar {
  std::vector<Rule> rules;
  int root = -1;
  int find(std::string_view name) const;  // -1 if none
};

Result<Grammar> parse_gbnf(std::string_view text);

}  // namespace cria::grammar
