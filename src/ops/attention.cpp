#include "ops/attention.h"

#include <algorithm>
#include <vector>

#include "ops/kernel_set.h"

namespace cria::ops {

AttentionFn attention_kernel(Isa isa) {
  return best_kernel(isa, [](const KernelSet& set) { return set.attention; });
}

FlashAttentionFn flash_attention_kernel(Isa isa) {
  return best_kernel(isa, [](const KernelSet& set) { return set.flash_attention; });
}

KvRowFn kv_row_kernel(Isa isa) {
  return best_kernel(isa, [](const KernelSet& set) { return set.kv_row; });
}

std::span<const TensorType> kv_cache_types() {
  static constexpr TensorType kTypes[] = {TensorType::F32,  TensorType::F16,    TensorType::BF16,
                                          TensorType::Q8_0, TensorType::Q4_0,   TensorType::Q4_1,
                                          TensorType::IQ4_NL, TensorType::Q5_0, TensorType::Q5_1};
  return kTypes;
}

bool is_kv_cache_type(TensorType type) {
  for (TensorType t : kv_cache_types()) {
    if (t == type) return true;
  }
  return false;
}

size_t kv_row_bytes(TensorType type, size_t n) { return row_bytes(traits(type), static_cast<int64_t>(n)); }

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
  first = alpha + rows;   // [rows]            each row's first key (sliding windows)
  total = first + rows;
}

size_t attention_scratch_floats(int head_dim, int n_ctx) {
  const size_t n = std::max(FlashLayout(head_dim, n_ctx).total, static_cast<size_t>(std::max(n_ctx, 1)));
  return (n + 15) / 16 * 16;
}

namespace {

// How a segment's work is cut: per (token, head) with the per-head kernel, or into grouped jobs of
// `tokens` tokens, in `blocks` token blocks.
struct SegmentPlan {
  bool per_head;
  int tokens, blocks;
};

}  // namespace

int attention_cut_granule(int n_head, int n_head_kv, bool batch_invariant) {
  if (batch_invariant) return 1;
  const int heads = std::min(n_head / n_head_kv, kFlashRows);
  return std::max(1, kFlashRows / heads);  // run_attention's tokens per job
}

void run_attention(const AttentionBatch& b, Isa isa, ThreadPool& pool, std::span<float> scratch) {
  const size_t stride = scratch.size() / static_cast<size_t>(pool.size());
  const int group = b.n_head / b.n_head_kv;
  // The per-head kernel reads f16 caches only.
  const bool f16_cache = b.k_type == TensorType::F16 && b.v_type == TensorType::F16;
  const int heads = std::min(group, kFlashRows);  // query heads per job
  const int chunks = (group + heads - 1) / heads;  // jobs per KV head and token block

  // Every segment's items numbered one after the other, so that one parallel_for runs them all. The
  // vectors live on (per calling thread) so that decoding does not allocate.
  thread_local std::vector<SegmentPlan> calling_thread_plans;
  thread_local std::vector<int64_t> calling_thread_first_item;
  // References, so that the pool's threads see the calling thread's vectors rather than their own.
  std::vector<SegmentPlan>& plans = calling_thread_plans;
  std::vector<int64_t>& first_item = calling_thread_first_item;
  plans.clear();
  first_item.assign(1, 0);
  for (const AttentionSegment& seg : b.segments) {
    const int tokens = std::min(seg.n_tokens, std::max(1, kFlashRows / heads));  // tokens per job
    // Batch invariance fixes the kernel by the model's shape alone, not by the segment's length.
    const bool per_head = f16_cache && (b.per_head_kernel != nullptr ||
                                        (b.batch_invariant ? group < kFlashMinRows : heads * tokens < kFlashMinRows));
    SegmentPlan plan{per_head, tokens, (seg.n_tokens + tokens - 1) / tokens};
    const int64_t items = plan.per_head ? static_cast<int64_t>(seg.n_tokens) * b.n_head
                                        : static_cast<int64_t>(plan.blocks) * b.n_head_kv * chunks;
    plans.push_back(plan);
    first_item.push_back(first_item.back() + items);
  }

  const AttentionFn per_head = b.per_head_kernel != nullptr ? b.per_head_kernel : attention_kernel(isa);
  const FlashAttentionFn grouped = flash_attention_kernel(isa);
  pool.parallel_for(first_item.back(), [&](int64_t begin, int64_t end, int thread) {
    float* s = scratch.data() + static_cast<size_t>(thread) * stride;
    size_t si = static_cast<size_t>(std::upper_bound(first_item.begin(), first_item.end(), begin) - first_item.begin()) - 1;
    for (int64_t i = begin; i < end; ++i) {
      while (i >= first_item[si + 1]) ++si;
      const AttentionSegment& seg = b.segments[si];
      const SegmentPlan& plan = plans[si];
      const int64_t item = i - first_item[si];
      if (plan.per_head) {
        const int t = seg.t0 + static_cast<int>(item / b.n_head), head = static_cast<int>(item % b.n_head);
        const size_t row = (static_cast<size_t>(t) * b.n_head + head) * b.head_dim;
        const size_t kv = static_cast<size_t>(head / group) * b.head_dim;
        // A sliding window starts the token's key list later.
        const int first = b.first_key != nullptr ? b.first_key[t] : 0;
        per_head(b.q + row, static_cast<const uint16_t*>(b.k) + kv, static_cast<const uint16_t*>(b.v) + kv, seg.cells + first, b.kv_stride,
                 seg.n_past + (t - seg.t0) + 1 - first, b.head_dim, b.scale, b.softcap, s, b.out + row);
        continue;
      }
      // Later tokens see more keys, and parallel_for hands out contiguous ranges, so token blocks are
      // ordered first, last, second, second to last, ...: every range gets cheap and costly blocks alike.
      const int per_block = b.n_head_kv * chunks;
      const int slot = static_cast<int>(item / per_block), rest = static_cast<int>(item % per_block);
      const int block = slot % 2 == 0 ? slot / 2 : plan.blocks - 1 - slot / 2;
      AttentionJob job;
      job.cells = seg.cells;
      job.kv_head = rest / chunks;
      job.head0 = job.kv_head * group + (rest % chunks) * heads;
      job.n_heads = std::min(heads, (job.kv_head + 1) * group - job.head0);
      job.t0 = seg.t0 + block * plan.tokens;
      job.p0 = seg.n_past + block * plan.tokens;
      job.n_tokens = std::min(plan.tokens, seg.t0 + seg.n_tokens - job.t0);
      grouped(b, job, s);
    }
  });
}

}  // namespace cria::ops
