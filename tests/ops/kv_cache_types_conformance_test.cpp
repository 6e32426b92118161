// The KV-cache types (-ctk/-ctv) in the attention kernels of every instruction set:
// - each set's row decoder (KvRowFn) gives bitwise what the type's scalar codec decodes, for random rows
//   of several lengths (odd ones for the float types) and for blocks at the extremes;
// - run_attention over quantized keys and values (both softmaxes, GQA groups of 1 to 8, cached prefixes,
//   several threads, a sliding window) matches attention computed in double over the codec-decoded rows;
// - with batch_invariant, a token's output over a quantized cache is bitwise the same whether it is
//   decoded alone or inside a prompt (such caches always run the grouped kernel).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/kernel_set.h"
#include "test_support.h"

namespace cria::ops {
namespace {

std::string type_name(TensorType t) { return std::string(traits(t).name); }

std::vector<uint8_t> encode(TensorType type, const std::vector<float>& values) {
  std::vector<uint8_t> bytes(kv_row_bytes(type, values.size()));
  traits(type).quantize(values.data(), bytes.data(), static_cast<int64_t>(values.size()));
  return bytes;
}

std::vector<float> decode(TensorType type, const uint8_t* bytes, size_t n) {
  std::vector<float> out(n);
  traits(type).dequantize(bytes, out.data(), static_cast<int64_t>(n));
  return out;
}

TEST(KernelKvCacheTypesConformance, RowDecodersMatchTheCodecsBitwise) {
  for (TensorType type : kv_cache_types()) {
    const bool blocked = traits(type).block_size > 1;
    for (size_t n : blocked ? std::vector<size_t>{32, 96, 544} : std::vector<size_t>{1, 7, 37, 128}) {
      for (float stddev : {1.0f, 1e-3f, 300.0f}) {
        auto values = test::gaussian(n, static_cast<uint32_t>(n) + 1, stddev);
        if (n >= 32) {
          for (size_t i = 0; i < 32; ++i) values[i] = 0.0f;  // a block of zeros (a scale of 0)
        }
        const auto bytes = encode(type, values);
        const auto want = decode(type, bytes.data(), n);
        for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
          const Isa isa = static_cast<Isa>(isa_index);
          if (!isa_available(isa)) continue;
          SCOPED_TRACE(std::string(isa_name(isa)) + " " + type_name(type) + " n=" + std::to_string(n) +
                       " stddev=" + std::to_string(stddev));
          std::vector<float> got(n, std::nanf(""));
          kv_row_kernel(isa)(type, bytes.data(), got.data(), static_cast<int>(n));
          ASSERT_EQ(std::memcmp(got.data(), want.data(), n * sizeof(float)), 0);
        }
      }
    }
  }
}

// A cache of n_rows rows of `stride` elements in two types, filled with random values; the decoded
// values (what attention must see) kept as f32.
struct TypedCache {
  TensorType k_type, v_type;
  std::vector<uint8_t> k, v;
  std::vector<float> k_seen, v_seen;
  TypedCache(TensorType kt, TensorType vt, size_t stride, int n_rows, uint32_t seed) : k_type(kt), v_type(vt) {
    const auto values = test::gaussian(stride * n_rows * 2, seed, 1.0f);
    const std::vector<float> kv(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(stride * n_rows));
    const std::vector<float> vv(values.begin() + static_cast<std::ptrdiff_t>(stride * n_rows), values.end());
    k = encode(kt, kv);
    v = encode(vt, vv);
    k_seen = decode(kt, k.data(), kv.size());
    v_seen = decode(vt, v.data(), vv.size());
  }
};

// Token t (key n_past + t) and query head h in double over the decoded rows, keys from `first` on.
std::vector<double> attention_in_double(const float* q, const TypedCache& c, const std::vector<int32_t>& cells,
                                        size_t stride, size_t head_offset, int first, int n_keys, int head_dim,
                                        float scale) {
  std::vector<double> s(static_cast<size_t>(n_keys)), out(static_cast<size_t>(head_dim), 0.0);
  double max = -INFINITY, sum = 0;
  for (int j = first; j < n_keys; ++j) {
    const float* kj = &c.k_seen[static_cast<size_t>(cells[j]) * stride + head_offset];
    double dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += static_cast<double>(fp16_to_fp32(fp32_to_fp16(q[d]))) * kj[d];
    s[j] = dot * scale;
    max = std::max(max, s[j]);
  }
  for (int j = first; j < n_keys; ++j) sum += std::exp(s[j] - max);
  for (int j = first; j < n_keys; ++j) {
    const float* vj = &c.v_seen[static_cast<size_t>(cells[j]) * stride + head_offset];
    for (int d = 0; d < head_dim; ++d) out[d] += std::exp(s[j] - max) / sum * vj[d];
  }
  return out;
}

// Cache rows in a scattered order.
std::vector<int32_t> scattered(int n) {
  std::vector<int32_t> cells(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) cells[static_cast<size_t>(i)] = static_cast<int32_t>((i * 37 + 11) % n);
  return cells;
}

struct TypePair {
  TensorType k, v;
};
constexpr TypePair kPairs[] = {
    {TensorType::Q8_0, TensorType::Q8_0}, {TensorType::Q4_0, TensorType::Q4_0},  {TensorType::Q4_1, TensorType::Q5_1},
    {TensorType::IQ4_NL, TensorType::Q5_0}, {TensorType::BF16, TensorType::F32}, {TensorType::F16, TensorType::Q8_0},
    {TensorType::Q5_1, TensorType::F16},
};

TEST(KernelKvCacheTypesConformance, AttentionMatchesDoubleOverTheDecodedRows) {
  struct Shape {
    int n_head, n_head_kv, head_dim, n_past, n_tokens, window;
  };
  const Shape shapes[] = {
      {4, 4, 32, 40, 1, 0},    // no GQA, one token: the per-head kernel for f16, grouped here
      {8, 4, 32, 0, 9, 0},     // the KJV model's shape, a prompt
      {8, 1, 64, 70, 3, 0},    // a group of 8 after a cached prefix (several key tiles)
      {6, 2, 96, 33, 5, 17},   // a group of 3, head size 96, a sliding window
  };
  for (const TypePair& pair : kPairs) {
    for (const Shape& sh : shapes) {
      const int n_keys = sh.n_past + sh.n_tokens;
      const size_t stride = static_cast<size_t>(sh.n_head_kv) * sh.head_dim;
      const TypedCache cache(pair.k, pair.v, stride, n_keys, 21);
      const auto cells = scattered(n_keys);
      const size_t q_size = static_cast<size_t>(sh.n_tokens) * sh.n_head * sh.head_dim;
      const auto q = test::gaussian(q_size, 22, 2.0f);
      std::vector<int32_t> first;
      for (int t = 0; t < sh.n_tokens && sh.window > 0; ++t) first.push_back(std::max(0, sh.n_past + t - sh.window + 1));
      const float scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));
      std::vector<double> want(q_size);
      const int group = sh.n_head / sh.n_head_kv;
      for (int t = 0; t < sh.n_tokens; ++t) {
        for (int h = 0; h < sh.n_head; ++h) {
          const size_t row = (static_cast<size_t>(t) * sh.n_head + h) * sh.head_dim;
          const auto o = attention_in_double(&q[row], cache, cells, stride, static_cast<size_t>(h / group) * sh.head_dim,
                                             first.empty() ? 0 : first[static_cast<size_t>(t)], sh.n_past + t + 1,
                                             sh.head_dim, scale);
          std::copy(o.begin(), o.end(), want.begin() + static_cast<std::ptrdiff_t>(row));
        }
      }
      const AttentionSegment segment{cells.data(), 0, sh.n_tokens, sh.n_past};
      for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
        const Isa isa = static_cast<Isa>(isa_index);
        if (!isa_available(isa)) continue;
        for (bool online : {false, true}) {
          for (int threads : {1, 3}) {
            SCOPED_TRACE(std::string(isa_name(isa)) + " K " + type_name(pair.k) + " V " + type_name(pair.v) +
                         (online ? " online" : " exact") + " heads=" + std::to_string(sh.n_head) + "/" +
                         std::to_string(sh.n_head_kv) + " head_dim=" + std::to_string(sh.head_dim) +
                         " threads=" + std::to_string(threads));
            ThreadPool pool(threads);
            std::vector<float> scratch(static_cast<size_t>(threads) * attention_scratch_floats(sh.head_dim, n_keys));
            std::vector<float> got(q_size, std::nanf(""));
            AttentionBatch b{q.data(), cache.k.data(), cache.v.data(), stride,    got.data(), {&segment, 1},
                             sh.n_head, sh.n_head_kv,   sh.head_dim,    scale,     online};
            b.first_key = first.empty() ? nullptr : first.data();
            b.k_type = pair.k;
            b.v_type = pair.v;
            run_attention(b, isa, pool, scratch);
            // The exact softmax rounds probabilities through f16 (2^-11 relative), the online one does not.
            for (size_t i = 0; i < q_size; ++i) ASSERT_NEAR(got[i], want[i], online ? 2e-4 : 2e-3) << "element " << i;
          }
        }
      }
    }
  }
}

