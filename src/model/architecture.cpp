#include "model/architecture.h"

#include <array>

namespace cria::model {

namespace {

Architecture llama() {
  Architecture a;
  a.name = "llama";  // also Mistral, Llama 3.x, and Mixtral (experts)
  a.experts = true;
  a.expert_weights = ExpertWeights::Renormalized;
  return a;
}

Architecture qwen2() {
  Architecture a;
  a.name = "qwen2";
  a.rope = RopeStyle::Neox;
  return a;
}

Architecture qwen2moe() {
  Architecture a = qwen2();
  a.name = "qwen2moe";
  a.experts = true;
  a.expert_weights = ExpertWeights::AsRouted;
  a.shared_expert = true;
  return a;
}

Architecture qwen3() {
  Architecture a = qwen2();
  a.name = "qwen3";
  a.qk_norm = true;
  return a;
}

Architecture qwen3moe() {
  Architecture a = qwen3();
  a.name = "qwen3moe";
  a.experts = true;
  a.expert_weights = ExpertWeights::Renormalized;
  return a;
}

Architecture gemma() {
  Architecture a;
  a.name = "gemma";
  a.rope = RopeStyle::Neox;
  a.activation = Activation::Gelu;
  a.query_scale = QueryScale::OnQueries;
  a.embedding_scale = true;
  return a;
}

Architecture gemma2() {
  Architecture a = gemma();
  a.name = "gemma2";
  a.post_norms = true;
  a.softcaps = true;
  a.sliding = SlidingLayers::EvenLayers;
  a.default_sliding_window = 4096;
  a.wide_query_scale_layers = 46;
  return a;
}

Architecture gemma3() {
  Architecture a = gemma();
  a.name = "gemma3";
  a.post_norms = true;
  a.qk_norm = true;
  a.sliding = SlidingLayers::FiveOfSix;
  a.sliding_rope_base = 10000.0f;
  a.wide_query_scale_layers = 62;
  return a;
}

Architecture phi3() {
  Architecture a;
  a.name = "phi3";
  a.rope = RopeStyle::Neox;
  a.query_scale = QueryScale::OnQueries;
  a.sliding = SlidingLayers::All;
  a.fused_qkv = true;
  a.fused_gate_up = true;
  return a;
}

const std::array<Architecture, 9>& table() {
  static const std::array<Architecture, 9> t = {llama(), qwen2(), qwen2moe(), qwen3(), qwen3moe(),
                                                gemma(), gemma2(), gemma3(), phi3()};
  return t;
}

}  // namespace

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture& a : table()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string supported_architectures() {
  std::string s;
  for (const Architecture& a : table()) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

}  // namespace cria::model
