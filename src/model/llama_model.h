// A Llama-family model loaded from GGUF: hyperparameters and weights bound in place in the mapped file
// (no copies of the matrices), every shape checked against the hyperparameters.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "model/llama_hparams.h"
#include "ops/matmul.h"

namespace cria::model {

struct LlamaLayer {
  std::vector<float> attn_norm, ffn_norm;   // 1-D tensors, decoded to f32 once (small)
  ops::Matrix wq, wk, wv, wo;
  std::vector<float> bq, bk, bv, bo;        // optional biases (empty when absent)
  ops::Matrix ffn_gate, ffn_up, ffn_down;
  std::vector<float> b_gate, b_up, b_down;
};

class LlamaModel {
 public:
  // `isa` picks the instruction set of the matmul kernels (default: the best this CPU has).
  static Result<std::shared_ptr<const LlamaModel>> load(const std::string& path, ops::Isa isa = ops::selected_isa());
  static Result<std::shared_ptr<const LlamaModel>> from_file(gguf::File file, ops::Isa isa = ops::selected_isa());

  const gguf::File& file() const { return file_; }
  const LlamaHparams& hparams() const { return hparams_; }
  int64_t n_vocab() const { return n_vocab_; }

  const gguf::TensorInfo& token_embd() const { return *token_embd_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const ops::Matrix& output() const { return output_; }
  const std::vector<float>& rope_freq_factors() const { return rope_freqs_; }
  const std::vector<LlamaLayer>& layers() const { return layers_; }

  // The instruction set whose kernels this model's matrices use.
  ops::Isa isa() const { return isa_; }

  // Bytes of all weights (what one generated token reads).
  uint64_t weight_bytes() const;

 private:
  gguf::File file_;
  LlamaHparams hparams_;
  int64_t n_vocab_ = 0;
  const gguf::TensorInfo* token_embd_ = nullptr;
  std::vector<float> output_norm_;
  ops::Matrix output_;
  std::vector<float> rope_freqs_;
  std::vector<LlamaLayer> layers_;
  ops::Isa isa_ = ops::Isa::Scalar;
};

}  // namespace cria::model
