// The attention kernels against the scalar per-head reference: random f16 keys and values, odd key
// counts, several head sizes (including ones that fall back to scalar); and the flash (online-softmax,
// grouped) kernels of every instruction set through run_attention, for GQA groups of 1 to 64, odd head
// sizes, cached prefixes and 1 to 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/fp16.h"
#include "ops/attention.h"
#include "test_support.h"

namespace cria::ops {
namespace {

// Cache rows for n_keys keys, scattered over n_rows rows in a seeded order (keys of a sequence sit
// wherever the cache had free cells).
std::vector<int32_t> shuffled_cells(int n_keys, int n_rows, uint32_t seed = 7) {
  std::vector<int32_t> rows(static_cast<size_t>(n_rows));
  for (int i = 0; i < n_rows; ++i) rows[static_cast<size_t>(i)] = n_rows - 1 - i;
  for (int i = n_rows - 1; i > 0; --i) {
    seed = seed * 1664525u + 1013904223u;
    std::swap(rows[static_cast<size_t>(i)], rows[(seed >> 8) % static_cast<uint32_t>(i + 1)]);
  }
  rows.resize(static_cast<size_t>(n_keys));
  return rows;
}

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
        const auto cells = shuffled_cells(n_keys, n_keys);
        scalar_attention()(q.data(), k.data() + head_dim, v.data() + head_dim, cells.data(), stride, n_keys, head_dim,
                           scale, scores.data(), want.data());
        fast(q.data(), k.data() + head_dim, v.data() + head_dim, cells.data(), stride, n_keys, head_dim, scale,
             scores.data(), got.data());
        for (int d = 0; d < head_dim; ++d) ASSERT_NEAR(got[d], want[d], 2e-3f) << "dimension " << d;
      }
    }
  }
}

struct Shape {
  int n_head, n_head_kv, head_dim, n_past, n_tokens;
};

TEST(KernelAttentionConformance, FlashMatchesPerHeadReference) {
  const Shape shapes[] = {
      {32, 4, 64, 0, 7},    // TinyLlama's group of 8, a short prompt
      {32, 4, 64, 100, 33}, // after a cached prefix, several key tiles
      {8, 1, 64, 37, 1},    // one token, eight heads on one KV head (generation)
      {6, 2, 40, 5, 7},     // group of 3: rows padded inside the vectors
      {4, 4, 12, 3, 9},     // no GQA: rows are tokens; head size not a multiple of 8
      {4, 4, 12, 3, 2},     // too few rows per KV head: the per-head path
      {64, 1, 8, 0, 3},     // more heads per KV head than rows per job
      {8, 2, 64, 0, 513},   // a long prompt
      {2, 1, 130, 61, 5},   // odd head size above 128
  };
  for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    for (const Shape& sh : shapes) {
      const int n_keys = sh.n_past + sh.n_tokens;
      const size_t kv_stride = static_cast<size_t>(sh.n_head_kv) * sh.head_dim;
      const size_t q_size = static_cast<size_t>(sh.n_tokens) * sh.n_head * sh.head_dim;
      const auto q = test::gaussian(q_size, 3, 2.0f);
      const auto kv = test::gaussian(kv_stride * n_keys * 2, 4, 1.0f);
      std::vector<uint16_t> k(kv_stride * n_keys), v(kv_stride * n_keys);
      for (size_t i = 0; i < k.size(); ++i) {
        k[i] = fp32_to_fp16(kv[i]);
        v[i] = fp32_to_fp16(kv[k.size() + i]);
      }
      const float scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));
      const auto cells = shuffled_cells(n_keys, n_keys);
      // The reference: each (token, head) on its own with the scalar per-head kernel.
      std::vector<float> want(q_size), scores(static_cast<size_t>(n_keys));
      const int group = sh.n_head / sh.n_head_kv;
      for (int t = 0; t < sh.n_tokens; ++t) {
        for (int h = 0; h < sh.n_head; ++h) {
          const size_t row = (static_cast<size_t>(t) * sh.n_head + h) * sh.head_dim;
          const size_t off = static_cast<size_t>(h / group) * sh.head_dim;
          scalar_attention()(&q[row], &k[off], &v[off], cells.data(), kv_stride, sh.n_past + t + 1, sh.head_dim,
                             scale, scores.data(), &want[row]);
        }
      }
      for (int threads = 1; threads <= 3; ++threads) {
       for (bool online : {false, true}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + (online ? " online" : " exact") + " heads=" + std::to_string(sh.n_head) + "/" +
                     std::to_string(sh.n_head_kv) + " head_dim=" + std::to_string(sh.head_dim) +
                     " n_past=" + std::to_string(sh.n_past) + " tokens=" + std::to_string(sh.n_tokens) +
                     " threads=" + std::to_string(threads));
        ThreadPool pool(threads);
        std::vector<float> scratch(static_cast<size_t>(threads) * attention_scratch_floats(sh.head_dim, n_keys));
        std::vector<float> got(q_size, std::nanf(""));
        const AttentionSegment segment{cells.data(), 0, sh.n_tokens, sh.n_past};
        AttentionBatch batch{q.data(), k.data(), v.data(), kv_stride, got.data(), {&segment, 1},
                             sh.n_head, sh.n_head_kv, sh.head_dim, scale, online};
        run_attention(batch, isa, pool, scratch);
        // The exact softmax differs from the reference only in exp's last bits (which can move a
        // probability by one f16 step); the online one keeps f32 probabilities (2^-11 relative apart).
        const float tolerance = online ? 2e-3f : 5e-4f;
        for (size_t i = 0; i < q_size; ++i) ASSERT_NEAR(got[i], want[i], tolerance) << "element " << i;
       }
      }
    }
  }
}

