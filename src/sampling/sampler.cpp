#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

namespace cria::sampling {

namespace {

struct StageName {
  const char* name;
  Stage stage;
};

// The first spelling of each stage is llama.cpp's canonical name; the others are its alternatives.
constexpr StageName kStageNames[] = {
    {"penalties", Stage::kPenalties}, {"dry", Stage::kDry},          {"top_k", Stage::kTopK},
    {"typ_p", Stage::kTypicalP},      {"top_p", Stage::kTopP},       {"min_p", Stage::kMinP},
    {"xtc", Stage::kXtc},             {"temperature", Stage::kTemperature},
    {"top-k", Stage::kTopK},          {"typical_p", Stage::kTypicalP}, {"typical-p", Stage::kTypicalP},
    {"typ-p", Stage::kTypicalP},      {"typical", Stage::kTypicalP}, {"typ", Stage::kTypicalP},
    {"top-p", Stage::kTopP},          {"nucleus", Stage::kTopP},     {"min-p", Stage::kMinP},
    {"temp", Stage::kTemperature},
};

constexpr struct {
  char letter;
  Stage stage;
} kStageLetters[] = {{'e', Stage::kPenalties}, {'d', Stage::kDry},  {'k', Stage::kTopK}, {'y', Stage::kTypicalP},
                     {'p', Stage::kTopP},      {'m', Stage::kMinP}, {'x', Stage::kXtc},  {'t', Stage::kTemperature}};

constexpr auto by_logit = [](const auto& a, const auto& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
};

}  // namespace

std::vector<Stage> default_stages() {
  return {Stage::kPenalties, Stage::kDry, Stage::kTopK, Stage::kTypicalP,
          Stage::kTopP,      Stage::kMinP, Stage::kXtc, Stage::kTemperature};
}

std::string parse_stage_names(const std::string& names, std::vector<Stage>& out) {
  out.clear();
  std::string unknown;
  size_t start = 0;
  while (start <= names.size()) {
    const size_t end = std::min(names.find(';', start), names.size());
    const std::string name = names.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    const auto* hit = std::find_if(std::begin(kStageNames), std::end(kStageNames),
                                   [&](const StageName& s) { return name == s.name; });
    if (hit != std::end(kStageNames)) {
      out.push_back(hit->stage);
    } else {
      unknown += (unknown.empty() ? "" : ", ") + name;
    }
  }
  if (unknown.empty()) return "";
  return "unknown sampler " + unknown + " (known: penalties;dry;top_k;typ_p;top_p;min_p;xtc;temperature)";
}

std::string parse_stage_chars(const std::string& chars, std::vector<Stage>& out) {
  out.clear();
  std::string unknown;
  for (char c : chars) {
    const auto* hit = std::find_if(std::begin(kStageLetters), std::end(kStageLetters),
                                   [&](const auto& s) { return c == s.letter; });
    if (hit != std::end(kStageLetters)) {
      out.push_back(hit->stage);
    } else {
      unknown += (unknown.empty() ? "" : ", ") + std::string(1, c);
    }
  }
  if (unknown.empty()) return "";
  return "unknown sampler letter " + unknown + " (known: e d k y p m x t)";
}

std::string stage_names(const std::vector<Stage>& stages) {
  std::string text;
  for (Stage s : stages) {
    const auto* hit = std::find_if(std::begin(kStageNames), std::end(kStageNames),
                                   [&](const StageName& n) { return n.stage == s; });
    text += (text.empty() ? "" : ";") + std::string(hit->name);
  }
  return text;
}

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab, int n_ctx, const PieceFn& piece)
    : params_(params), n_vocab_(n_vocab) {
  history_limit_ = params.repeat_last_n < 0 ? static_cast<size_t>(n_ctx) : static_cast<size_t>(params.repeat_last_n);
  seed_ = params.seed == 0xFFFFFFFF ? std::random_device{}() : params.seed;
  rng_.seed(seed_);
  xtc_rng_.seed(seed_);
  mu_ = 2.0f * params.mirostat_tau;
  candidates_.reserve(static_cast<size_t>(n_vocab));
  counts_.assign(static_cast<size_t>(n_vocab), 0);
  // Top-k, top-p and min-p always keep the most likely token; typical-p and XTC may drop it.
  const auto temperature = std::find(params.stages.begin(), params.stages.end(), Stage::kTemperature);
  const bool typical_on = params.typical_p < 1.0f, xtc_on = params.xtc_probability > 0.0f && params.xtc_threshold <= 0.5f;
  greedy_keeps_argmax_ = temperature != params.stages.end() &&
                         std::none_of(params.stages.begin(), temperature, [&](Stage s) {
                           return (s == Stage::kTypicalP && typical_on) || (s == Stage::kXtc && xtc_on);
                         });
  const bool dry = params.dry_multiplier != 0.0f && params.dry_base >= 1.0f && params.dry_penalty_last_n != 0;
  if (!dry) return;
  dry_limit_ = static_cast<size_t>(params.dry_penalty_last_n < 0 ? n_ctx : std::min(params.dry_penalty_last_n, n_ctx));
  if (!piece) return;
  std::vector<std::string> pieces(static_cast<size_t>(n_vocab));
  for (int64_t id = 0; id < n_vocab; ++id) pieces[static_cast<size_t>(id)] = piece(static_cast<int32_t>(id));
  // A token breaks a repeat when its text holds a breaker, or ends with the start of one that the next
  // tokens complete (llama.cpp caps breakers at 40 characters).
  bool spans = false;
  for (std::string breaker : params.dry_sequence_breakers) {
    if (breaker.empty()) continue;
    breaker.resize(std::min<size_t>(breaker.size(), 40));
    for (size_t id = 0; id < pieces.size(); ++id) {
      const std::string& word = pieces[id];
      if (word.find(breaker) != std::string::npos) {
        breakers_.emplace(static_cast<int32_t>(id), "");
        continue;
      }
      for (size_t pos = word.find(breaker[0]); pos != std::string::npos; pos = word.find(breaker[0], pos + 1)) {
        const size_t overlap = word.size() - pos;
        if (word.compare(pos, overlap, breaker, 0, overlap) == 0) {
          breakers_.emplace(static_cast<int32_t>(id), breaker.substr(overlap));
          spans = true;
        }
      }
    }
  }
  if (spans) pieces_ = std::move(pieces);
}

