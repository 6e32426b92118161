// Token sampling as llama.cpp's (b4748) chain: by default penalties, DRY, top-k, typical-p, top-p, min-p,
// XTC, temperature and a draw from the resulting distribution (greedy when temp <= 0); `samplers` reorders
// or drops stages as llama.cpp's --samplers does. Mirostat 1 or 2 replaces the chain with temperature and
// mirostat, as in llama.cpp. Reproducible for a given seed; no allocation per token on the default chain.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "grammar/matcher.h"
#include "grammar/token_mask.h"

namespace cria::sampling {

enum class Stage { kPenalties, kDry, kTopK, kTypicalP, kTopP, kMinP, kXtc, kTemperature };

// llama.cpp's default order: "penalties;dry;top_k;typ_p;top_p;min_p;xtc;temperature" (chars "edkypmxt").
std::vector<Stage> default_stages();
// llama.cpp's names separated by ';' (alternative spellings too: top-k, typical, temp, ...). An empty
// string when all are known, else the message naming the unknown ones.
std::string parse_stage_names(const std::string& names, std::vector<Stage>& out);
// The --sampling-seq form, one letter a stage: e d k y p m x t.
std::string parse_stage_chars(const std::string& chars, std::vector<Stage>& out);
std::string stage_names(const std::vector<Stage>& stages);

struct SamplingParams {
  float temp = 0.8f;
  float dynatemp_range = 0.0f;     // > 0: the temperature moves within temp +- range with the entropy
  float dynatemp_exponent = 1.0f;  // of the distribution (normalised, to this power): llama.cpp's temp-ext
  int top_k = 40;               // <= 0: no limit
  float top_p = 0.95f;          // 1: off
  float min_p = 0.05f;          // 0: off
  float typical_p = 1.0f;       // 1: off
  float repeat_penalty = 1.0f;  // 1: off
  int repeat_last_n = 64;       // 0: off, -1: the whole context
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float xtc_probability = 0.0f;  // 0: off
  float xtc_threshold = 0.1f;    // > 0.5: off
  float dry_multiplier = 0.0f;   // 0: off
  float dry_base = 1.75f;
  int dry_allowed_length = 2;
  int dry_penalty_last_n = -1;  // 0: off, -1: the whole context
  std::vector<std::string> dry_sequence_breakers = {"\n", ":", "\"", "*"};
  int mirostat = 0;  // 0 off, 1 mirostat, 2 mirostat 2.0
  float mirostat_tau = 5.0f;
  float mirostat_eta = 0.1f;
  std::vector<Stage> stages = default_stages();
  uint32_t seed = 0xFFFFFFFF;   // 0xFFFFFFFF: a random seed
};

class Sampler {
 public:
  // `piece` (optional): a token's text, which DRY needs to find its sequence breakers; called for every
  // token here, and only when DRY is on.
  using PieceFn = std::function<std::string(int32_t)>;
  Sampler(const SamplingParams& params, int64_t n_vocab, int n_ctx, const PieceFn& piece = {});

  // Picks the next token from a row of logits (the row itself is not modified).
  int32_t sample(const float* logits);
  // Records a token of the sequence (prompt or generated) for the repetition penalties and DRY.
  void accept(int32_t token);
  // Forgets the sequence and mirostat's learned mu (the random stream goes on).
  void reset();
  // Never picks this token (llama.cpp's --ignore-eos bans the end-of-generation tokens this way).
  void ban(int32_t token) { banned_.push_back(token); }
  // Grammar-constrained sampling (llama.cpp's --grammar): a token is drawn only if its text (pieces[id])
  // continues the grammar, an end-of-generation token (eog) only where the grammar can end; each sampled
  // token advances the grammar. As llama.cpp, the chain runs unconstrained first and again over the
  // allowed tokens only when its choice breaks the grammar, so a constrained greedy pick is the
  // unconstrained one wherever that is allowed.
  void set_grammar(std::shared_ptr<const grammar::Grammar> grammar,
                   std::shared_ptr<const std::vector<std::string>> pieces, const std::vector<int32_t>& eog);
  // The grammar from its start again (a new reply that must match it whole).
  void restart_grammar() {
    if (grammar_) grammar_.emplace(grammar_stacks_);
  }
  uint32_t seed() const { return seed_; }
  float mirostat_mu() const { return mu_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_penalties();
  void apply_dry();
  int dry_restart_limit(int n) const;
  void sort_candidates();
  void top_k(int k);
  void softmax();
  void top_p(float p);
  void min_p(float p);
  void typical(float p);
  void xtc();
  void dynamic_temperature();
  size_t draw(std::mt19937& rng) const;
  int32_t greedy() const;
  int32_t mirostat();
  void load(const float* logits);
  int32_t run_chain();
  bool grammar_allows(int32_t token) const;

  SamplingParams params_;
  int64_t n_vocab_;
  size_t history_limit_;
  size_t dry_limit_ = 0;
  uint32_t seed_;
  std::mt19937 rng_;
  std::mt19937 xtc_rng_;
  float mu_;
  bool sorted_ = false;
  bool greedy_keeps_argmax_ = false;
  std::deque<int32_t> history_;
  std::deque<int32_t> dry_history_;
  std::vector<Candidate> candidates_;
  std::vector<int32_t> counts_;
  std::vector<int32_t> banned_;
  // DRY: for a token that starts a sequence breaker, the breaker's rest ("" when the token holds it all).
  std::multimap<int32_t, std::string> breakers_;
  std::vector<std::string> pieces_;  // kept only for breakers that span tokens
  std::vector<int> dry_repeat_;
  std::map<int32_t, int> dry_max_;
  std::shared_ptr<grammar::StackPool> grammar_stacks_;  // shared by the matcher and the masker
  std::optional<grammar::Matcher> grammar_;
  std::optional<grammar::TokenMasker> grammar_masker_;
  std::vector<uint64_t> grammar_mask_;
  std::shared_ptr<const std::vector<std::string>> grammar_pieces_;  // n_vocab token texts
  std::vector<bool> grammar_eog_;
};

}  // namespace cria::sampling
