// Causal attention over the KV cache (f16 by default; any of kv_cache_types()), two ways:
// - per head (AttentionFn): one query head over its keys, in llama.cpp's numerics with flash attention
//   off: q rounded through f16, scores = (q . k_j) * scale, softmax with the sum in double, the
//   probabilities rounded through f16, out = sum_j p_j * v_j. It is the reference, and it runs where
//   fewer than kFlashMinRows query rows share a KV head (one token of a model without GQA);
// - grouped (FlashAttentionFn, ops/cpu/flash_attention_impl.h): the query heads of a GQA group and
//   several tokens together, keys in tiles, with llama.cpp's softmax and rounding (the default) or with
//   flash attention's online softmax and f32 probabilities (online_softmax, the CLI's -fa).
// run_attention picks between them and splits the work over the pool. One kernel of each per
// instruction set. Caches of other types than f16 always run grouped: each key and value row is converted
// to f32 once per job (KvRowFn, ops/cpu/kv_rows_impl.h) and shared by the job's rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "ops/kernels.h"
#include "quant/type_table.h"

namespace cria::ops {

// The largest head dimension the kernels take (the loader refuses larger ones; real models use <= 256).
constexpr int kMaxHeadDim = 512;

// k and v point at this head's part of cache row 0; key j is cache row cells[j], rows kv_stride elements
// apart. softcap > 0 caps every score as ops::softcap does (std::tanh) before the softmax. scores holds
// n_keys floats of scratch; out receives head_dim values.
using AttentionFn = void (*)(const float* q, const uint16_t* k, const uint16_t* v, const int32_t* cells,
                             size_t kv_stride, int n_keys, int head_dim, float scale, float softcap,
                             float* scores, float* out);

AttentionFn attention_kernel(Isa isa);

// The types a KV cache may hold (llama.cpp's -ctk/-ctv set): F32, F16, BF16, Q8_0, Q4_0, Q4_1, IQ4_NL,
// Q5_0, Q5_1. The quantized ones have blocks of 32, so a head's row must be a multiple of 32 long.
std::span<const TensorType> kv_cache_types();
bool is_kv_cache_type(TensorType type);
// Bytes of n elements of a cache type (n a multiple of its block size).
size_t kv_row_bytes(TensorType type, size_t n);

// n elements of a cache row to f32, bitwise as the type's scalar codec decodes them.
using KvRowFn = void (*)(TensorType type, const void* row, float* out, int n);
KvRowFn kv_row_kernel(Isa isa);

// Consecutive tokens of a batch that belong to one sequence: token t0 + i is key n_past + i of the
// sequence's key list `cells` (cache rows in position order) and attends to keys 0 .. n_past + i (from
// AttentionBatch::first_key[t0 + i] on, where that is set).
struct AttentionSegment {
  const int32_t* cells;
  int t0, n_tokens, n_past;
};

// One forward pass's attention, for every segment of the batch.
struct AttentionBatch {
  const float* q;        // [n_tokens][n_head][head_dim]
  const void* k;         // this layer's cache: KV head h of cache row c at element c * kv_stride + h * head_dim
  const void* v;         // (of k_type / v_type: kv_row_bytes(type, that) bytes in)
  size_t kv_stride;      // elements
  float* out;            // [n_tokens][n_head][head_dim]
  std::span<const AttentionSegment> segments;
  int n_head, n_head_kv, head_dim;
  float scale;
  bool online_softmax = false;  // flash attention's online softmax (f32 probabilities), see below
  // The kernel is chosen by the model's GQA group alone (per head below kFlashMinRows heads per KV
  // head, grouped otherwise), so that a token's result does not depend on how many tokens of its
  // sequence share the batch (the two kernels sum in different orders). Otherwise a segment with few
  // tokens runs per head and a longer one grouped, which is faster for prompts of models without GQA.
  bool batch_invariant = false;
  // Soft-capping (Gemma 2): when > 0, each score s = (q . k) * scale becomes tanhf(s * (1 / softcap)) *
  // softcap before the softmax; with the exact softmax through ops::softcap (std::tanh, as llama.cpp
  // without flash attention), with the online one through the vector tanh of vec8_math_impl.h.
  float softcap = 0.0f;
  // Sliding windows: per batch token t, the index in its segment's key list of the first key it sees, so
  // token t0 + i sees keys first_key[t0 + i] .. n_past + i (0 <= first_key[t] <= n_past + i); the keys
  // before it get probability 0, as a -inf mask gives. nullptr: 0 for every token. The grouped kernel
  // skips the key tiles that no row of a job sees.
  const int32_t* first_key = nullptr;
  // The cache's types (kv_cache_types()); other than F16 (either of them), every segment runs grouped.
  TensorType k_type = TensorType::F16, v_type = TensorType::F16;
  // For tests that emulate another engine's attention numerics: when set, every segment of an f16 cache
  // runs per head through this kernel, whatever the instruction set and the number of rows.
  AttentionFn per_head_kernel = nullptr;
};

// The rows of one flash job: query heads head0 .. head0 + n_heads - 1 (all sharing kv_head) of batch
// tokens t0 .. t0 + n_tokens - 1, which are keys p0 .. p0 + n_tokens - 1 of the key list `cells`;
// n_heads * n_tokens <= kFlashRows.
struct AttentionJob {
  const int32_t* cells;
  int p0;
  int kv_head, head0, n_heads, t0, n_tokens;
};
constexpr int kFlashRows = 32;     // query rows per job (four vectors of 8)
constexpr int kFlashKeyTile = 32;  // keys per online-softmax step
constexpr int kFlashMinRows = 4;   // fewer rows per KV head than this run per head

// Where each array of a job's scratch starts (in floats); all are multiples of 8 floats long. n_keys is
// the most keys a row sees when the scores are all kept (exact softmax), 0 for the online one.
struct FlashLayout {
  FlashLayout(int head_dim, int n_keys);
  int hd4;  // head_dim rounded up to 4 (value rows are padded with zeros)
  size_t qt, ot, p, kf, vf, pos, m, l, alpha, first, total;
};

using FlashAttentionFn = void (*)(const AttentionBatch& batch, const AttentionJob& job, float* scratch);
FlashAttentionFn flash_attention_kernel(Isa isa);

// Floats of scratch run_attention needs per thread for key lists of up to n_ctx keys.
size_t attention_scratch_floats(int head_dim, int n_ctx);

// Where a segment may be cut into two attention calls (one micro-batch each, src/model/runner.cpp) with
// every token's result unchanged: at offsets that are a multiple of this count and leave at least this
// many tokens after the cut. 1 when batch invariant; otherwise the grouped kernel's token block, so that
// both pieces are cut into the same blocks and choose the same kernel as the whole segment.
int attention_cut_granule(int n_head, int n_head_kv, bool batch_invariant);

// Runs the batch on the pool; scratch holds pool.size() * attention_scratch_floats(...) floats.
void run_attention(const AttentionBatch& batch, Isa isa, ThreadPool& pool, std::span<float> scratch);

}  // namespace cria::ops
