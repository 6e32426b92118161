// The attention kernels against the scalar per-head reference: random f16 keys and values, odd key
// counts, several head sizes (including ones that fall back to scalar), with and without soft-capping;
// the scalar reference against attention computed in double (windows, soft-capping); and the grouped
// kernels of every instruction set (exact and online softmax) through run_attention, for GQA groups of 1
// to 64, odd head sizes, cached prefixes, 1 to 3 threads, sliding windows (down to the last key alone,
// past the whole context, different first keys within one job) and soft-capping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/kernel_set.h"
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

// Random f16 keys and values for n_rows cache rows of `stride` elements.
struct F16Cache {
  std::vector<uint16_t> k, v;
  F16Cache(size_t stride, int n_rows, uint32_t seed) : k(stride * n_rows), v(stride * n_rows) {
    const auto kv = test::gaussian(stride * n_rows * 2, seed, 1.0f);
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = fp32_to_fp16(kv[i]);
      v[i] = fp32_to_fp16(kv[k.size() + i]);
    }
  }
};

// Which keys each token sees and how scores are capped: a sliding window of `window` keys (0: none,
// first_key stays null), or random first keys (every token its own), and a soft-cap (0: none).
struct Variant {
  const char* name;
  int window;
  bool random_first;
  float softcap;
  float scale_factor;  // on 1/sqrt(head_dim): larger scores, so that a cap of 50 bites
};
constexpr Variant kPlain{"plain", 0, false, 0.0f, 1.0f};
constexpr Variant kVariants[] = {
    kPlain,
    {"softcap 50", 0, false, 50.0f, 12.0f},
    {"softcap 2", 0, false, 2.0f, 1.0f},
    {"last key only", 1, false, 0.0f, 1.0f},
    {"window 7, softcap 50", 7, false, 50.0f, 12.0f},
    {"window 40", 40, false, 0.0f, 1.0f},
    {"window past the context", 100000, false, 0.0f, 1.0f},
    {"random first keys", 0, true, 0.0f, 1.0f},
    {"random first keys, softcap 50", 0, true, 50.0f, 12.0f},
};

// The first key of each of n_tokens batch tokens, token t being key n_past + t (empty: none).
std::vector<int32_t> first_keys(const Variant& var, int n_past, int n_tokens, uint32_t seed = 5) {
  std::vector<int32_t> first;
  if (var.window == 0 && !var.random_first) return first;
  std::mt19937 rng(seed);
  for (int t = 0; t < n_tokens; ++t) {
    const int pos = n_past + t;
    first.push_back(var.random_first ? static_cast<int32_t>(rng() % static_cast<uint32_t>(pos + 1))
                                     : std::max(0, pos - var.window + 1));
  }
  return first;
}

// One (token, head) in double: q rounded through f16, scores capped, keys before `first` masked.
std::vector<double> attention_in_double(const float* q, const uint16_t* k, const uint16_t* v,
                                        const int32_t* cells, size_t stride, int first, int n_keys,
                                        int head_dim, float scale, float cap) {
  std::vector<double> s(static_cast<size_t>(n_keys)), out(static_cast<size_t>(head_dim), 0.0);
  double max = -INFINITY, sum = 0;
  for (int j = first; j < n_keys; ++j) {
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) {
      dot += static_cast<double>(fp16_to_fp32(fp32_to_fp16(q[d]))) *
             fp16_to_fp32(k[static_cast<size_t>(cells[j]) * stride + d]);
    }
    s[j] = dot * scale;
    if (cap > 0) s[j] = std::tanh(s[j] / cap) * cap;
    max = std::max(max, s[j]);
  }
  for (int j = first; j < n_keys; ++j) sum += std::exp(s[j] - max);
  for (int j = first; j < n_keys; ++j) {
    const double p = std::exp(s[j] - max) / sum;
    for (int d = 0; d < head_dim; ++d)
      out[d] += p * fp16_to_fp32(v[static_cast<size_t>(cells[j]) * stride + d]);
  }
  return out;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(KernelAttentionConformance, EveryIsaMatchesScalar) {
  for (int isa_index = 1; isa_index < kIsaCount; ++isa_index) {
    const Isa isa = static_cast<Isa>(isa_index);
    if (!isa_available(isa)) continue;
    const AttentionFn fast = attention_kernel(isa);
    for (int head_dim : {8, 32, 64, 128, 12}) {
      for (int n_keys : {1, 7, 64, 257}) {
        for (float cap : {0.0f, 50.0f, 2.0f}) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " head_dim=" + std::to_string(head_dim) +
                       " n_keys=" + std::to_string(n_keys) + " softcap=" + std::to_string(cap));
          const size_t stride = static_cast<size_t>(head_dim) * 3;  // rows of several heads, as in the cache
          const auto q = test::gaussian(static_cast<size_t>(head_dim), 1, 2.0f);
          const F16Cache cache(stride, n_keys, 2);
          std::vector<float> scores(static_cast<size_t>(n_keys)), want(static_cast<size_t>(head_dim)),
              got(static_cast<size_t>(head_dim));
          const float scale = (cap == 50.0f ? 12.0f : 1.0f) / std::sqrt(static_cast<float>(head_dim));
          const auto cells = shuffled_cells(n_keys, n_keys);
          scalar_kernels().attention(q.data(), cache.k.data() + head_dim, cache.v.data() + head_dim, cells.data(),
                             stride, n_keys, head_dim, scale, cap, scores.data(), want.data());
          fast(q.data(), cache.k.data() + head_dim, cache.v.data() + head_dim, cells.data(), stride, n_keys,
               head_dim, scale, cap, scores.data(), got.data());
          for (int d = 0; d < head_dim; ++d) ASSERT_NEAR(got[d], want[d], 2e-3f) << "dimension " << d;
        }
      }
    }
  }
}

// The scalar reference does what it says: capped scores, the softmax over the keys from the first one on.
TEST(KernelAttentionConformance, ScalarReferenceMatchesDouble) {
  const int head_dim = 40, n_keys = 90;
  const size_t stride = static_cast<size_t>(head_dim) * 2;
  const F16Cache cache(stride, n_keys, 8);
  const auto cells = shuffled_cells(n_keys, n_keys, 9);
  const auto q = test::gaussian(static_cast<size_t>(head_dim), 10, 2.0f);
  std::vector<float> scores(static_cast<size_t>(n_keys)), got(static_cast<size_t>(head_dim));
  for (const Variant& var : kVariants) {
    for (int first : {0, 33, 89}) {
      SCOPED_TRACE(std::string(var.name) + " first=" + std::to_string(first));
      const float scale = var.scale_factor / std::sqrt(static_cast<float>(head_dim));
      scalar_kernels().attention(q.data(), cache.k.data(), cache.v.data(), cells.data() + first, stride,
                         n_keys - first, head_dim, scale, var.softcap, scores.data(), got.data());
      const auto want = attention_in_double(q.data(), cache.k.data(), cache.v.data(), cells.data(), stride,
                                            first, n_keys, head_dim, scale, var.softcap);
      // Probabilities are rounded through f16 (2^-11 relative each).
      for (int d = 0; d < head_dim; ++d) ASSERT_NEAR(got[d], want[d], 2e-3) << "dimension " << d;
    }
  }
}

struct Shape {
  int n_head, n_head_kv, head_dim, n_past, n_tokens;
};

// Each (token, head) on its own with the scalar per-head kernel over its keys from its first one.
std::vector<float> per_head_reference(const Shape& sh, const std::vector<float>& q, const F16Cache& cache,
                                      const std::vector<int32_t>& cells, const std::vector<int32_t>& first,
                                      float scale, float cap) {
  const size_t kv_stride = static_cast<size_t>(sh.n_head_kv) * sh.head_dim;
  const int group = sh.n_head / sh.n_head_kv;
  std::vector<float> want(q.size()), scores(cells.size());
  for (int t = 0; t < sh.n_tokens; ++t) {
    const int f = first.empty() ? 0 : first[static_cast<size_t>(t)];
    for (int h = 0; h < sh.n_head; ++h) {
      const size_t row = (static_cast<size_t>(t) * sh.n_head + h) * sh.head_dim;
      const size_t off = static_cast<size_t>(h / group) * sh.head_dim;
      scalar_kernels().attention(&q[row], &cache.k[off], &cache.v[off], cells.data() + f, kv_stride,
                         sh.n_past + t + 1 - f, sh.head_dim, scale, cap, scores.data(), &want[row]);
    }
  }
  return want;
}

