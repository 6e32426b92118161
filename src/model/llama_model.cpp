#include "model/llama_model.h"

#include <string>

namespace cria::model {

namespace {

std::string shape_of(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Looks up tensors by name and checks their shapes; every error names the file and the tensor.
class Binder {
 public:
  Binder(const gguf::File& file, ops::Isa isa) : file_(file), isa_(isa) {}

  Result<const gguf::TensorInfo*> tensor(const std::string& name, const std::vector<int64_t>& ne, bool required) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (t == nullptr) {
      if (!required) return static_cast<const gguf::TensorInfo*>(nullptr);
      return make_error(file_.path() + ": tensor '" + name + "' is missing");
    }
    bool ok = t->n_elements() > 0;
    for (size_t d = 0; d < 4; ++d) ok = ok && t->ne[d] == (d < ne.size() ? ne[d] : 1);
    if (!ok) {
      return make_error(file_.path() + ": tensor '" + name + "' has shape " + t->shape_string() + ", expected " +
                        shape_of(ne));
    }
    return t;
  }

  Status matrix(const std::string& name, int64_t n_in, int64_t n_out, ops::Matrix& out) {
    auto t = tensor(name, {n_in, n_out}, true);
    if (!t) return t.error();
    auto m = ops::Matrix::make((*t)->type, n_in, n_out, (*t)->data, isa_);
    if (!m) return make_error(file_.path() + ": tensor '" + name + "': " + m.error().message);
    out = *m;
    return Ok{};
  }

  Status vector(const std::string& name, int64_t n, bool required, std::vector<float>& out) {
    auto t = tensor(name, {n}, required);
    if (!t) return t.error();
    if (*t == nullptr) return Ok{};
    auto values = gguf::dequantize_tensor(**t);
    if (!values) return make_error(file_.path() + ": " + values.error().message);
    out = std::move(*values);
    return Ok{};
  }

 private:
  const gguf::File& file_;
  ops::Isa isa_;
};

}  // namespace

Result<std::shared_ptr<const LlamaModel>> LlamaModel::load(const std::string& path, ops::Isa isa) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  return from_file(std::move(*file), isa);
}

Result<std::shared_ptr<const LlamaModel>> LlamaModel::from_file(gguf::File file, ops::Isa isa) {
  auto model = std::make_shared<LlamaModel>();
  model->file_ = std::move(file);
  const gguf::File& f = model->file_;
  auto hp = LlamaHparams::from_gguf(f);
  if (!hp) return hp.error();
  model->hparams_ = *hp;
  const LlamaHparams& h = model->hparams_;
  const int64_t n_embd = h.n_embd;

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return make_error(f.path() + ": tensor 'token_embd.weight' is missing");
  if (embd->ne[0] != n_embd || embd->ne[1] <= 0 || embd->ne[2] != 1 || embd->ne[3] != 1) {
    return make_error(f.path() + ": tensor 'token_embd.weight' has shape " + embd->shape_string() + ", expected [" +
                      std::to_string(n_embd) + ", n_vocab]");
  }
  if (embd->traits().dequantize == nullptr) {
    return make_error(f.path() + ": tensor 'token_embd.weight': tensor type " + std::string(embd->traits().name) +
                      " is not supported yet");
  }
  model->token_embd_ = embd;
  model->n_vocab_ = embd->ne[1];
  const int64_t n_vocab = model->n_vocab_;

  model->isa_ = isa;
  Binder bind(f, isa);
  if (auto s = bind.vector("output_norm.weight", n_embd, true, model->output_norm_); !s) return s.error();
  if (f.find_tensor("output.weight") != nullptr) {
    if (auto s = bind.matrix("output.weight", n_embd, n_vocab, model->output_); !s) return s.error();
  } else {
    // Tied embeddings: the output head reads the token embedding matrix.
    if (auto s = bind.matrix("token_embd.weight", n_embd, n_vocab, model->output_); !s) return s.error();
  }
  if (auto s = bind.vector("rope_freqs.weight", h.n_rot / 2, false, model->rope_freqs_); !s) return s.error();

  model->layers_.resize(h.n_layer);
  for (uint32_t l = 0; l < h.n_layer; ++l) {
    LlamaLayer& layer = model->layers_[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    const int64_t n_q = static_cast<int64_t>(h.n_head[l]) * h.head_dim;
    const int64_t n_kv = static_cast<int64_t>(h.n_head_kv[l]) * h.head_dim;
    const int64_t n_ff = h.n_ff[l];
    Status steps[] = {
        bind.vector(p + "attn_norm.weight", n_embd, true, layer.attn_norm),
        bind.matrix(p + "attn_q.weight", n_embd, n_q, layer.wq),
        bind.matrix(p + "attn_k.weight", n_embd, n_kv, layer.wk),
        bind.matrix(p + "attn_v.weight", n_embd, n_kv, layer.wv),
        bind.matrix(p + "attn_output.weight", n_q, n_embd, layer.wo),
        bind.vector(p + "attn_q.bias", n_q, false, layer.bq),
        bind.vector(p + "attn_k.bias", n_kv, false, layer.bk),
        bind.vector(p + "attn_v.bias", n_kv, false, layer.bv),
        bind.vector(p + "attn_output.bias", n_embd, false, layer.bo),
        bind.vector(p + "ffn_norm.weight", n_embd, true, layer.ffn_norm),
        bind.matrix(p + "ffn_gate.weight", n_embd, n_ff, layer.ffn_gate),
        bind.matrix(p + "ffn_up.weight", n_embd, n_ff, layer.ffn_up),
        bind.matrix(p + "ffn_down.weight", n_ff, n_embd, layer.ffn_down),
        bind.vector(p + "ffn_gate.bias", n_ff, false, layer.b_gate),
        bind.vector(p + "ffn_up.bias", n_ff, false, layer.b_up),
        bind.vector(p + "ffn_down.bias", n_embd, false, layer.b_down),
    };
    for (const auto& s : steps) {
      if (!s) return s.error();
    }
  }
  return std::shared_ptr<const LlamaModel>(std::move(model));
}

uint64_t LlamaModel::weight_bytes() const {
  uint64_t total = 0;
  for (const auto& t : file_.tensors()) total += t.n_bytes;
  return total;
}

}  // namespace cria::model
