// NEOX rotary embedding: against a rotation computed in double, dimensions past n_rot untouched, and
// bitwise equal to NORM mode on the same head with its dimensions interleaved (i -> 2i, i + n_rot/2 ->
// 2i + 1), which is what makes the two modes the same arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ops/basic_ops.h"
#include "test_support.h"

namespace cria::ops {
namespace {

struct RopeShape {
  int n_heads, head_dim, n_rot;
  int64_t position;
};
constexpr RopeShape kShapes[] = {
    {3, 64, 64, 17}, {2, 128, 128, 4000}, {4, 80, 32, 123}, {1, 96, 64, 0}, {5, 6, 2, 9}};

std::vector<float> tables(const RopeShape& sh, std::vector<float>& sin_v) {
  RopeConfig cfg;
  cfg.n_rot = sh.n_rot;
  cfg.freq_base = 1000000.0f;
  std::vector<float> cos_v(static_cast<size_t>(sh.n_rot / 2));
  sin_v.resize(cos_v.size());
  rope_cos_sin(cfg, sh.position, cos_v.data(), sin_v.data());
  return cos_v;
}

TEST(RopeNeox, MatchesRotationInDouble) {
  for (const RopeShape& sh : kShapes) {
    SCOPED_TRACE("head_dim=" + std::to_string(sh.head_dim) + " n_rot=" + std::to_string(sh.n_rot));
    std::vector<float> sin_v;
    const auto cos_v = tables(sh, sin_v);
    const auto in = test::gaussian(static_cast<size_t>(sh.n_heads * sh.head_dim), 51, 3.0f);
    auto x = in;
    rope_neox(x.data(), sh.n_heads, sh.head_dim, sh.n_rot, cos_v.data(), sin_v.data());
    const int half = sh.n_rot / 2;
    for (int h = 0; h < sh.n_heads; ++h) {
      const float* v = &in[static_cast<size_t>(h * sh.head_dim)];
      const float* r = &x[static_cast<size_t>(h * sh.head_dim)];
      for (int i = 0; i < half; ++i) {
        const double c = cos_v[i], s = sin_v[i], a = v[i], b = v[i + half];
        const double tol = 4e-7 * (std::fabs(a) + std::fabs(b));
        ASSERT_NEAR(r[i], a * c - b * s, tol) << "head " << h << " pair " << i;
        ASSERT_NEAR(r[i + half], a * s + b * c, tol) << "head " << h << " pair " << i;
      }
      for (int d = sh.n_rot; d < sh.head_dim; ++d)
        ASSERT_EQ(std::memcmp(&r[d], &v[d], 4), 0) << "dimension " << d;
    }
  }
}

TEST(RopeNeox, EqualsNormOnInterleavedDimensions) {
  for (const RopeShape& sh : kShapes) {
    SCOPED_TRACE("head_dim=" + std::to_string(sh.head_dim) + " n_rot=" + std::to_string(sh.n_rot));
    std::vector<float> sin_v;
    const auto cos_v = tables(sh, sin_v);
    auto neox = test::gaussian(static_cast<size_t>(sh.n_heads * sh.head_dim), 52, 3.0f);
    auto norm = neox;
    const int half = sh.n_rot / 2;
    // index in the NORM layout of NEOX dimension d
    auto interleaved = [half, &sh](int d) {
      return d >= sh.n_rot ? d : d < half ? 2 * d : 2 * (d - half) + 1;
    };
    for (int h = 0; h < sh.n_heads; ++h) {
      for (int d = 0; d < sh.head_dim; ++d)
        norm[static_cast<size_t>(h * sh.head_dim + interleaved(d))] =
            neox[static_cast<size_t>(h * sh.head_dim + d)];
    }
    rope_neox(neox.data(), sh.n_heads, sh.head_dim, sh.n_rot, cos_v.data(), sin_v.data());
    rope_norm(norm.data(), sh.n_heads, sh.head_dim, sh.n_rot, cos_v.data(), sin_v.data());
    for (int h = 0; h < sh.n_heads; ++h) {
      for (int d = 0; d < sh.head_dim; ++d) {
        const float a = neox[static_cast<size_t>(h * sh.head_dim + d)];
        const float b = norm[static_cast<size_t>(h * sh.head_dim + interleaved(d))];
        ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << "head " << h << " dimension " << d;
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops
