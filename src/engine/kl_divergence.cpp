#include "engine/kl_divergence.h"

#include <algorithm>
#include <cmath>

namespace cria::engine {

namespace {
// log_softmax in double for the normalizer, stored as float.
void log_softmax(const float* logits, int64_t n, float* out) {
  const float max = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const double log_sum = std::log(sum);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(logits[i] - max) - log_sum);
}
}  // namespace

void KlReference::record(const float* logits) {
  const size_t at = log_probs_.size();
  log_probs_.resize(at + static_cast<size_t>(n_vocab_));
  log_softmax(logits, n_vocab_, log_probs_.data() + at);
}

bool KlAccumulator::add(const float* logits) {
  if (position_ >= reference_.n_positions()) return false;
  const int64_t n = reference_.n_vocab();
  scratch_.resize(static_cast<size_t>(n));
  log_softmax(logits, n, scratch_.data());
  const float* p = reference_.log_probs(position_++);
  double kl = 0;
  for (int64_t i = 0; i < n; ++i) kl += std::exp(static_cast<double>(p[i])) * (static_cast<double>(p[i]) - scratch_[i]);
  kl = std::max(kl, 0.0);  // rounding can leave a tiny negative sum for identical distributions
  sum_ += kl;
  sum2_ += kl * kl;
  max_ = std::max(max_, kl);
  if (std::max_element(p, p + n) - p == std::max_element(scratch_.begin(), scratch_.end()) - scratch_.begin()) {
    ++same_top_;
  }
  return true;
}

KlStats KlAccumulator::stats() const {
  KlStats s;
  s.n_positions = position_;
  if (position_ == 0) return s;
  const double n = static_cast<double>(position_);
  s.mean = sum_ / n;
  const double variance = std::max(sum2_ / n - s.mean * s.mean, 0.0);
  s.mean_error = position_ > 1 ? std::sqrt(variance / (n - 1)) : 0;
  s.max = max_;
  s.same_top = static_cast<double>(same_top_) / n;
  return s;
}

}  // namespace cria::engine
