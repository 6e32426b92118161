// A decoder model loaded from GGUF, of any architecture in model/architecture.h: hyperparameters and
// weights bound in place in the mapped file (no copies of the matrices), every shape checked against the
// hyperparameters. Fused tensors (Phi-3's attn_qkv and [gate; up] ffn_up) and 3-D expert tensors are
// bound as views, one Matrix per part or expert, so the forward pass sees the same shapes for all.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "model/hparams.h"
#include "model/pipeline.h"
#include "ops/matmul.h"

namespace cria::model {

struct Layer {
  std::vector<float> attn_norm, ffn_norm;   // 1-D tensors, decoded to f32 once (small)
  std::vector<float> attn_q_norm, attn_k_norm;       // per-head RMSNorm weights (head_dim), if qk_norm
  std::vector<float> post_attn_norm, post_ffn_norm;  // if post_norms
  ops::Matrix wq, wk, wv, wo;
  std::vector<float> bq, bk, bv, bo;        // optional biases (empty when absent)

  // Dense FFN (no experts).
  ops::Matrix ffn_gate, ffn_up, ffn_down;
  std::vector<float> b_gate, b_up, b_down;

  // Mixture of experts: the router (n_embd -> n_expert, ffn_gate_inp) and each expert's matrices.
  ops::Matrix router;
  std::vector<ops::Matrix> gate_exps, up_exps, down_exps;
  // The shared expert and its gate (n_embd weights; sigmoid of the dot product scales it).
  ops::Matrix shexp_gate, shexp_up, shexp_down;
  std::vector<float> shexp_router;

  bool has_experts() const { return !gate_exps.empty(); }
  bool has_shared_expert() const { return !shexp_router.empty(); }
};

// Which part of a model a process binds: all of it, or one pipeline stage's layers (the output head only
// on the stage with the last layer; the token embedding is read in place by the stage with the first), with
// the link to the other stages that every Runner of the model then uses.
struct ModelPart {
  LayerRange layers;
  std::shared_ptr<PipelineLink> link;
};

class Model {
 public:
  // `isa` picks the instruction set of the matmul kernels (default: the best this CPU has).
  static Result<std::shared_ptr<const Model>> load(const std::string& path, ops::Isa isa = ops::selected_isa(),
                                                   ModelPart part = {});
  static Result<std::shared_ptr<const Model>> from_file(gguf::File file, ops::Isa isa = ops::selected_isa(),
                                                        ModelPart part = {});

  const gguf::File& file() const { return file_; }
  const ModelHparams& hparams() const { return hparams_; }
  int64_t n_vocab() const { return n_vocab_; }

  const gguf::TensorInfo& token_embd() const { return *token_embd_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const ops::Matrix& output() const { return output_; }
  // The per-pair divisors of the RoPE angles for sequences of up to n_ctx_per_seq tokens: Llama 3.1's
  // rope_freqs, else Phi-3's long factors past the original context (hparams n_ctx_orig) and its short
  // ones within it, as llama.cpp chooses; empty when the file has none.
  const std::vector<float>& rope_freq_factors(int64_t n_ctx_per_seq) const;
  // Every layer's slot; only those in held_layers() are bound (all of them outside a pipeline).
  const std::vector<Layer>& layers() const { return layers_; }
  LayerRange held_layers() const { return held_; }
  bool holds_output() const { return held_.end == hparams_.n_layer; }
  // The other stages of a pipeline, or nullptr.
  PipelineLink* pipeline() const { return link_.get(); }
  // Bytes of this process's weights now in memory: the model file's pages it has touched (resident in
  // its mapping) and the repacked copies of its matrices.
  uint64_t resident_weight_bytes() const;

  // The instruction set whose kernels this model's matrices use.
  ops::Isa isa() const { return isa_; }

  // Bytes of all weights, and of the weights one generated token reads (with experts: the shared
  // weights and n_expert_used experts per layer, on average over equally sized experts).
  uint64_t weight_bytes() const;
  uint64_t active_weight_bytes() const;

 private:
  gguf::File file_;
  ModelHparams hparams_;
  int64_t n_vocab_ = 0;
  const gguf::TensorInfo* token_embd_ = nullptr;
  std::vector<float> output_norm_;
  ops::Matrix output_;
  std::vector<float> rope_freqs_, rope_long_, rope_short_;
  std::vector<Layer> layers_;
  LayerRange held_;
  std::shared_ptr<PipelineLink> link_;
  ops::Isa isa_ = ops::Isa::Scalar;
};

}  // namespace cria::model