// Several sequences in one batch, each over its own scattered keys, against each segment run alone; and
// with batch_invariant, every token's output is bitwise the same whatever segment it is in and however
// many tokens that segment has (decoding one token, or a prompt split anywhere).
TEST(KernelAttentionConformance, SegmentsAreIndependentAndBatchInvariant) {
  struct Seq {
    int n_past, n_tokens;
  };
  const Seq seqs[] = {{0, 5}, {17, 1}, {40, 33}, {3, 2}, {70, 1}};
  for (const Shape& heads : {Shape{8, 4, 32, 0, 0}, Shape{32, 4, 64, 0, 0}, Shape{4, 4, 12, 0, 0}}) {
    const size_t kv_stride = static_cast<size_t>(heads.n_head_kv) * heads.head_dim;
    const int n_rows = 400;
    const auto kv = test::gaussian(kv_stride * n_rows * 2, 11, 1.0f);
    std::vector<uint16_t> k(kv_stride * n_rows), v(kv_stride * n_rows);
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = fp32_to_fp16(kv[i]);
      v[i] = fp32_to_fp16(kv[k.size() + i]);
    }
    // Disjoint scattered rows for each sequence.
    const auto all_rows = shuffled_cells(n_rows, n_rows, 3);
    std::vector<AttentionSegment> segments;
    int t0 = 0, row0 = 0;
    for (const Seq& sq : seqs) {
      segments.push_back({all_rows.data() + row0, t0, sq.n_tokens, sq.n_past});
      t0 += sq.n_tokens;
      row0 += sq.n_past + sq.n_tokens;
    }
    const int n_tokens = t0;
    const size_t row = static_cast<size_t>(heads.n_head) * heads.head_dim;
    const auto q = test::gaussian(row * n_tokens, 12, 2.0f);
    const float scale = 1.0f / std::sqrt(static_cast<float>(heads.head_dim));
    for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
      const Isa isa = static_cast<Isa>(isa_index);
      if (!isa_available(isa)) continue;
      for (bool online : {false, true}) {
        for (bool invariant : {false, true}) {
          SCOPED_TRACE(std::string(isa_name(isa)) + (online ? " online" : " exact") +
                       (invariant ? " invariant" : "") + " heads=" + std::to_string(heads.n_head) + "/" +
                       std::to_string(heads.n_head_kv));
          ThreadPool pool(2);
          std::vector<float> scratch(2 * attention_scratch_floats(heads.head_dim, n_rows));
          auto run = [&](std::span<const AttentionSegment> segs, float* out) {
            AttentionBatch b{q.data(), k.data(), v.data(), kv_stride, out, segs, heads.n_head, heads.n_head_kv,
                             heads.head_dim, scale, online, invariant};
            run_attention(b, isa, pool, scratch);
          };
          std::vector<float> together(row * n_tokens, std::nanf(""));
          run(segments, together.data());
          for (const AttentionSegment& seg : segments) {
            std::vector<float> alone(row * n_tokens, std::nanf(""));
            run({&seg, 1}, alone.data());
            for (size_t i = row * seg.t0; i < row * (seg.t0 + seg.n_tokens); ++i) {
              ASSERT_EQ(alone[i], together[i]) << "segment at token " << seg.t0 << ", element " << i;
            }
            if (!invariant) continue;
            // Each token of the segment as a one-token segment of its own.
            for (int t = 0; t < seg.n_tokens; ++t) {
              const AttentionSegment one{seg.cells, seg.t0 + t, 1, seg.n_past + t};
              std::vector<float> single(row * n_tokens, std::nanf(""));
              run({&one, 1}, single.data());
              for (size_t i = row * one.t0; i < row * (one.t0 + 1); ++i) {
                ASSERT_EQ(single[i], together[i]) << "token " << one.t0 << ", element " << i;
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops
