#include "ops/attention.h"

#include <algorithm>

namespace cria::ops {

AttentionFn attention_kernel(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512 && isa_available(Isa::Avx512)) return avx512_attention();
  if ((isa == Isa::Avx512 || isa == Isa::Avx2) && isa_available(Isa::Avx2)) return avx2_attention();
#elif defined(__aarch64__)
  if (isa == Isa::Neon || isa == Isa::NeonDot) return neon_attention();
#endif
  return scalar_attention();
}

FlashAttentionFn flash_attention_kernel(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512 && isa_available(Isa::Avx512)) return avx512_flash_attention();
  if ((isa == Isa::Avx512 || isa == Isa::Avx2) && isa_available(Isa::Avx2)) return avx2_flash_attention();
#elif defined(__aarch64__)
  if (isa == Isa::Neon || isa == Isa::NeonDot) return neon_flash_attention();
#endif
  return scalar_flash_attention();
}

FlashLayout::FlashLayout(int head_dim, int n_keys) {
  hd4 = (head_dim + 3) / 4 * 4;
  const size_t rows = kFlashRows, tile = kFlashKeyTile, dims = static_cast<size_t>(hd4);
  const size_t keys = std::max(tile, static_cast<size_t>((std::max(n_keys, 0) + 3) / 4 * 4));
  qt = 0;                 // [head_dim][rows]  queries, transposed
  ot = qt + dims * rows;  // [hd4][rows]       output accumulators, transposed
  p = ot + dims * rows;   // [keys][rows]      scores, then probabilities
  kf = p + keys * rows;   // [tile][head_dim]  the tile's keys in f32
  vf = kf + tile * dims;  // [tile][hd4]       the tile's values in f32
  pos = vf + tile * dims; // [rows]            position of each row's token (-1: padding)
  m = pos + rows;         // [rows]            running maximum
  l = m + rows;           // [rows]            running sum
  alpha = l + rows;       // [rows]            this tile's rescale factor
  total = alpha + rows;
}

size_t attention_scratch_floats(int head_dim, int n_ctx) {
  const size_t n = std::max(FlashLayout(head_dim, n_ctx).total, static_cast<size_t>(std::max(n_ctx, 1)));
  return (n + 15) / 16 * 16;
}

void run_attention(const AttentionBatch& b, Isa isa, ThreadPool& pool, std::span<float> scratch) {
  const size_t stride = scratch.size() / static_cast<size_t>(pool.size());
  const int group = b.n_head / b.n_head_kv;
  const int heads = std::min(group, kFlashRows);            // query heads per job
  const int chunks = (group + heads - 1) / heads;            // jobs per KV head and token block
  const int tokens = std::min(b.n_tokens, std::max(1, kFlashRows / heads));  // tokens per job

  if (heads * tokens < kFlashMinRows) {
    const AttentionFn kernel = attention_kernel(isa);
    pool.parallel_for(static_cast<int64_t>(b.n_tokens) * b.n_head, [&](int64_t begin, int64_t end, int thread) {
      float* scores = scratch.data() + static_cast<size_t>(thread) * stride;
      for (int64_t job = begin; job < end; ++job) {
        const int t = static_cast<int>(job / b.n_head), head = static_cast<int>(job % b.n_head);
        const size_t row = (static_cast<size_t>(t) * b.n_head + head) * b.head_dim;
        const size_t kv = static_cast<size_t>(head / group) * b.head_dim;
        kernel(b.q + row, b.k + kv, b.v + kv, b.kv_stride, b.n_past + t + 1, b.head_dim, b.scale, scores,
               b.out + row);
      }
    });
    return;
  }

  // Later tokens see more keys, and parallel_for hands out contiguous ranges, so token blocks are
  // ordered first, last, second, second to last, ...: every range gets cheap and costly blocks alike.
  const FlashAttentionFn kernel = flash_attention_kernel(isa);
  const int blocks = (b.n_tokens + tokens - 1) / tokens;
  const int per_block = b.n_head_kv * chunks;
  pool.parallel_for(static_cast<int64_t>(blocks) * per_block, [&](int64_t begin, int64_t end, int thread) {
    float* s = scratch.data() + static_cast<size_t>(thread) * stride;
    for (int64_t i = begin; i < end; ++i) {
      const int slot = static_cast<int>(i / per_block), rest = static_cast<int>(i % per_block);
      const int block = slot % 2 == 0 ? slot / 2 : blocks - 1 - slot / 2;
      AttentionJob job;
      job.kv_head = rest / chunks;
      job.head0 = job.kv_head * group + (rest % chunks) * heads;
      job.n_heads = std::min(heads, (job.kv_head + 1) * group - job.head0);
      job.t0 = block * tokens;
      job.n_tokens = std::min(tokens, b.n_tokens - job.t0);
      kernel(b, job, s);
    }
  });
}

}  // namespace cria::ops
