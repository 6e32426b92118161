// The tokens of one forward pass: each with its position, the sequences it belongs to (one, or several
// for a prompt that several sequences share, as in llama.cpp) and whether its logits are wanted.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace cria::model {

class Batch {
 public:
  void add(int32_t token, int32_t pos, std::span<const int32_t> seqs, bool logits) {
    tokens_.push_back(token);
    positions_.push_back(pos);
    seq_ids_.insert(seq_ids_.end(), seqs.begin(), seqs.end());
    seq_end_.push_back(static_cast<int32_t>(seq_ids_.size()));
    logits_.push_back(logits);
  }
  void add(int32_t token, int32_t pos, std::initializer_list<int32_t> seqs, bool logits) {
    add(token, pos, std::span<const int32_t>(seqs.begin(), seqs.size()), logits);
  }
  // Appends tokens at positions pos0, pos0 + 1, ... of one sequence; logits for the last one only.
  void add_sequence(std::span<const int32_t> tokens, int32_t pos0, int32_t seq, bool last_logits = true) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      add(tokens[i], pos0 + static_cast<int32_t>(i), {seq}, last_logits && i + 1 == tokens.size());
    }
  }
  void clear() {
    tokens_.clear();
    positions_.clear();
    seq_ids_.clear();
    seq_end_.clear();
    logits_.clear();
  }

  int size() const { return static_cast<int>(tokens_.size()); }
  bool empty() const { return tokens_.empty(); }
  int32_t token(int i) const { return tokens_[static_cast<size_t>(i)]; }
  int32_t pos(int i) const { return positions_[static_cast<size_t>(i)]; }
  bool wants_logits(int i) const { return logits_[static_cast<size_t>(i)]; }
  std::span<const int32_t> seqs(int i) const {
    const int32_t begin = i == 0 ? 0 : seq_end_[static_cast<size_t>(i) - 1];
    return {seq_ids_.data() + begin, static_cast<size_t>(seq_end_[static_cast<size_t>(i)] - begin)};
  }

 private:
  std::vector<int32_t> tokens_, positions_;
  std::vector<int32_t> seq_ids_, seq_end_;  // token i's sequences: seq_ids_[seq_end_[i - 1] .. seq_end_[i])
  std::vector<bool> logits_;
};

}  // namespace cria::model
