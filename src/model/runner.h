// A Runner runs the forward pass of a loaded model over a Batch of tokens from any number of sequences,
// with their keys and values in a KvCache: the matmuls see all tokens as one matrix (each weight is read
// once per pass), RoPE uses each token's own position, and attention runs per sequence over that
// sequence's cells only. It owns what the sequences share: the thread pool, the matmul scratch and the
// work buffers, sized once for n_batch tokens, so decoding does not allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/pipeline.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/matmul.h"

namespace cria::model {

struct RunnerOptions {
  int n_batch = 512;        // most tokens in one decode call
  int n_threads = 0;        // 0: physical cores
  // The longest sequence attention must handle (the cache's size); also the context per sequence that
  // chooses Phi-3's long or short RoPE factors (llama.cpp: n_ctx / n_seq_max).
  int max_keys = 4096;
  bool flash_attn = false;  // online-softmax attention with f32 probabilities (llama.cpp's -fa); see ops/attention.h
  // A token's logits are bitwise the same whatever else shares its batch and however its sequence's
  // prompt is split into batches (ops::AttentionBatch::batch_invariant; the matmul kernels reduce each
  // weight row and token in one order whatever the tile). Free for models with 4 or more query heads per
  // KV head, which are invariant either way; with fewer, prompt attention runs per head as well, which
  // halves prompt speed on the KJV model (docs/PERF.md), so it is an option (serve --deterministic).
  bool batch_invariant = false;
  // Tests only: every f16-cache attention runs per head through this kernel (ops::AttentionBatch).
  ops::AttentionFn attention_kernel = nullptr;
};

class Runner {
 public:
  static Result<std::unique_ptr<Runner>> create(std::shared_ptr<const Model> model, RunnerOptions options);

  // Runs one forward pass over the batch (at most n_batch tokens). Each token takes a new cell of the
  // cache for its keys and values and is appended to each of its sequences; a sequence's positions must
  // rise, within the batch and after what the cache holds. On error nothing has changed.
  Status decode(const Batch& batch, KvCache& cache);

  // Logits of batch token i of the last decode, or nullptr if it did not ask for them.
  const float* logits(int i) const;
  // The last decode's final hidden state of batch token i (after the output norm, before the output
  // matrix: what embeddings pool), n_embd floats into `out`; false if i is not a token of that batch.
  bool final_hidden(int i, float* out) const;
  int64_t n_vocab() const { return model_->n_vocab(); }

  int n_batch() const { return n_batch_; }
  int n_threads() const { return pool_.size(); }
  int max_keys() const { return max_keys_; }
  bool flash_attn() const { return flash_attn_; }
  bool batch_invariant() const { return batch_invariant_; }
  const Model& model() const { return *model_; }

 private:
  Runner(std::shared_ptr<const Model> model, const RunnerOptions& options, int n_threads);
  static uint64_t work_bytes(const Model& model, const RunnerOptions& options, int n_threads);
  Status check(const Batch& batch, const KvCache& cache);
  void place(const Batch& batch, KvCache& cache);
  void apply_shift(KvCache& cache);

