#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

namespace cria::sampling {

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab, int n_ctx)
    : params_(params), n_vocab_(n_vocab) {
  history_limit_ = params.repeat_last_n < 0 ? static_cast<size_t>(n_ctx) : static_cast<size_t>(params.repeat_last_n);
  seed_ = params.seed == 0xFFFFFFFF ? std::random_device{}() : params.seed;
  rng_.seed(seed_);
  candidates_.reserve(static_cast<size_t>(n_vocab));
  counts_.assign(static_cast<size_t>(n_vocab), 0);
}

void Sampler::accept(int32_t token) {
  if (history_limit_ == 0) return;
  history_.push_back(token);
  while (history_.size() > history_limit_) history_.pop_front();
}

void Sampler::apply_penalties() {
  const bool active = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                      params_.frequency_penalty != 0.0f;
  if (!active || history_.empty()) return;
  for (int32_t t : history_) {
    if (t >= 0 && t < n_vocab_) ++counts_[static_cast<size_t>(t)];
  }
  for (auto& c : candidates_) {
    const int32_t count = counts_[static_cast<size_t>(c.id)];
    if (count == 0) continue;
    c.logit = c.logit <= 0 ? c.logit * params_.repeat_penalty : c.logit / params_.repeat_penalty;
    c.logit -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
  for (int32_t t : history_) {
    if (t >= 0 && t < n_vocab_) counts_[static_cast<size_t>(t)] = 0;
  }
}

void Sampler::top_k(int k) {
  if (k <= 0 || static_cast<size_t>(k) >= candidates_.size()) {
    std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
      return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    });
  } else {
    std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(),
                      [](const Candidate& a, const Candidate& b) {
                        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
                      });
    candidates_.resize(static_cast<size_t>(k));
  }
}

void Sampler::softmax() {
  const float max = candidates_.front().logit;  // sorted, largest first
  double sum = 0;
  for (auto& c : candidates_) {
    c.p = std::exp(c.logit - max);
    sum += c.p;
  }
  for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
}

void Sampler::top_p(float p) {
  if (p >= 1.0f) return;
  softmax();
  double cumulative = 0;
  size_t keep = candidates_.size();
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cumulative += candidates_[i].p;
    if (cumulative >= p) {
      keep = i + 1;
      break;
    }
  }
  candidates_.resize(keep);
}

void Sampler::min_p(float p) {
  if (p <= 0.0f) return;
  const float threshold = candidates_.front().logit + std::log(p);
  size_t keep = 1;
  while (keep < candidates_.size() && candidates_[keep].logit >= threshold) ++keep;
  candidates_.resize(keep);
}

int32_t Sampler::sample(const float* logits) {
  candidates_.clear();
  for (int64_t i = 0; i < n_vocab_; ++i) candidates_.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
  for (int32_t t : banned_) {
    if (t >= 0 && t < n_vocab_) candidates_[static_cast<size_t>(t)].logit = -INFINITY;
  }
  apply_penalties();
  if (params_.temp <= 0.0f) {
    // Greedy: the first largest logit.
    const auto best = std::max_element(candidates_.begin(), candidates_.end(),
                                       [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; });
    return best->id;
  }
  top_k(params_.top_k);
  top_p(params_.top_p);
  min_p(params_.min_p);
  for (auto& c : candidates_) c.logit /= params_.temp;
  softmax();
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double r = uniform(rng_);
  for (const auto& c : candidates_) {
    r -= c.p;
    if (r <= 0) return c.id;
  }
  return candidates_.back().id;
}

}  // namespace cria::sampling
