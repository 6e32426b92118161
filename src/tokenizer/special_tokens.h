// Special-token partitioning (FORMATS.md 6.2): before a model tokenizer runs, occurrences of special
// token texts are cut out of the input, longest token first. CONTROL and UNKNOWN tokens are matched only
// when parsing specials; USER_DEFINED tokens always are.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace cria::tokenizer {

struct Fragment {
  int32_t token = kNoToken;   // a special token, or kNoToken for raw text
  size_t begin = 0, end = 0;  // the raw text's byte range
  bool is_text() const { return token == kNoToken; }
};

class SpecialSplitter {
 public:
  explicit SpecialSplitter(const Vocab& vocab);

  std::vector<Fragment> split(const Vocab& vocab, std::string_view text, bool parse_special) const;

 private:
  // A byte trie of all candidate texts finds, in one pass, which candidates occur at all; only those
  // run the (reference-exact) longest-first partition.
  struct Node {
    int32_t candidate = -1;  // index into vocab.special_candidates ending here
  };
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> node
  bool first_byte_[256] = {};
};

}  // namespace cria::tokenizer