// The same cache with other keys and values in the rows of the keys before `hidden`.
F16Cache overwrite_keys_before(F16Cache cache, const std::vector<int32_t>& cells, int hidden,
                               size_t kv_stride) {
  for (int j = 0; j < hidden; ++j) {
    for (size_t e = 0; e < kv_stride; ++e) {
      const size_t i = static_cast<size_t>(cells[static_cast<size_t>(j)]) * kv_stride + e;
      cache.k[i] = fp32_to_fp16(100.0f + static_cast<float>(e));
      cache.v[i] = fp32_to_fp16(-1000.0f);
    }
  }
  return cache;
}

TEST(KernelAttentionConformance, FlashMatchesPerHeadReference) {
  const Shape shapes[] = {
      {32, 4, 64, 0, 7},     // TinyLlama's group of 8, a short prompt
      {32, 4, 64, 100, 33},  // after a cached prefix, several key tiles
      {8, 1, 64, 37, 1},     // one token, eight heads on one KV head (generation)
      {6, 2, 40, 5, 7},      // group of 3: rows padded inside the vectors
      {4, 4, 12, 3, 9},      // no GQA: rows are tokens; head size not a multiple of 8
      {4, 4, 12, 3, 2},      // too few rows per KV head: the per-head path
      {8, 4, 48, 70, 21},    // group of 2, windows across key tiles
      {16, 4, 32, 130, 40},  // group of 4
      {64, 1, 8, 0, 3},      // more heads per KV head than rows per job
      {8, 2, 64, 0, 513},    // a long prompt
      {2, 1, 130, 61, 5},    // odd head size above 128
  };
  for (const Shape& sh : shapes) {
    const int n_keys = sh.n_past + sh.n_tokens;
    const size_t kv_stride = static_cast<size_t>(sh.n_head_kv) * sh.head_dim;
    const size_t q_size = static_cast<size_t>(sh.n_tokens) * sh.n_head * sh.head_dim;
    const auto q = test::gaussian(q_size, 3, 2.0f);
    const F16Cache cache(kv_stride, n_keys, 4);
    const auto cells = shuffled_cells(n_keys, n_keys);
    const AttentionSegment segment{cells.data(), 0, sh.n_tokens, sh.n_past};
    for (const Variant& var : kVariants) {
      const bool plain = &var == &kVariants[0];
      // The long prompt once, on two threads (the reference and each run cost n_tokens^2; the thread
      // splits are the short shapes' to check).
      const bool long_prompt = sh.n_tokens > 100;
      if (long_prompt && !plain) continue;
      const float scale = var.scale_factor / std::sqrt(static_cast<float>(sh.head_dim));
      const auto first = first_keys(var, sh.n_past, sh.n_tokens);
      const auto want = per_head_reference(sh, q, cache, cells, first, scale, var.softcap);
      // Keys that no token sees: changing them must change nothing.
      const int hidden = first.empty() ? 0 : *std::min_element(first.begin(), first.end());
      const F16Cache changed = overwrite_keys_before(cache, cells, hidden, kv_stride);
      for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
        const Isa isa = static_cast<Isa>(isa_index);
        if (!isa_available(isa)) continue;
        const bool all_threads = plain && !long_prompt;
        for (int threads = all_threads ? 1 : 2; threads <= (all_threads ? 3 : 2); ++threads) {
          for (bool online : {false, true}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + (online ? " online " : " exact ") + var.name +
                         " heads=" + std::to_string(sh.n_head) + "/" + std::to_string(sh.n_head_kv) +
                         " head_dim=" + std::to_string(sh.head_dim) + " n_past=" + std::to_string(sh.n_past) +
                         " tokens=" + std::to_string(sh.n_tokens) + " threads=" + std::to_string(threads));
            ThreadPool pool(threads);
            std::vector<float> scratch(static_cast<size_t>(threads) *
                                       attention_scratch_floats(sh.head_dim, n_keys));
            auto run = [&](const F16Cache& kv) {
              std::vector<float> got(q_size, std::nanf(""));
              AttentionBatch batch{q.data(),  kv.k.data(),  kv.v.data(), kv_stride, got.data(), {&segment, 1},
                                   sh.n_head, sh.n_head_kv, sh.head_dim, scale,     online};
              batch.softcap = var.softcap;
              batch.first_key = first.empty() ? nullptr : first.data();
              run_attention(batch, isa, pool, scratch);
              return got;
            };
            const auto got = run(cache);
            // The exact softmax differs from the reference only in exp's last bits (which can move a
            // probability by one f16 step); the online one keeps f32 probabilities (2^-11 relative apart).
            // Scores of 12/sqrt(head_dim) (for a cap of 50) give sharp softmaxes, probabilities near 1.
            const float tolerance = online || var.softcap == 50.0f ? 2e-3f : 5e-4f;
            for (size_t i = 0; i < q_size; ++i) ASSERT_NEAR(got[i], want[i], tolerance) << "element " << i;
            if (hidden == 0) continue;
            const auto again = run(changed);
            for (size_t i = 0; i < q_size; ++i) ASSERT_TRUE(same_bits(again[i], got[i])) << "element " << i;
          }
        }
      }
    }
  }
}

