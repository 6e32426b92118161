// KL divergence against hand-computed values: identical models give 0, and two small distributions give
// the textbook sum p log(p/q).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/kl_divergence.h"

namespace cria::engine {
namespace {

TEST(KlDivergence, IdenticalLogitsGiveZeroAndAgree) {
  KlReference reference(5);
  const std::vector<float> a = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f}, b = {0.0f, 0.0f, 4.0f, 1.0f, -1.0f};
  reference.record(a.data());
  reference.record(b.data());
  KlAccumulator kl(reference);
  // Logits shifted by a constant are the same distribution.
  std::vector<float> a_shifted = a;
  for (float& v : a_shifted) v += 7.0f;
  EXPECT_TRUE(kl.add(a_shifted.data()));
  EXPECT_TRUE(kl.add(b.data()));
  EXPECT_FALSE(kl.add(b.data())) << "more positions than recorded";
  const KlStats s = kl.stats();
  EXPECT_EQ(s.n_positions, 2);
  EXPECT_NEAR(s.mean, 0.0, 1e-7);
  EXPECT_DOUBLE_EQ(s.same_top, 1.0);
}

TEST(KlDivergence, MatchesTheDefinition) {
  // p = (1/2, 1/2), q = (3/4, 1/4): KL = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3).
  // p = (3/4, 1/4), q = (1/4, 3/4): KL = 3/4 ln 3 + 1/4 ln(1/3) = 1/2 ln 3; the top tokens differ.
  KlReference reference(2);
  const std::vector<float> half = {0.0f, 0.0f}, three_one = {std::log(3.0f), 0.0f}, one_three = {0.0f, std::log(3.0f)};
  reference.record(half.data());
  reference.record(three_one.data());
  KlAccumulator kl(reference);
  kl.add(three_one.data());
  kl.add(one_three.data());
  const KlStats s = kl.stats();
  const double first = 0.5 * std::log(4.0 / 3.0), second = 0.5 * std::log(3.0);
  EXPECT_NEAR(s.mean, (first + second) / 2, 1e-6);
  EXPECT_NEAR(s.max, second, 1e-6);
  EXPECT_DOUBLE_EQ(s.same_top, 0.5);
  EXPECT_GT(s.mean_error, 0.0);
}

}  // namespace
}  // namespace cria::engine
