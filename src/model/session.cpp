// The Llama forward pass (FORMATS.md 5.3), written as the paper reads: for each layer, norm, project,
// rope, attend, add, norm, gate, project, add. Numerics follow llama.cpp's CPU backend where they decide
// tokens: activations quantized per weight type (ops::matmul), K/V stored as f16, Q and the softmax
// probabilities rounded to f16 for the two attention products.
#include "model/session.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/fp16.h"
#include "ops/attention.h"
#include "ops/basic_ops.h"

namespace cria::model {

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const LlamaModel> model, SessionOptions options) {
  const auto& hp = model->hparams();
  int n_ctx = options.n_ctx;
  if (n_ctx < 0) return make_error("context size " + std::to_string(n_ctx) + " is negative");
  if (n_ctx == 0) n_ctx = static_cast<int>(std::min<uint32_t>(hp.n_ctx_train, 4096));
  if (n_ctx < 1) n_ctx = 1;
  if (options.n_batch < 1) return make_error("batch size " + std::to_string(options.n_batch) + " must be at least 1");
  if (options.n_threads < 0) return make_error("thread count " + std::to_string(options.n_threads) + " is negative");
  const int n_batch = std::min(options.n_batch, n_ctx);
  const int n_threads = options.n_threads == 0 ? ThreadPool::physical_cores() : options.n_threads;
  return std::unique_ptr<Session>(new Session(std::move(model), n_ctx, n_batch, n_threads, options.flash_attn));
}

Session::Session(std::shared_ptr<const LlamaModel> model, int n_ctx, int n_batch, int n_threads, bool flash_attn)
    : model_(std::move(model)), n_ctx_(n_ctx), n_batch_(n_batch), flash_attn_(flash_attn), pool_(n_threads) {
  const auto& hp = model_->hparams();
  const int64_t hd = hp.head_dim;
  kv_row_ = static_cast<int64_t>(hp.n_head_kv[0]) * hd;
  const int64_t n_q = static_cast<int64_t>(hp.n_head[0]) * hd;
  const int64_t n_ff = *std::max_element(hp.n_ff.begin(), hp.n_ff.end());
  const size_t b = static_cast<size_t>(n_batch_);
  k_cache_.assign(static_cast<size_t>(hp.n_layer) * n_ctx_ * kv_row_, 0);
  v_cache_.assign(k_cache_.size(), 0);
  x_.resize(b * hp.n_embd);
  h_.resize(b * std::max<int64_t>(hp.n_embd, n_q));
  q_.resize(b * n_q);
  k_.resize(b * kv_row_);
  v_.resize(b * kv_row_);
  attn_.resize(b * n_q);
  gate_.resize(b * n_ff);
  up_.resize(b * n_ff);
  logits_.resize(b * model_->n_vocab());
  rope_cos_.resize(b * hp.n_rot / 2);
  rope_sin_.resize(b * hp.n_rot / 2);
  swiglu_ = ops::swiglu_kernel(model_->isa());
  attention_scratch_.resize(static_cast<size_t>(pool_.size()) *
                            ops::attention_scratch_floats(static_cast<int>(hp.head_dim), n_ctx_));
}

Status Session::decode(std::span<const int32_t> tokens, bool all_logits) {
  if (tokens.empty()) return make_error("decode: no tokens");
  if (all_logits && static_cast<int>(tokens.size()) > n_batch_) {
    return make_error("decode: " + std::to_string(tokens.size()) + " tokens with all logits exceed the batch size " +
                      std::to_string(n_batch_));
  }
  if (n_past_ + static_cast<int64_t>(tokens.size()) > n_ctx_) {
    return make_error("the context is full: " + std::to_string(n_past_) + " + " + std::to_string(tokens.size()) +
                      " tokens exceed the context size " + std::to_string(n_ctx_));
  }
  for (int32_t t : tokens) {
    if (t < 0 || t >= model_->n_vocab()) {
      return make_error("decode: token id " + std::to_string(t) + " is outside the vocabulary (" +
                        std::to_string(model_->n_vocab()) + ")");
    }
  }
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
    const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(n_batch_), tokens.size() - start));
    forward(tokens.data() + start, n, all_logits);
    n_past_ += n;
  }
  return Ok{};
}