  // The forward pass and its steps (runner.cpp; the mixture-of-experts FFN in runner_moe.cpp).
  // A pass runs in micro-batches: one outside a pipeline; in one, a large batch is cut so that the stages
  // work on different micro-batches at once. A micro-batch is tokens t0 .. t0 + n_tokens - 1 of the
  // batch, its attention segments, and the logits rows out_begin .. out_end - 1.
  struct MicroBatch {
    int t0, n_tokens;
    size_t seg_begin, seg_end;
    int out_begin, out_end;
  };
  void plan_micro_batches();
  void announce(const Batch& batch, KvCache& cache);
  void forward(const Batch& batch, KvCache& cache);
  void take_input(const Batch& batch, size_t micro);
  void hand_on(size_t micro);
  void finish_pass();
  void embed_tokens(const Batch& batch, const MicroBatch& mb);
  void rope_tables(const Batch& batch);
  void sliding_windows(const Batch& batch, const KvCache& cache);
  void attention_block(int layer, const MicroBatch& mb, KvCache& cache);
  ops::RopeConfig rope_config(bool own, float attn_factor) const;
  void rope_rows(int layer, float* rows, int n_heads, int t) const;
  void attention(int layer, const MicroBatch& mb, KvCache& cache);
  void ffn_block(int layer, const MicroBatch& mb);
  void dense_ffn(const Layer& layer, const float* x, int n_tokens, float* out);
  void moe_ffn(const Layer& layer, const float* x, int n_tokens, float* out);
  void route_tokens(const Layer& layer, int n_tokens);
  void plan_expert_runs(const Layer& layer, int n_tokens);
  void run_experts(const Layer& layer, size_t begin, size_t end);
  void add_shared_expert(const Layer& layer, int n_tokens, float* out);
  void output_logits(const MicroBatch& mb);

  std::shared_ptr<const Model> model_;
  int n_batch_, max_keys_;
  bool flash_attn_, batch_invariant_;
  ops::AttentionFn attention_kernel_;
  ThreadPool pool_;
  ops::MatmulScratch scratch_;
  PipelineLink* link_ = nullptr;  // the model's other stages, if it is split over processes

  // Where the last batch's tokens went: each token's cache cell, the attention segments (runs of
  // consecutive tokens of one sequence), and which tokens have a logits row.
  std::vector<int32_t> cells_;
  int last_batch_size_ = 0;
  std::vector<ops::AttentionSegment> segments_;
  std::vector<int32_t> output_tokens_, logits_row_;
  std::vector<MicroBatch> micro_;
  std::vector<ops::AttentionSegment> micro_segments_;  // segments_ cut at the micro-batches' edges
  int cut_granule_ = 1;  // ops::attention_cut_granule for every held layer
  std::vector<int> cuts_, allowed_cuts_;
  // check()'s per-sequence state, by sequence id (see there).
  std::vector<uint64_t> seq_stamp_;
  std::vector<int64_t> seq_next_, seq_length_;
  uint64_t stamp_ = 0;

  // Work buffers for n_batch tokens.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, logits_;
  // RoPE angles per token of the batch: for the model's base, and for sliding layers that have their own.
  std::vector<float> rope_cos_, rope_sin_, rope_cos_local_, rope_sin_local_;
  std::vector<int32_t> first_key_;          // per token: the first key a sliding layer lets it see
  ops::RopeFn rotate_ = nullptr;            // the architecture's pairing: ops::rope_norm or ops::rope_neox
  std::vector<float> attention_scratch_;    // per thread: ops::attention_scratch_floats
  ops::SwigluFn activation_ = nullptr;      // the FFN's gated activation, for the model's instruction set
  ops::SwigluFn swiglu_ = nullptr;          // experts (always SiLU-gated)
  ops::SoftcapFn softcap_ = nullptr;

  // Mixture of experts: the normed FFN input, the router's choice per token (n_expert_used slots, in
  // the router's order), each expert's tokens, the runs (an expert over its tokens: where its gate/up
  // outputs sit in gate_ and up_, and its first output row in expert_out_), and each slot's row there.
  struct Route {
    int32_t token, slot;
  };
  static constexpr int kSharedExpert = -1;
  struct ExpertRun {
    int expert;  // or kSharedExpert
    int64_t n_rows, n_ff, ffn_offset, out_row;
  };
  std::vector<float> moe_in_, router_logits_, slot_weight_, expert_out_;
  std::vector<int32_t> slot_expert_, slot_row_;
  std::vector<std::vector<Route>> expert_routes_;
  std::vector<ExpertRun> expert_runs_;
  std::vector<ops::MatmulJob> expert_jobs_;
  int64_t shexp_row_ = 0;  // the shared expert's first row in expert_out_
};

}  // namespace cria::model
