// KL divergence of a quantized model from its unquantized base, as llama-perplexity --kl-divergence
// reports it: at every scored position, KL(P_base || P_quant) = sum_i p_i (log p_i - log q_i), averaged
// over positions, with how often both models rank the same token first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cria::engine {

// The base model's log-probabilities at every scored position, kept in memory (n_vocab floats each).
class KlReference {
 public:
  explicit KlReference(int64_t n_vocab) : n_vocab_(n_vocab) {}
  void record(const float* logits);
  int64_t n_vocab() const { return n_vocab_; }
  int64_t n_positions() const { return static_cast<int64_t>(log_probs_.size() / static_cast<size_t>(n_vocab_)); }
  const float* log_probs(int64_t position) const { return log_probs_.data() + position * n_vocab_; }

 private:
  int64_t n_vocab_;
  std::vector<float> log_probs_;
};

struct KlStats {
  int64_t n_positions = 0;
  double mean = 0;            // mean KL divergence, nats
  double mean_error = 0;      // standard error of the mean
  double max = 0;
  double same_top = 0;        // fraction of positions where both models' most likely token agree
};

// Compares another model's logits, position by position in the order they were recorded.
class KlAccumulator {
 public:
  explicit KlAccumulator(const KlReference& reference) : reference_(reference) {}
  // Returns false when there are more positions than the reference recorded.
  bool add(const float* logits);
  KlStats stats() const;

 private:
  const KlReference& reference_;
  std::vector<float> scratch_;
  int64_t position_ = 0;
  double sum_ = 0, sum2_ = 0, max_ = 0;
  int64_t same_top_ = 0;
};

}  // namespace cria::engine