TEST(KernelKvCacheTypesConformance, QuantizedCachesAreBatchInvariant) {
  const int n_head = 8, n_head_kv = 4, head_dim = 32, n_past = 20, n_tokens = 11;
  const size_t stride = static_cast<size_t>(n_head_kv) * head_dim, row = static_cast<size_t>(n_head) * head_dim;
  const int n_keys = n_past + n_tokens;
  const auto cells = scattered(n_keys);
  const auto q = test::gaussian(row * n_tokens, 30, 2.0f);
  for (const TypePair& pair : kPairs) {
    const TypedCache cache(pair.k, pair.v, stride, n_keys, 31);
    for (int isa_index = 0; isa_index < kIsaCount; ++isa_index) {
      const Isa isa = static_cast<Isa>(isa_index);
      if (!isa_available(isa)) continue;
      for (bool online : {false, true}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " K " + type_name(pair.k) + " V " + type_name(pair.v) +
                     (online ? " online" : " exact"));
        ThreadPool pool(2);
        std::vector<float> scratch(2 * attention_scratch_floats(head_dim, n_keys));
        auto run = [&](const AttentionSegment& seg) {
          std::vector<float> out(row * n_tokens, std::nanf(""));
          AttentionBatch b{q.data(), cache.k.data(), cache.v.data(), stride, out.data(), {&seg, 1},
                           n_head,   n_head_kv,      head_dim,       0.2f,   online,     true};
          b.k_type = pair.k;
          b.v_type = pair.v;
          run_attention(b, isa, pool, scratch);
          return out;
        };
        const auto together = run({cells.data(), 0, n_tokens, n_past});
        for (int t = 0; t < n_tokens; ++t) {
          const auto alone = run({cells.data(), t, 1, n_past + t});
          ASSERT_EQ(std::memcmp(&alone[row * t], &together[row * t], row * sizeof(float)), 0) << "token " << t;
        }
      }
    }
  }
}

}  // namespace
}  // namespace cria::ops
