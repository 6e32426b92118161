// The mixture-of-experts feed-forward (Mixtral, Qwen2-MoE, Qwen3-MoE), as llama.cpp computes it: the
// router's softmax over all experts, the top n_expert_used per token (ties to the lower index), their
// probabilities as weights (renormalized to sum 1 where the architecture says), each chosen expert's
// SwiGLU FFN times its weight, summed in the router's order; plus, for Qwen2-MoE, a shared expert scaled
// by sigmoid(x . ffn_gate_inp_shexp).
//
// Each expert runs once over all the tokens routed to it, gathered into one matrix, so a prompt is still
// a GEMM per expert and a generated token reads only its chosen experts' weights.
#include <algorithm>
#include <cmath>

#include "model/runner.h"

namespace cria::model {

void Runner::moe_ffn(const Layer& layer, int n_tokens, float* out) {
  const auto& hp = model_->hparams();
  const int64_t n_embd = hp.n_embd, n_ff = hp.n_ff_exp;
  const int k = static_cast<int>(hp.n_expert_used);
  // The normed input, once for the router and every expert.
  for (int t = 0; t < n_tokens; ++t) {
    ops::rmsnorm(&x_[t * n_embd], layer.ffn_norm.data(), &moe_in_[t * n_embd], n_embd, hp.rms_eps);
  }
  route_tokens(layer, n_tokens);

  for (size_t e = 0; e < expert_routes_.size(); ++e) {
    const auto& routes = expert_routes_[e];
    if (routes.empty()) continue;
    expert_tokens_.clear();
    for (const Route& r : routes) expert_tokens_.push_back(r.token);
    const int64_t n_rows = static_cast<int64_t>(routes.size());
    auto gathered = [this, n_embd](int64_t i, float*) -> const float* {
      return &moe_in_[static_cast<size_t>(expert_tokens_[static_cast<size_t>(i)]) * n_embd];
    };
    const ops::Matrix* gate_up[] = {&layer.gate_exps[e], &layer.up_exps[e]};
    float* gate_up_out[] = {gate_.data(), up_.data()};
    ops::matmul_shared_input(gate_up, gathered, n_rows, gate_up_out, scratch_, pool_);
    auto activated = [&](int64_t i, float* buf) -> const float* {
      swiglu_(&gate_[i * n_ff], &up_[i * n_ff], buf, n_ff);
      return buf;
    };
    const ops::Matrix* down[] = {&layer.down_exps[e]};
    float* down_out[] = {expert_out_.data()};
    ops::matmul_shared_input(down, activated, n_rows, down_out, scratch_, pool_);
    // Each routed token's slot receives the expert's output times the router weight.
    for (int64_t i = 0; i < n_rows; ++i) {
      const Route& r = routes[static_cast<size_t>(i)];
      const size_t slot = static_cast<size_t>(r.token) * k + r.slot;
      const float w = slot_weight_[slot];
      float* dst = &slot_out_[slot * n_embd];
      const float* src = &expert_out_[i * n_embd];
      for (int64_t j = 0; j < n_embd; ++j) dst[j] = src[j] * w;
    }
  }
  // The slots summed in the router's order.
  for (int t = 0; t < n_tokens; ++t) {
    float* dst = out + t * n_embd;
    const float* slot = &slot_out_[static_cast<size_t>(t) * k * n_embd];
    std::copy(slot, slot + n_embd, dst);
    for (int s = 1; s < k; ++s) {
      for (int64_t j = 0; j < n_embd; ++j) dst[j] += slot[s * n_embd + j];
    }
  }
  if (layer.has_shared_expert()) shared_expert(layer, n_tokens, out);
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

// out += down(silu(gate(x)) * up(x)) * sigmoid(x . shexp_router), over the normed input.
void Runner::shared_expert(const Layer& layer, int n_tokens, float* out) {
  const auto& hp = model_->hparams();
  const int64_t n_embd = hp.n_embd, n_ff = layer.shexp_gate.n_out;
  auto normed = [this, n_embd](int64_t t, float*) -> const float* { return &moe_in_[t * n_embd]; };
  const ops::Matrix* gate_up[] = {&layer.shexp_gate, &layer.shexp_up};
  float* gate_up_out[] = {gate_.data(), up_.data()};
  ops::matmul_shared_input(gate_up, normed, n_tokens, gate_up_out, scratch_, pool_);
  auto activated = [&](int64_t t, float* buf) -> const float* {
    swiglu_(&gate_[t * n_ff], &up_[t * n_ff], buf, n_ff);
    return buf;
  };
  const ops::Matrix* down[] = {&layer.shexp_down};
  float* down_out[] = {expert_out_.data()};
  ops::matmul_shared_input(down, activated, n_tokens, down_out, scratch_, pool_);
  for (int t = 0; t < n_tokens; ++t) {
    const float* x = &moe_in_[t * n_embd];
    float g = 0;
    for (int64_t j = 0; j < n_embd; ++j) g += layer.shexp_router[static_cast<size_t>(j)] * x[j];
    // llama.cpp writes the sigmoid as silu(g) / g.
    const float gate = (g / (1.0f + std::exp(-g))) / g;
    const float* src = &expert_out_[t * n_embd];
    float* dst = out + t * n_embd;
    for (int64_t j = 0; j < n_embd; ++j) dst[j] += src[j] * gate;
  }
}

}  // namespace cria::model
