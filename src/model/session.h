// A Session is one sequence on its own Runner and KvCache (sequence 0): the shape that the CLI's
// completion, chat, perplexity and bench need. It runs on the same batched forward pass as everything
// else; programs with many sequences use Runner, KvCache and Batch directly.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/result.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/runner.h"

namespace cria::model {

// The context size used when none is asked for: the model's training context, capped at 4096 (and at
// least 1). Session and the C API's contexts share it, so that both agree with `cria run`.
int default_context_size(const ModelHparams& hp);

struct SessionOptions {
  int n_ctx = 0;      // 0: the model's training context, capped at 4096
  int n_batch = 512;  // most tokens evaluated in one forward pass
  int n_threads = 0;  // 0: physical cores
  bool flash_attn = false;  // online-softmax attention with f32 probabilities (llama.cpp's -fa); see ops/attention.h
  ops::AttentionFn attention_kernel = nullptr;  // tests only: see RunnerOptions
};

class Session {
 public:
  // cache_types: the KV cache's K and V types (-ctk / -ctv).
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model, SessionOptions options,
                                                 KvCacheTypes cache_types = {});

  // Appends tokens at position n_past() and runs the forward pass in batches of n_batch. With
  // all_logits, logits(i) holds the i-th token's logits (tokens.size() <= n_batch); otherwise only the
  // last token's logits are computed, at logits(0).
  Status decode(std::span<const int32_t> tokens, bool all_logits = false);
  const float* logits(int64_t i = 0) const { return runner_->logits(static_cast<int>(all_logits_ ? i : last_ - 1)); }

  int n_past() const { return cache_.seq_pos_max(0) + 1; }
  int n_ctx() const { return cache_.n_cells(); }
  bool flash_attn() const { return runner_->flash_attn(); }
  int n_batch() const { return runner_->n_batch(); }
  int n_threads() const { return runner_->n_threads(); }
  // Forgets tokens from position `pos` on (0 clears the sequence).
  void truncate(int pos) { (void)cache_.seq_rm(0, pos, -1); }
  const Model& model() const { return runner_->model(); }
  Runner& runner() { return *runner_; }
  KvCache& cache() { return cache_; }

 private:
  Session(std::unique_ptr<Runner> runner, KvCache cache) : runner_(std::move(runner)), cache_(std::move(cache)) {}

  std::unique_ptr<Runner> runner_;
  KvCache cache_;
  Batch batch_;
  bool all_logits_ = false;
  int last_ = 1;  // tokens in the last forward pass
};

}  // namespace cria::model
