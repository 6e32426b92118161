// The mixture-of-experts feed-forward (Mixtral, Qwen2-MoE, Qwen3-MoE), as llama.cpp computes it: the
// router's softmax over all experts, the top n_expert_used per token (ties to the lower index), their
// probabilities as weights (renormalized to sum 1 where the architecture says), each chosen expert's
// SwiGLU FFN times its weight, summed in the router's order; plus, for Qwen2-MoE, a shared expert scaled
// by sigmoid(x . ffn_gate_inp_shexp).
//
// Each expert runs once over all the tokens routed to it, gathered into one matrix, so a prompt is still
// a GEMM per expert and a generated token reads only its chosen experts' weights. All the experts' gate
// and up products are one parallel step (ops::matmul_jobs) and all their down products another, so a
// generated token's layer costs two thread synchronisations whatever the number of experts.
#include <algorithm>
#include <cmath>

#include "model/runner.h"

namespace cria::model {

void Runner::moe_ffn(const Layer& layer, const float* x, int n_tokens, float* out) {
  const auto& hp = model_->hparams();
  const int64_t n_embd = hp.n_embd;
  const int k = static_cast<int>(hp.n_expert_used);
  // The normed input, once for the router and every expert.
  for (int t = 0; t < n_tokens; ++t) {
    ops::rmsnorm(&x[t * n_embd], layer.ffn_norm.data(), &moe_in_[t * n_embd], n_embd, hp.rms_eps);
  }
  route_tokens(layer, n_tokens);
  plan_expert_runs(layer, n_tokens);
  // Waves of runs whose gate and up outputs fit their buffers: one wave for a generated token.
  const int64_t capacity = static_cast<int64_t>(gate_.size());
  for (size_t begin = 0, end; begin < expert_runs_.size(); begin = end) {
    int64_t used = 0;
    for (end = begin; end < expert_runs_.size(); ++end) {
      ExpertRun& run = expert_runs_[end];
      if (end > begin && used + run.n_rows * run.n_ff > capacity) break;
      run.ffn_offset = used;
      used += run.n_rows * run.n_ff;
    }
    run_experts(layer, begin, end);
  }
  // Each token's slots weighted and summed in the router's order.
  for (int t = 0; t < n_tokens; ++t) {
    float* dst = out + t * n_embd;
    for (int s = 0; s < k; ++s) {
      const size_t slot = static_cast<size_t>(t) * k + s;
      const float* src = &expert_out_[static_cast<size_t>(slot_row_[slot]) * n_embd];
      const float w = slot_weight_[slot];
      if (s == 0) {
        for (int64_t j = 0; j < n_embd; ++j) dst[j] = src[j] * w;
      } else {
        for (int64_t j = 0; j < n_embd; ++j) dst[j] += src[j] * w;
      }
    }
  }
  if (layer.has_shared_expert()) add_shared_expert(layer, n_tokens, out);
}

// One run per expert that has tokens, then the shared expert over every token: where each run's rows
// go in expert_out_, and which row holds each (token, slot).
void Runner::plan_expert_runs(const Layer& layer, int n_tokens) {
  const auto& hp = model_->hparams();
  const int k = static_cast<int>(hp.n_expert_used);
  expert_runs_.clear();
  int64_t out_row = 0;
  for (size_t e = 0; e < expert_routes_.size(); ++e) {
    const auto& routes = expert_routes_[e];
    if (routes.empty()) continue;
    for (size_t i = 0; i < routes.size(); ++i) {
      slot_row_[static_cast<size_t>(routes[i].token) * k + routes[i].slot] = static_cast<int32_t>(out_row + i);
    }
    expert_runs_.push_back({static_cast<int>(e), static_cast<int64_t>(routes.size()), hp.n_ff_exp, 0, out_row});
    out_row += static_cast<int64_t>(routes.size());
  }
  if (layer.has_shared_expert()) {
    shexp_row_ = out_row;
    expert_runs_.push_back({kSharedExpert, n_tokens, layer.shexp_gate.n_out, 0, out_row});
  }
}

// Runs [begin, end): every run's gate and up in one parallel matmul step, then every down in another.
// Expert e reads the normed input rows of its tokens; the shared expert reads them all.
void Runner::run_experts(const Layer& layer, size_t begin, size_t end) {
  const int64_t n_embd = model_->hparams().n_embd;
  expert_jobs_.clear();
  for (size_t i = begin; i < end; ++i) {
    const ExpertRun* run = &expert_runs_[i];
    const bool shared = run->expert == kSharedExpert;
    const auto e = static_cast<size_t>(run->expert);
    auto input = [this, run](int64_t r, float*) -> const float* {
      const int64_t t = run->expert == kSharedExpert ? r : expert_routes_[static_cast<size_t>(run->expert)][r].token;
      return &moe_in_[static_cast<size_t>(t * model_->hparams().n_embd)];
    };
    expert_jobs_.push_back({shared ? &layer.shexp_gate : &layer.gate_exps[e], input, run->n_rows,
                            gate_.data() + run->ffn_offset});
    // Up reads the rows prepared for gate.
    expert_jobs_.push_back({shared ? &layer.shexp_up : &layer.up_exps[e], ops::RowFn(), run->n_rows,
                            up_.data() + run->ffn_offset});
  }
  ops::matmul_jobs(expert_jobs_, scratch_, pool_);
  expert_jobs_.clear();
  for (size_t i = begin; i < end; ++i) {
    const ExpertRun* run = &expert_runs_[i];
    const bool shared = run->expert == kSharedExpert;
    auto activated = [this, run](int64_t r, float* buf) -> const float* {
      const size_t at = static_cast<size_t>(run->ffn_offset + r * run->n_ff);
      swiglu_(&gate_[at], &up_[at], buf, run->n_ff);
      return buf;
    };
    expert_jobs_.push_back({shared ? &layer.shexp_down : &layer.down_exps[static_cast<size_t>(run->expert)],
                            activated, run->n_rows, expert_out_.data() + run->out_row * n_embd});
  }
  ops::matmul_jobs(expert_jobs_, scratch_, pool_);
}

// The router: per token, softmax over the experts, the top k, their weights; and per expert, the
// (token, slot) pairs routed to it.
void Runner::route_tokens(const Layer& layer, int n_tokens) {
  const auto& hp = model_->hparams();
  const int n_expert = static_cast<int>(hp.n_expert), k = static_cast<int>(hp.n_expert_used);
  ops::matmul(layer.router, moe_in_.data(), n_tokens, router_logits_.data(), scratch_, pool_);
  for (auto& routes : expert_routes_) routes.clear();
  for (int t = 0; t < n_tokens; ++t) {
    float* probs = &router_logits_[static_cast<size_t>(t) * n_expert];
    ops::softmax(probs, n_expert);
    float* weights = &slot_weight_[static_cast<size_t>(t) * k];
    int32_t* chosen = &slot_expert_[static_cast<size_t>(t) * k];
    for (int s = 0; s < k; ++s) {
      int best = -1;
      for (int e = 0; e < n_expert; ++e) {
        if (std::find(chosen, chosen + s, e) != chosen + s) continue;
        if (best < 0 || probs[e] > probs[best]) best = e;
      }
      chosen[s] = best;
      weights[s] = probs[best];
      expert_routes_[static_cast<size_t>(best)].push_back({t, s});
    }
    if (hp.desc->expert_weights == ExpertWeights::Renormalized) {
      double sum = 0;
      for (int s = 0; s < k; ++s) sum += weights[s];
      const float total = static_cast<float>(sum);
      for (int s = 0; s < k; ++s) weights[s] /= total;
    }
  }
}

// out += shared expert's output * sigmoid(x . shexp_router), over the normed input x.
void Runner::add_shared_expert(const Layer& layer, int n_tokens, float* out) {
  const int64_t n_embd = model_->hparams().n_embd;
  for (int t = 0; t < n_tokens; ++t) {
    const float* x = &moe_in_[t * n_embd];
    float g = 0;
    for (int64_t j = 0; j < n_embd; ++j) g += layer.shexp_router[static_cast<size_t>(j)] * x[j];
    // llama.cpp writes the sigmoid as silu(g) / g.
    const float gate = (g / (1.0f + std::exp(-g))) / g;
    const float* src = &expert_out_[static_cast<size_t>(shexp_row_ + t) * n_embd];
    float* dst = out + t * n_embd;
    for (int64_t j = 0; j < n_embd; ++j) dst[j] += src[j] * gate;
  }
}

}  // namespace cria::model
