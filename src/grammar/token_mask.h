// Which tokens of a vocabulary may come next under a grammar, without matching the whole vocabulary from
// scratch each step. Token texts sit in a byte trie, walked with the matcher's stacks so a shared prefix
// is matched once and a refused prefix drops every token under it. Walks are remembered per stack,
// keyed by the stack's top frames alone (`depth` of them): a token those frames take whole is allowed
// whatever lies below, one they refuse before reaching the cut is refused, and only tokens that run
// past the cut (a string's closing quote and what follows it, say) are matched again against the whole
// stack. Most steps of a JSON document then cost a few bit-set ORs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/matcher.h"
#include "grammar/stacks.h"

namespace cria::grammar {

class TokenTrie {
 public:
  // Tokens with empty text are left out (never allowed).
  explicit TokenTrie(std::shared_ptr<const std::vector<std::string>> pieces);
  // One trie per vocabulary vector, shared by every sampler using it while any holds it.
  static std::shared_ptr<const TokenTrie> of(const std::shared_ptr<const std::vector<std::string>>& pieces);

  struct Node {
    uint32_t first_child = 0, n_children = 0;  // children are nodes_[first_child, +n_children)
    uint32_t lo = 0, hi = 0;                   // the tokens at and under the node: order()[lo, hi)
    uint32_t n_end = 0;                        // order()[lo, lo + n_end): the tokens ending here
    unsigned char byte = 0;                    // the byte leading here from the parent
  };
  const std::vector<Node>& nodes() const { return nodes_; }  // nodes_[0]: the root (empty text)
  const std::vector<int32_t>& order() const { return order_; }  // token ids sorted by text
  const std::string& piece(int32_t token) const { return (*pieces_)[static_cast<size_t>(token)]; }
  size_t n_tokens() const { return pieces_->size(); }
  size_t max_length() const { return max_length_; }

 private:
  void build(uint32_t node, uint32_t depth);

  std::shared_ptr<const std::vector<std::string>> pieces_;
  std::vector<Node> nodes_;
  std::vector<int32_t> order_;
  size_t max_length_ = 0;
};

class TokenMasker {
 public:
  static constexpr int kDefaultDepth = 4;
  TokenMasker(std::shared_ptr<StackPool> pool, std::shared_ptr<const TokenTrie> trie, int depth = kDefaultDepth);

  // Bit t of `allowed` (resized to the vocabulary, cleared first) is set when token t's whole text
  // continues `state` (end-of-generation tokens are the caller's: they have no text).
  void fill(const MatchState& state, std::vector<uint64_t>& allowed);

  size_t cached() const { return cache_.size(); }

 private:
  struct Entry {
    std::vector<uint64_t> accepted;  // a bit per token
    std::vector<int32_t> uncertain;  // tokens that ran past the cut: match them against the whole stack
  };
  const Entry& entry(int32_t key);  // the walk from a truncated stack (always cut), remembered
  // Walks the trie from `start`; with `cut`, a stack emptying means frames below the cut would go on.
  void walk(const MatchState& start, bool cut, Entry& out);
  void visit(uint32_t node, size_t depth, bool escaped, bool cut, Entry& out);
  void mark_subtree(uint32_t node, std::vector<int32_t>& tokens) const;
  bool whole_match(int32_t stack, const std::string& text);

  std::shared_ptr<StackPool> pool_;
  std::shared_ptr<const TokenTrie> trie_;
  int depth_;
  std::unordered_map<int32_t, Entry> cache_;
  std::vector<MatchState> states_;  // the walk's state per trie depth (buffers reused)
  std::vector<int32_t> scratch_;
  std::vector<std::pair<int32_t, int32_t>> keys_;  // fill(): each stack and its truncation
  MatchState one_;
};

}  // namespace cria::grammar