void Sampler::accept(int32_t token) {
  if (history_limit_ != 0) {
    history_.push_back(token);
    while (history_.size() > history_limit_) history_.pop_front();
  }
  if (dry_limit_ != 0) {
    dry_history_.push_back(token);
    while (dry_history_.size() > dry_limit_) dry_history_.pop_front();
  }
}

void Sampler::reset() {
  history_.clear();
  dry_history_.clear();
  mu_ = 2.0f * params_.mirostat_tau;
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
  sorted_ = false;
}

// How far back (in tokens from the newest) a repeat may reach before it meets a sequence breaker.
int Sampler::dry_restart_limit(int n) const {
  const auto at = [&](int i) { return dry_history_[dry_history_.size() - 1 - static_cast<size_t>(i)]; };
  for (int i = 0; i < n; ++i) {
    auto [first, last] = breakers_.equal_range(at(i));
    int longest = -1;
    for (auto it = first; it != last; ++it) {
      const std::string& tail = it->second;
      int used = 0;
      std::string text;
      while (text.size() < tail.size() && used < i) {
        text += pieces_[static_cast<size_t>(at(i - used - 1))];
        ++used;
        if (tail.compare(0, std::min(text.size(), tail.size()), text, 0, std::min(text.size(), tail.size())) != 0) break;
      }
      const bool match = text.size() >= tail.size() && text.compare(0, tail.size(), tail) == 0;
      if (match && used > longest) longest = used;
    }
    if (longest >= 0) return i - longest;
  }
  return n;
}