// Several sequences in one batch, each over its own scattered keys, against each segment run alone; and
// with batch_invariant, every token's output is bitwise the same whatever segment it is in and however
// many tokens that segment has (decoding one token, or a prompt split anywhere), also with sliding
// windows and random first keys (a job's first tile then depends on the other rows) and soft-capping.
TEST(KernelAttentionConformance, SegmentsAreIndependentAndBatchInvariant) {
  struct Seq {
    int n_past, n_tokens;
  };
  const Seq seqs[] = {{0, 5}, {17, 1}, {40, 33}, {3, 2}, {70, 1}};
  const Variant variants[] = {kPlain,
                              {"window 9, softcap 50", 9, false, 50.0f, 12.0f},
                              {"window 40", 40, false, 0.0f, 1.0f},
                              {"random first keys, softcap 2", 0, true, 2.0f, 1.0f}};
  for (const Shape& heads :
       {Shape{8, 4, 32, 0, 0}, Shape{16, 4, 32, 0, 0}, Shape{32, 4, 64, 0, 0}, Shape{4, 4, 12, 0, 0}}) {
    const size_t kv_stride = static_cast<size_t>(heads.n_head_kv) * heads.head_dim;
    const int n_rows = 400;
    const F16Cache cache(kv_stride, n_rows, 11);
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
    for (const Variant& var : variants) {
      const float scale = var.scale_factor / std::sqrt(static_cast<float>(heads.head_dim));
      // First keys for the whole batch, indexed by batch token.
      std::vector<int32_t> first;
      for (const AttentionSegment& seg : segments) {
        const auto f = first_keys(var, seg.n_past, seg.n_tokens, static_cast<uint32_t>(seg.t0) + 1);
        first.insert(first.end(), f.begin(), f.end());
      }
      for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
        const Isa isa = static_cast<Isa>(isa_index);
        if (!isa_available(isa)) continue;
        for (bool online : {false, true}) {
          for (bool invariant : {false, true}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + (online ? " online " : " exact ") + var.name +
                         (invariant ? " invariant" : "") + " heads=" + std::to_string(heads.n_head) + "/" +
                         std::to_string(heads.n_head_kv));
            ThreadPool pool(2);
            std::vector<float> scratch(2 * attention_scratch_floats(heads.head_dim, n_rows));
            auto run = [&](std::span<const AttentionSegment> segs, float* out) {
              AttentionBatch b{q.data(),     cache.k.data(),  cache.v.data(), kv_stride, out,    segs,
                               heads.n_head, heads.n_head_kv, heads.head_dim, scale,     online, invariant};
              b.softcap = var.softcap;
              b.first_key = first.empty() ? nullptr : first.data();
              run_attention(b, isa, pool, scratch);
            };
            std::vector<float> together(row * n_tokens, std::nanf(""));
            run(segments, together.data());
            for (const AttentionSegment& seg : segments) {
              std::vector<float> alone(row * n_tokens, std::nanf(""));
              run({&seg, 1}, alone.data());
              for (size_t i = row * seg.t0; i < row * (seg.t0 + seg.n_tokens); ++i) {
                ASSERT_TRUE(same_bits(alone[i], together[i]))
                    << "segment at token " << seg.t0 << ", element " << i;
              }
              if (!invariant) continue;
              // Each token of the segment as a one-token segment of its own.
              for (int t = 0; t < seg.n_tokens; ++t) {
                const AttentionSegment one{seg.cells, seg.t0 + t, 1, seg.n_past + t};
                std::vector<float> single(row * n_tokens, std::nanf(""));
                run({&one, 1}, single.data());
                for (size_t i = row * one.t0; i < row * (one.t0 + 1); ++i) {
                  ASSERT_TRUE(same_bits(single[i], together[i])) << "token " << one.t0 << ", element " << i;
                }
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