void Session::forward(const int32_t* tokens, int n_tokens, bool all_logits) {
  const LlamaModel& m = *model_;
  const auto& hp = m.hparams();
  const int64_t n_embd = hp.n_embd;
  const int half_rot = static_cast<int>(hp.n_rot / 2);

  // Token embeddings: rows of token_embd decoded exactly.
  const auto& embd = m.token_embd();
  for (int t = 0; t < n_tokens; ++t) {
    embd.traits().dequantize(embd.data + static_cast<size_t>(tokens[t]) * embd.row_bytes(), &x_[t * n_embd], n_embd);
  }
  // RoPE angles for each position of the batch.
  ops::RopeConfig rope{static_cast<int>(hp.n_rot), hp.rope_freq_base, hp.rope_freq_scale, hp.rope_attn_factor,
                       m.rope_freq_factors().empty() ? nullptr : m.rope_freq_factors().data()};
  for (int t = 0; t < n_tokens; ++t) {
    ops::rope_cos_sin(rope, n_past_ + t, &rope_cos_[t * half_rot], &rope_sin_[t * half_rot]);
  }

  auto add_bias = [n_tokens](float* y, const std::vector<float>& bias) {
    if (bias.empty()) return;
    const size_t n = bias.size();
    for (int t = 0; t < n_tokens; ++t) {
      for (size_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
    }
  };

  // Input rows RMSNorm(x_[first + t]) * weight, made inside the matmul they feed (ops::RowFn).
  auto rmsnorm_rows = [&](const float* weight, int64_t first) {
    return [this, weight, first, n_embd, eps = hp.rms_eps](int64_t t, float* buf) -> const float* {
      ops::rmsnorm(&x_[(first + t) * n_embd], weight, buf, n_embd, eps);
      return buf;
    };
  };

  for (size_t l = 0; l < m.layers().size(); ++l) {
    const LlamaLayer& layer = m.layers()[l];
    const int n_head = static_cast<int>(hp.n_head[l]), n_head_kv = static_cast<int>(hp.n_head_kv[l]);
    const int hd = static_cast<int>(hp.head_dim);

    // Attention block. The norms and SwiGLU run inside the matmuls they feed.
    const ops::Matrix* qkv[] = {&layer.wq, &layer.wk, &layer.wv};
    float* qkv_out[] = {q_.data(), k_.data(), v_.data()};
    ops::matmul_shared_input(qkv, rmsnorm_rows(layer.attn_norm.data(), 0), n_tokens, qkv_out, scratch_, pool_);
    add_bias(q_.data(), layer.bq);
    add_bias(k_.data(), layer.bk);
    add_bias(v_.data(), layer.bv);
    for (int t = 0; t < n_tokens; ++t) {
      ops::rope_norm(&q_[t * layer.wq.n_out], n_head, hd, static_cast<int>(hp.n_rot), &rope_cos_[t * half_rot],
                     &rope_sin_[t * half_rot]);
      ops::rope_norm(&k_[t * kv_row_], n_head_kv, hd, static_cast<int>(hp.n_rot), &rope_cos_[t * half_rot],
                     &rope_sin_[t * half_rot]);
      // Store K and V in the cache as f16.
      const size_t cache_row = (l * static_cast<size_t>(n_ctx_) + static_cast<size_t>(n_past_ + t)) * kv_row_;
      for (int64_t i = 0; i < kv_row_; ++i) {
        k_cache_[cache_row + i] = fp32_to_fp16(k_[t * kv_row_ + i]);
        v_cache_[cache_row + i] = fp32_to_fp16(v_[t * kv_row_ + i]);
      }
    }
    attention(static_cast<int>(l), n_tokens);
    ops::matmul(layer.wo, attn_.data(), n_tokens, h_.data(), scratch_, pool_);
    add_bias(h_.data(), layer.bo);
    for (int64_t i = 0; i < n_tokens * n_embd; ++i) x_[i] += h_[i];

    // Feed-forward block (SwiGLU).
    const int64_t n_ff = layer.ffn_gate.n_out;
    const ops::Matrix* gate_up[] = {&layer.ffn_gate, &layer.ffn_up};
    float* gate_up_out[] = {gate_.data(), up_.data()};
    ops::matmul_shared_input(gate_up, rmsnorm_rows(layer.ffn_norm.data(), 0), n_tokens, gate_up_out, scratch_, pool_);
    add_bias(gate_.data(), layer.b_gate);
    add_bias(up_.data(), layer.b_up);
    auto swiglu = [&](int64_t t, float* buf) -> const float* {
      swiglu_(&gate_[t * n_ff], &up_[t * n_ff], buf, n_ff);
      return buf;
    };
    const ops::Matrix* down[] = {&layer.ffn_down};
    float* down_out[] = {h_.data()};
    ops::matmul_shared_input(down, swiglu, n_tokens, down_out, scratch_, pool_);
    add_bias(h_.data(), layer.b_down);
    for (int64_t i = 0; i < n_tokens * n_embd; ++i) x_[i] += h_[i];
  }

  // Final norm and output head, for every token or only the last.
  const int first = all_logits ? 0 : n_tokens - 1;
  const int n_out = n_tokens - first;
  const ops::Matrix* output[] = {&m.output()};
  float* logits_out[] = {logits_.data()};
  ops::matmul_shared_input(output, rmsnorm_rows(m.output_norm().data(), first), n_out, logits_out, scratch_, pool_);
}

// Causal attention of the batch's queries over the cache (positions 0 .. n_past + t for token t).
void Session::attention(int layer, int n_tokens) {
  const auto& hp = model_->hparams();
  const size_t layer_offset = static_cast<size_t>(layer) * n_ctx_ * kv_row_;
  ops::AttentionBatch batch;
  batch.q = q_.data();
  batch.k = &k_cache_[layer_offset];
  batch.v = &v_cache_[layer_offset];
  batch.kv_stride = static_cast<size_t>(kv_row_);
  batch.out = attn_.data();
  batch.n_tokens = n_tokens;
  batch.n_past = static_cast<int>(n_past_);
  batch.n_head = static_cast<int>(hp.n_head[layer]);
  batch.n_head_kv = static_cast<int>(hp.n_head_kv[layer]);
  batch.head_dim = static_cast<int>(hp.head_dim);
  batch.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  batch.online_softmax = flash_attn_;
  ops::run_attention(batch, model_->isa(), pool_, attention_scratch_);
}

}  // namespace cria::model
