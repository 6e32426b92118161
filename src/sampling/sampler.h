// Token sampling as llama.cpp's default chain: repetition penalties over the last tokens, then top-k,
// top-p, min-p, temperature, and a draw from the resulting distribution (greedy when temp <= 0).
// Reproducible for a given seed; no allocation per token.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace cria::sampling {

struct SamplingParams {
  float temp = 0.8f;
  int top_k = 40;               // <= 0: no limit
  float top_p = 0.95f;          // 1: off
  float min_p = 0.05f;          // 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;       // 0: off, -1: the whole context
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint32_t seed = 0xFFFFFFFF;   // 0xFFFFFFFF: a random seed
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t n_vocab, int n_ctx);

  // Picks the next token from a row of logits (the row itself is not modified).
  int32_t sample(const float* logits);
  // Records a token of the sequence (prompt or generated) for the repetition penalties.
  void accept(int32_t token);
  void reset() { history_.clear(); }
  // Never picks this token (llama.cpp's --ignore-eos bans the end-of-generation tokens this way).
  void ban(int32_t token) { banned_.push_back(token); }
  uint32_t seed() const { return seed_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_penalties();
  void top_k(int k);
  void softmax();
  void top_p(float p);
  void min_p(float p);

  SamplingParams params_;
  int64_t n_vocab_;
  size_t history_limit_;
  uint32_t seed_;
  std::mt19937 rng_;
  std::deque<int32_t> history_;
  std::vector<Candidate> candidates_;
  std::vector<int32_t> counts_;
  std::vector<int32_t> banned_;
};

}  // namespace cria::sampling
