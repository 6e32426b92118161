// The samplers beyond llama.cpp's basic chain (typical-p, XTC, DRY, mirostat 1 and 2, dynamic temperature)
// and the chain's order, on small logit rows whose expected results follow from each algorithm by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace cria::sampling {
namespace {

// Logits whose softmax is exactly `probs`.
std::vector<float> logits_of(const std::vector<float>& probs) {
  std::vector<float> out;
  for (float p : probs) out.push_back(std::log(p));
  return out;
}

// Every stage off: the draw sees the softmax of the logits as they are.
SamplingParams plain(uint32_t seed = 1) {
  SamplingParams p;
  p.temp = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

std::set<int32_t> drawn(const SamplingParams& base, const std::vector<float>& logits, int seeds) {
  std::set<int32_t> seen;
  for (int s = 0; s < seeds; ++s) {
    SamplingParams p = base;
    p.seed = static_cast<uint32_t>(s + 1);
    Sampler sampler(p, static_cast<int64_t>(logits.size()), 64);
    seen.insert(sampler.sample(logits.data()));
  }
  return seen;
}

TEST(SamplerStages, DefaultOrderIsLlamaCpps) {
  std::vector<Stage> names, letters;
  EXPECT_EQ(parse_stage_names("penalties;dry;top_k;typ_p;top_p;min_p;xtc;temperature", names), "");
  EXPECT_EQ(parse_stage_chars("edkypmxt", letters), "");
  EXPECT_EQ(names, default_stages());
  EXPECT_EQ(letters, default_stages());
  EXPECT_EQ(stage_names(default_stages()), "penalties;dry;top_k;typ_p;top_p;min_p;xtc;temperature");
  EXPECT_EQ(parse_stage_names("top-k;typical;nucleus;min-p;temp", names), "");
  EXPECT_EQ(names, (std::vector<Stage>{Stage::kTopK, Stage::kTypicalP, Stage::kTopP, Stage::kMinP, Stage::kTemperature}));
}

TEST(SamplerStages, UnknownNamesAreNamed) {
  std::vector<Stage> out;
  const std::string bad = parse_stage_names("top_k;bogus;temperature;topx", out);
  EXPECT_NE(bad.find("bogus, topx"), std::string::npos) << bad;
  EXPECT_NE(parse_stage_chars("kqt", out).find("q"), std::string::npos);
}

// p = .4 .3 .2 .1: entropy 1.2799 nats; surprises .916 1.204 1.609 2.303 are .364 .076 .330 1.023 from it,
// so typical order is tokens 1, 2, 0, 3 and mass .45 keeps 1 and 2 (.3, then .5).
TEST(SamplerTypical, KeepsTheTokensNearestTheEntropy) {
  SamplingParams p = plain();
  p.typical_p = 0.45f;
  EXPECT_EQ(drawn(p, logits_of({0.4f, 0.3f, 0.2f, 0.1f}), 200), (std::set<int32_t>{1, 2}));
  SamplingParams greedy = p;
  greedy.temp = 0.0f;  // the best of the kept tokens, not the most likely one
  const auto logits = logits_of({0.4f, 0.3f, 0.2f, 0.1f});
  EXPECT_EQ(Sampler(greedy, 4, 64).sample(logits.data()), 1);
  p.typical_p = 1.0f;  // off
  EXPECT_EQ(drawn(p, logits_of({0.4f, 0.3f, 0.2f, 0.1f}), 200), (std::set<int32_t>{0, 1, 2, 3}));
}

// XTC at threshold .15 with this probability, greedy after it.
SamplingParams xtc_greedy(float probability) {
  SamplingParams p = plain();
  p.temp = 0.0f;
  p.xtc_probability = probability;
  p.xtc_threshold = 0.15f;
  return p;
}

// p = .4 .3 .2 .1 with threshold .15: tokens 0, 1, 2 are above; all but the least likely (2) go.
TEST(SamplerXtc, RemovesAllButTheLeastLikelyAboveThreshold) {
  SamplingParams p = xtc_greedy(1.0f);
  const auto logits = logits_of({0.4f, 0.3f, 0.2f, 0.1f});
  EXPECT_EQ(Sampler(p, 4, 64).sample(logits.data()), 2);
  p.xtc_threshold = 0.35f;  // only token 0 above: nothing to remove
  EXPECT_EQ(Sampler(p, 4, 64).sample(logits.data()), 0);
  p.xtc_threshold = 0.15f;
  p.xtc_probability = 0.0f;  // off
  EXPECT_EQ(Sampler(p, 4, 64).sample(logits.data()), 0);
}

TEST(SamplerXtc, AppliesWithItsProbability) {
  SamplingParams p = xtc_greedy(0.5f);
  EXPECT_EQ(drawn(p, logits_of({0.4f, 0.3f, 0.2f, 0.1f}), 100), (std::set<int32_t>{0, 2}));
}

TEST(SamplerChain, OrderMatters) {
  SamplingParams p = xtc_greedy(1.0f);
  p.temp = 1.0f;
  p.top_k = 1;
  const auto logits = logits_of({0.4f, 0.3f, 0.2f, 0.1f});
  ASSERT_EQ(parse_stage_names("top_k;xtc", p.stages), "");
  EXPECT_EQ(Sampler(p, 4, 64).sample(logits.data()), 0);  // one token left: XTC needs two
  ASSERT_EQ(parse_stage_names("xtc;top_k", p.stages), "");
  EXPECT_EQ(Sampler(p, 4, 64).sample(logits.data()), 2);  // 0 and 1 removed, then the best of 2, 3
}

// Tokens: a b c x y d; greedy, so a penalised token loses to `a` (logit 0, the lowest id) once its logit
// falls below 0.
const std::vector<std::string> kPieces = {"a", "b", "c", "x", "y", "d", "\n"};
enum { A, B, C, X, Y, D, NL };

int32_t dry_pick(SamplingParams p, const std::vector<int32_t>& history, int32_t favoured, float logit) {
  p.temp = 0.0f;
  p.dry_multiplier = 0.8f;
  Sampler sampler(p, static_cast<int64_t>(kPieces.size()), 64, [](int32_t id) { return kPieces[static_cast<size_t>(id)]; });
  for (int32_t t : history) sampler.accept(t);
  std::vector<float> logits(kPieces.size(), 0.0f);
  logits[static_cast<size_t>(favoured)] = logit;
  return sampler.sample(logits.data());
}

// "a b c d a b c": emitting d would repeat "a b c d", a repeat of 3 > allowed 2: penalty .8 * 1.75^1 = 1.4.
TEST(SamplerDry, PenaltyGrowsWithTheRepeatLength) {
  const std::vector<int32_t> h = {A, B, C, D, A, B, C};
  EXPECT_EQ(dry_pick(plain(), h, D, 1.39f), A);
  EXPECT_EQ(dry_pick(plain(), h, D, 1.41f), D);
  // "a b c d a b": c extends a repeat of exactly 2: penalty .8 * 1.75^0.
  const std::vector<int32_t> h2 = {A, B, C, D, A, B};
  EXPECT_EQ(dry_pick(plain(), h2, C, 0.79f), A);
  EXPECT_EQ(dry_pick(plain(), h2, C, 0.81f), C);
  SamplingParams longer = plain();
  longer.dry_allowed_length = 3;  // a repeat of 2 is allowed
  EXPECT_EQ(dry_pick(longer, h2, C, 0.01f), C);
  SamplingParams off = plain();
  off.dry_penalty_last_n = 0;
  EXPECT_EQ(dry_pick(off, h, D, 0.01f), D);
}

TEST(SamplerDry, SequenceBreakersStopTheRepeat) {
  // "a b c a b" penalises c; when b is a breaker, the repeat cannot reach past it.
  const std::vector<int32_t> h = {A, B, C, A, B};
  EXPECT_EQ(dry_pick(plain(), h, C, 0.5f), A);
  SamplingParams p = plain();
  p.dry_sequence_breakers = {"b"};
  EXPECT_EQ(dry_pick(p, h, C, 0.5f), C);
  // "x y a b c x y a b": c would extend "x y a b" (4: penalty .8 * 1.75^2 = 2.45); with the two-token
  // breaker "xy" the repeat stops after "a b" (2: penalty .8).
  const std::vector<int32_t> h2 = {X, Y, A, B, C, X, Y, A, B};
  EXPECT_EQ(dry_pick(plain(), h2, C, 1.0f), A);
  p.dry_sequence_breakers = {"xy"};
  EXPECT_EQ(dry_pick(p, h2, C, 1.0f), C);
  // "a b \n c a b": \n would extend "a b" but a breaker token itself is never penalised.
  EXPECT_EQ(dry_pick(plain(), {A, B, NL, C, A, B}, NL, 0.01f), NL);
  SamplingParams none = plain();
  none.dry_sequence_breakers = {};
  EXPECT_EQ(dry_pick(none, {A, B, NL, C, A, B}, NL, 0.01f), A);
}

// p = .5 .25 .125 .125: surprises 1, 2, 3, 3 bits. tau 1: mu = 2 keeps tokens 0 and 1 (2/3, 1/3).
TEST(SamplerMirostat, V2TruncatesAtMuAndLearns) {
  SamplingParams p = plain();
  p.mirostat = 2;
  p.mirostat_tau = 1.0f;
  p.mirostat_eta = 0.1f;
  const auto logits = logits_of({0.5f, 0.25f, 0.125f, 0.125f});
  std::set<int32_t> seen;
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    p.seed = seed;
    Sampler s(p, 4, 64);
    EXPECT_FLOAT_EQ(s.mirostat_mu(), 2.0f);
    const int32_t t = s.sample(logits.data());
    seen.insert(t);
    const double surprise = t == 0 ? std::log2(1.5) : std::log2(3.0);
    EXPECT_NEAR(s.mirostat_mu(), 2.0 - 0.1 * (surprise - 1.0), 1e-5);
  }
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));
  p.mirostat_tau = 0.1f;  // mu .2: every token is more surprising; the most likely one stays
  EXPECT_EQ(drawn(p, logits, 50), (std::set<int32_t>{0}));
}

// Zipf with exponent 2 over 100 tokens: s estimates to 2, k = (2^mu / (1 - 1/100))^(1/2).
// tau 2 (mu 4): k = 4.02, tokens 0-3. tau .5 (mu 1): k = 1.42, token 0.
TEST(SamplerMirostat, V1KeepsTheTopKForMu) {
  std::vector<float> logits;
  for (int i = 0; i < 100; ++i) logits.push_back(-2.0f * std::log(static_cast<float>(i + 1)));
  SamplingParams p = plain();
  p.mirostat = 1;
  p.mirostat_tau = 2.0f;
  EXPECT_EQ(drawn(p, logits, 400), (std::set<int32_t>{0, 1, 2, 3}));
  p.mirostat_tau = 0.5f;
  EXPECT_EQ(drawn(p, logits, 50), (std::set<int32_t>{0}));
}

// Dynamic temperature is the plain temperature that llama.cpp's temp-ext formula gives for the row:
// min + (max - min) * (H / log n)^exponent with min, max = temp -+ range; the same seeds draw the same
// tokens as that fixed temperature, and other tokens than temperature 1 alone.
TEST(SamplerDynamicTemperature, IsTheTemperatureTheEntropyGives) {
  const std::vector<float> probs = {0.7f, 0.1f, 0.1f, 0.1f};
  const auto logits = logits_of(probs);
  double entropy = 0;
  for (float q : probs) entropy -= q * std::log(static_cast<double>(q));
  for (float exponent : {1.0f, 2.0f}) {
    SamplingParams dynamic = plain();
    dynamic.dynatemp_range = 0.9f;
    dynamic.dynatemp_exponent = exponent;
    SamplingParams fixed = plain();
    fixed.temp = static_cast<float>(0.1 + 1.8 * std::pow(entropy / std::log(4.0), exponent));
    int differ_from_one = 0;
    for (uint32_t seed = 1; seed <= 300; ++seed) {
      dynamic.seed = fixed.seed = seed;
      SamplingParams one = plain(seed);
      const int32_t got = Sampler(dynamic, 4, 64).sample(logits.data());
      ASSERT_EQ(got, Sampler(fixed, 4, 64).sample(logits.data())) << "seed " << seed << " exponent " << exponent;
      differ_from_one += got != Sampler(one, 4, 64).sample(logits.data());
    }
    EXPECT_GT(differ_from_one, 0) << "exponent " << exponent;
  }
}

TEST(SamplerDefaults, MatchLlamaCpp) {
  const SamplingParams p;
  EXPECT_EQ(p.typical_p, 1.0f);
  EXPECT_EQ(p.xtc_probability, 0.0f);
  EXPECT_FLOAT_EQ(p.xtc_threshold, 0.1f);
  EXPECT_EQ(p.dry_multiplier, 0.0f);
  EXPECT_FLOAT_EQ(p.dry_base, 1.75f);
  EXPECT_EQ(p.dry_allowed_length, 2);
  EXPECT_EQ(p.dry_penalty_last_n, -1);
  EXPECT_EQ(p.dry_sequence_breakers, (std::vector<std::string>{"\n", ":", "\"", "*"}));
  EXPECT_EQ(p.mirostat, 0);
  EXPECT_EQ(p.dynatemp_range, 0.0f);
  EXPECT_EQ(p.dynatemp_exponent, 1.0f);
  EXPECT_FLOAT_EQ(p.mirostat_tau, 5.0f);
  EXPECT_FLOAT_EQ(p.mirostat_eta, 0.1f);
}

}  // namespace
}  // namespace cria::sampling