// DRY ("don't repeat yourself"): a token that would extend a sequence already seen earlier in the
// context, by at least the allowed length, loses multiplier * base^(length - allowed length) of logit.
void Sampler::apply_dry() {
  const int allowed = params_.dry_allowed_length;
  const int n = static_cast<int>(dry_history_.size());
  if (dry_limit_ == 0 || n <= allowed) return;
  const int limit = dry_restart_limit(n);
  if (limit < allowed) return;
  // dry_repeat_[j]: how many tokens ending at position j match the tokens ending at the newest one.
  dry_repeat_.assign(static_cast<size_t>(n), 0);
  for (int k = 1; k < n; ++k) {
    int len = 0;
    while (len < limit && len + k < n && dry_history_[static_cast<size_t>(n - 1 - len)] == dry_history_[static_cast<size_t>(n - 1 - len - k)]) ++len;
    dry_repeat_[static_cast<size_t>(n - 1 - k)] = len;
  }
  dry_max_.clear();
  for (int j = 0; j + 1 < n; ++j) {
    const int len = dry_repeat_[static_cast<size_t>(j)];
    if (len < allowed) continue;
    int& best = dry_max_[dry_history_[static_cast<size_t>(j + 1)]];
    best = std::max(best, len);
  }
  const int max_exponent = params_.dry_base > 1.000001f ? static_cast<int>(88.7228391f / std::log(params_.dry_base)) : 0;
  for (auto& c : candidates_) {
    const auto hit = dry_max_.find(c.id);
    if (hit == dry_max_.end()) continue;
    auto [first, last] = breakers_.equal_range(c.id);
    if (std::any_of(first, last, [](const auto& b) { return b.second.empty(); })) continue;
    int exponent = hit->second - allowed;
    if (max_exponent > 0) exponent = std::min(exponent, max_exponent);
    const float penalty = params_.dry_multiplier * static_cast<float>(std::pow(params_.dry_base, exponent));
    c.logit -= penalty;
  }
  sorted_ = false;
}

void Sampler::sort_candidates() {
  if (sorted_) return;
  std::sort(candidates_.begin(), candidates_.end(), by_logit);
  sorted_ = true;
}

void Sampler::top_k(int k) {
  if (k <= 0 || static_cast<size_t>(k) >= candidates_.size()) {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  } else {
    std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(), by_logit);
    candidates_.resize(static_cast<size_t>(k));
  }
  sorted_ = true;
}

void Sampler::softmax() {
  sort_candidates();
  const float max = candidates_.front().logit;
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
  sort_candidates();
  const float threshold = candidates_.front().logit + std::log(p);
  size_t keep = 1;
  while (keep < candidates_.size() && candidates_[keep].logit >= threshold) ++keep;
  candidates_.resize(keep);
}

// Locally typical sampling: the tokens whose surprise is closest to the distribution's entropy, in that
// order, until their mass passes p.
void Sampler::typical(float p) {
  if (p >= 1.0f) return;
  softmax();
  float entropy = 0.0f;
  for (const auto& c : candidates_) {
    if (c.p > 0.0f) entropy -= c.p * std::log(c.p);
  }
  const auto distance = [entropy](const Candidate& c) { return std::fabs(-std::log(c.p) - entropy); };
  std::stable_sort(candidates_.begin(), candidates_.end(),
                   [&](const Candidate& a, const Candidate& b) { return distance(a) < distance(b); });
  float cumulative = 0.0f;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    cumulative += candidates_[i].p;
    if (cumulative > p) {
      candidates_.resize(i + 1);
      break;
    }
  }
  sorted_ = false;
}

// Exclude Top Choices: with probability xtc_probability, every token at or above the threshold but the
// least likely of them is removed.
void Sampler::xtc() {
  if (params_.xtc_probability <= 0.0f || params_.xtc_threshold > 0.5f || candidates_.size() < 2) return;
  std::uniform_real_distribution<float> chance(0.0f, 1.0f);
  if (chance(xtc_rng_) > params_.xtc_probability) return;
  softmax();
  size_t last_above = 0;
  while (last_above + 1 < candidates_.size() && candidates_[last_above + 1].p >= params_.xtc_threshold) ++last_above;
  if (last_above > 0 && candidates_[0].p >= params_.xtc_threshold) {
    candidates_.erase(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(last_above));
  }
}

size_t Sampler::draw(std::mt19937& rng) const {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double r = uniform(rng);
  for (size_t i = 0; i < candidates_.size(); ++i) {
    r -= candidates_[i].p;
    if (r <= 0) return i;
  }
  return candidates_.size() - 1;
}

// llama.cpp's dynamic temperature (temp-ext): the normalised entropy of the current distribution, to the
// power dynatemp_exponent, places the temperature between max(0, temp - range) and temp + range.
void Sampler::dynamic_temperature() {
  if (candidates_.size() <= 1) return;
  const float max_entropy = -std::log(1.0f / static_cast<float>(candidates_.size()));
  softmax();
  float entropy = 0.0f;
  for (const auto& c : candidates_) {
    if (c.p > 0.0f) entropy -= c.p * std::log(c.p);
  }
  const float low = std::max(0.0f, params_.temp - params_.dynatemp_range), high = params_.temp + params_.dynatemp_range;
  const float t = low + (high - low) * std::pow(entropy / max_entropy, params_.dynatemp_exponent);
  for (auto& c : candidates_) c.logit /= t;
}

int32_t Sampler::greedy() const {
  // The first largest logit.
  return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;
}

// Mirostat (v1) and mirostat 2.0: keep the surprise of the drawn tokens near tau by truncating the
// distribution, learning the truncation point mu at rate eta.
int32_t Sampler::mirostat() {
  if (params_.temp <= 0.0f) return greedy();
  for (auto& c : candidates_) c.logit /= params_.temp;
  softmax();
  if (params_.mirostat == 1) {
    // Estimate the Zipf exponent s from the 100 most likely tokens, then the k that gives surprise mu.
    float sum_tb = 0.0f, sum_tt = 0.0f;
    for (size_t i = 0; i + 1 < std::min<size_t>(100, candidates_.size()); ++i) {
      const float t = std::log(static_cast<float>(i + 2) / static_cast<float>(i + 1));
      const float b = std::log(candidates_[i].p / candidates_[i + 1].p);
      sum_tb += t * b;
      sum_tt += t * t;
    }
    const float s = sum_tb / sum_tt;
    const float eps = s - 1.0f;
    const float k = std::pow(eps * std::pow(2.0f, mu_) / (1.0f - std::pow(static_cast<float>(n_vocab_), -eps)), 1.0f / s);
    const size_t keep = std::isfinite(k) && k >= 1.0f ? std::min(static_cast<size_t>(k), candidates_.size()) : 1;
    candidates_.resize(keep);
  } else {
    size_t keep = 0;
    while (keep < candidates_.size() && -std::log2(candidates_[keep].p) <= mu_) ++keep;
    candidates_.resize(std::max<size_t>(keep, 1));
  }
  softmax();
  const size_t picked = draw(rng_);
  const float surprise = -std::log2(candidates_[picked].p);
  mu_ -= params_.mirostat_eta * (surprise - params_.mirostat_tau);
  return candidates_[picked].id;
}

