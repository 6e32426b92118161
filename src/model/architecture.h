// What distinguishes the decoder architectures cria runs: one description per GGUF `general.architecture`,
// read by the loader (which tensors and metadata to expect) and by the forward pass (which steps to
// take). Everything here is a property of the architecture; sizes come from the file's metadata
// (ModelHparams). Adding an architecture is a row in the table in architecture.cpp, and a named step
// in the forward pass only if it computes something no row has needed before.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cria::model {

// How RoPE pairs the dimensions of a head: adjacent pairs (2i, 2i+1) as Llama, or the two halves
// (i, i + n_rot/2) as GPT-NeoX and the models that followed it (Qwen, Gemma, Phi-3).
enum class RopeStyle { Norm, Neox };

// The gated feed-forward's activation: silu(gate) * up, or gelu(gate) * up (tanh approximation).
enum class Activation { Silu, Gelu };

// Where the 1/sqrt(head_dim) of attention is applied: to the scores (Llama, Qwen), or to the queries
// before they are stored for attention (Gemma, Phi-3; llama.cpp scales Q there, which rounds
// differently once Q goes through f16).
enum class QueryScale { OnScores, OnQueries };

// Which layers attend over a sliding window of `attention.sliding_window` keys (when it is > 0).
enum class SlidingLayers {
  None,        // the key is ignored (Llama: Mistral's window is not applied, as in llama.cpp)
  All,         // every layer (Phi-3)
  EvenLayers,  // layers 0, 2, 4, ... (Gemma 2)
  FiveOfSix,   // all but every sixth layer (Gemma 3: layers 5, 11, 17, ... are global)
};

// How the router's top-k expert weights are used: as the softmax gave them, or renormalized to sum to 1.
enum class ExpertWeights { AsRouted, Renormalized };

struct Architecture {
  std::string_view name;  // general.architecture, and the prefix of its metadata keys
  RopeStyle rope = RopeStyle::Norm;
  Activation activation = Activation::Silu;
  QueryScale query_scale = QueryScale::OnScores;
  SlidingLayers sliding = SlidingLayers::None;
  // Sliding layers rotate with this base instead of rope.freq_base (0: the same base; Gemma 3: 10000).
  float sliding_rope_base = 0.0f;
  uint32_t default_sliding_window = 0;  // when the file has no attention.sliding_window (Gemma 2: 4096)
  // Models of this many layers scale queries by 1/sqrt(n_embd / n_head) instead of 1/sqrt(head_dim)
  // (Gemma 2 and 3 27B, whose query_pre_attn_scalar is the model width over the heads); 0: none.
  uint32_t wide_query_scale_layers = 0;
  bool embedding_scale = false;  // the token embeddings are multiplied by sqrt(n_embd) (Gemma)
  bool qk_norm = false;          // per-head RMSNorm of Q and K before RoPE (Qwen 3, Gemma 3)
  bool post_norms = false;       // RMSNorm after attention and after the FFN, before the residual (Gemma 2/3)
  bool softcaps = false;         // reads attn_logit_softcapping and final_logit_softcapping (Gemma 2)
  bool fused_qkv = false;        // attn_qkv may hold the Q, K and V rows in one tensor (Phi-3)
  bool fused_gate_up = false;    // ffn_up holds the gate rows, then the up rows (Phi-3)
  bool experts = false;          // expert_count may be > 0: mixture-of-experts FFN
  ExpertWeights expert_weights = ExpertWeights::Renormalized;
  bool shared_expert = false;    // an always-on expert gated by sigmoid(ffn_gate_inp_shexp . x) (Qwen2-MoE)
};

// The description of an architecture name, or nullptr if cria does not run it.
const Architecture* find_architecture(std::string_view name);

// The names cria runs, for error messages: "llama, qwen2, ...".
std::string supported_architectures();

}  // namespace cria::model
