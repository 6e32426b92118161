// The SIMD attention kernels against the scalar reference: random f16 keys and values, odd key counts,
// several head sizes (including ones that fall back to scalar).
#include <gtest/gtest.h>

#include <cmath>

#include "core/fp16.h"
#include "ops/attention.h"
#include "test_support.h"

namespace cria::ops {
namespace {

TEST(KernelAttentionConformance, EveryIsaMatchesScalar) {
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    const AttentionFn fast = attention_kernel(isa);
    for (int head_dim : {8, 32, 64, 128, 12}) {
      for (int n_keys : {1, 7, 64, 257}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " head_dim=" + std::to_string(head_dim) +
                     " n_keys=" + std::to_string(n_keys));
        const size_t stride = static_cast<size_t>(head_dim) * 3;  // rows of several heads, as in the cache
        const auto q = test::gaussian(static_cast<size_t>(head_dim), 1, 2.0f);
        const auto kv = test::gaussian(stride * n_keys * 2, 2, 1.0f);
        std::vector<uint16_t> k(stride * n_keys), v(stride * n_keys);
        for (size_t i = 0; i < k.size(); ++i) {
          k[i] = fp32_to_fp16(kv[i]);
          v[i] = fp32_to_fp16(kv[k.size() + i]);
        }
        std::vector<float> scores(static_cast<size_t>(n_keys)), want(static_cast<size_t>(head_dim)),
            got(static_cast<size_t>(head_dim));
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        scalar_attention()(q.data(), k.data() + head_dim, v.data() + head_dim, stride, n_keys, head_dim, scale,
                           scores.data(), want.data());
        fast(q.data(), k.data() + head_dim, v.data() + head_dim, stride, n_keys, head_dim, scale, scores.data(),
             got.data());
        for (int d = 0; d < head_dim; ++d) ASSERT_NEAR(got[d], want[d], 2e-3f) << "dimension " << d;
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops
