// A Session runs the forward pass of a loaded model over a token sequence: it owns the KV cache (f16, as
// llama.cpp) and every work buffer, sized once for the context and batch, so decoding never allocates.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "model/llama_model.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"
#include "ops/matmul.h"

namespace cria::model {

struct SessionOptions {
  int n_ctx = 0;      // 0: the model's training context, capped at 4096
  int n_batch = 512;  // most tokens evaluated in one forward pass
  int n_threads = 0;  // 0: physical cores
  bool flash_attn = false;  // online-softmax attention with f32 probabilities (llama.cpp's -fa); see ops/attention.h
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const LlamaModel> model, SessionOptions options);

  // Appends tokens at position n_past() and runs the forward pass in batches of n_batch. With
  // all_logits, logits(i) holds the i-th token's logits (tokens.size() <= n_batch); otherwise only the
  // last token's logits are computed, at logits(0).
  Status decode(std::span<const int32_t> tokens, bool all_logits = false);
  const float* logits(int64_t i = 0) const { return logits_.data() + i * model_->n_vocab(); }

  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  bool flash_attn() const { return flash_attn_; }
  int n_batch() const { return n_batch_; }
  int n_threads() const { return pool_.size(); }
  // Forgets tokens from position `pos` on (0 clears the sequence).
  void truncate(int pos) { n_past_ = pos < n_past_ ? pos : n_past_; }
  const LlamaModel& model() const { return *model_; }

 private:
  Session(std::shared_ptr<const LlamaModel> model, int n_ctx, int n_batch, int n_threads, bool flash_attn);
  void forward(const int32_t* tokens, int n_tokens, bool all_logits);
  void attention(int layer, int n_tokens);

  std::shared_ptr<const LlamaModel> model_;
  int n_ctx_, n_batch_;
  bool flash_attn_;
  int n_past_ = 0;
  ThreadPool pool_;
  ops::MatmulScratch scratch_;

  // KV cache: [layer][position][kv_head * head_dim] in f16.
  std::vector<uint16_t> k_cache_, v_cache_;
  int64_t kv_row_ = 0;  // n_head_kv * head_dim

  // Work buffers for n_batch tokens.
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, logits_;
  std::vector<float> rope_cos_, rope_sin_;  // per token of the batch
  std::vector<float> attention_scratch_;    // per thread: ops::attention_scratch_floats
  ops::SwigluFn swiglu_ = nullptr;          // the model's instruction set's
};

}  // namespace cria::model