void Sampler::set_grammar(std::shared_ptr<const grammar::Grammar> grammar,
                          std::shared_ptr<const std::vector<std::string>> pieces, const std::vector<int32_t>& eog) {
  grammar_stacks_ = std::make_shared<grammar::StackPool>(std::move(grammar));
  grammar_.emplace(grammar_stacks_);
  if (pieces->size() < static_cast<size_t>(n_vocab_)) {
    auto padded = std::make_shared<std::vector<std::string>>(*pieces);
    padded->resize(static_cast<size_t>(n_vocab_));  // tokens without text are never allowed
    pieces = std::move(padded);
  }
  grammar_pieces_ = std::move(pieces);
  grammar_masker_.emplace(grammar_stacks_, grammar::TokenTrie::of(grammar_pieces_));
  grammar_eog_.assign(static_cast<size_t>(n_vocab_), false);
  for (int32_t t : eog) {
    if (t >= 0 && t < n_vocab_) grammar_eog_[static_cast<size_t>(t)] = true;
  }
}

bool Sampler::grammar_allows(int32_t token) const {
  const auto t = static_cast<size_t>(token);
  if (grammar_eog_[t]) return grammar_->can_end();
  const std::string& piece = (*grammar_pieces_)[t];
  return !piece.empty() && grammar_->allows(piece);
}

void Sampler::load(const float* logits) {
  candidates_.clear();
  for (int64_t i = 0; i < n_vocab_; ++i) candidates_.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
  for (int32_t t : banned_) {
    if (t >= 0 && t < n_vocab_) candidates_[static_cast<size_t>(t)].logit = -INFINITY;
  }
  sorted_ = false;
}

int32_t Sampler::sample(const float* logits) {
  load(logits);
  int32_t id = run_chain();
  if (!grammar_) return id;
  if (!grammar_allows(id)) {
    // Again over the tokens the grammar allows (none: the grammar is stuck, and generation ends with the
    // first end-of-generation token, or the unconstrained choice if there is none).
    load(logits);
    grammar_masker_->fill(grammar_->state(), grammar_mask_);
    const bool can_end = grammar_->can_end();
    bool any = false;
    for (auto& c : candidates_) {
      if (c.logit == -INFINITY) continue;
      const auto t = static_cast<size_t>(c.id);
      if (grammar_eog_[t] ? can_end : (grammar_mask_[t >> 6] >> (t & 63)) & 1) {
        any = true;
      } else {
        c.logit = -INFINITY;
      }
    }
    if (!any) {
      const auto eog = std::find(grammar_eog_.begin(), grammar_eog_.end(), true);
      return eog != grammar_eog_.end() ? static_cast<int32_t>(eog - grammar_eog_.begin()) : id;
    }
    id = run_chain();
  }
  if (!grammar_eog_[static_cast<size_t>(id)]) grammar_->accept((*grammar_pieces_)[static_cast<size_t>(id)]);
  return id;
}

int32_t Sampler::run_chain() {
  if (params_.mirostat != 0) return mirostat();
  if (params_.temp <= 0.0f && greedy_keeps_argmax_) {
    // Greedy, and no stage before temperature can drop the best token: only the logit changes matter.
    for (Stage stage : params_.stages) {
      if (stage == Stage::kPenalties) apply_penalties();
      if (stage == Stage::kDry) apply_dry();
      if (stage == Stage::kTemperature) return greedy();
    }
  }
  for (Stage stage : params_.stages) {
    switch (stage) {
      case Stage::kPenalties: apply_penalties(); break;
      case Stage::kDry: apply_dry(); break;
      case Stage::kTopK: top_k(params_.top_k); break;
      case Stage::kTypicalP: typical(params_.typical_p); break;
      case Stage::kTopP: top_p(params_.top_p); break;
      case Stage::kMinP: min_p(params_.min_p); break;
      case Stage::kXtc: xtc(); break;
      case Stage::kTemperature:
        if (params_.temp <= 0.0f) return greedy();
        if (params_.dynatemp_range > 0.0f) {
          dynamic_temperature();
          break;
        }
        for (auto& c : candidates_) c.logit /= params_.temp;
        break;
    }
  }
  softmax();
  return candidates_[draw(rng_)].id;
}

}  // namespace cria::sampling
