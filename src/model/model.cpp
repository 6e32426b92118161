#include "model/model.h"

#include "core/huge_pages.h"
#include "core/mapped_file.h"
#include "core/memory_budget.h"

#include <optional>
#include <span>
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
  // copy_rows: matrices that are not repacked are copied onto huge pages (ops::copy_to_huge_pages).
  Binder(const gguf::File& file, ops::Isa isa, bool copy_rows) : file_(file), isa_(isa), copy_rows_(copy_rows) {}

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
    return matrix_part(name, n_in, n_out, 0, n_out, out);
  }

  // Rows row0 .. row0 + n_rows - 1 of the [n_in, n_total] tensor `name`, as a matrix of their own.
  Status matrix_part(const std::string& name, int64_t n_in, int64_t n_total, int64_t row0, int64_t n_rows,
                     ops::Matrix& out) {
    auto t = tensor(name, {n_in, n_total}, true);
    if (!t) return t.error();
    return make("tensor '" + name + "'", **t, n_in, n_rows, (*t)->data + static_cast<size_t>(row0) * (*t)->row_bytes(), out);
  }

  // The n_expert matrices [n_in, n_out] of the 3-D tensor `name`, one per expert.
  Status experts(const std::string& name, int64_t n_in, int64_t n_out, int64_t n_expert, std::vector<ops::Matrix>& out) {
    auto t = tensor(name, {n_in, n_out, n_expert}, true);
    if (!t) return t.error();
    out.resize(static_cast<size_t>(n_expert));
    const size_t expert_bytes = static_cast<size_t>(n_out) * (*t)->row_bytes();
    for (int64_t e = 0; e < n_expert; ++e) {
      const std::string which = "tensor '" + name + "' (expert " + std::to_string(e) + ")";
      if (auto s = make(which, **t, n_in, n_out, (*t)->data + static_cast<size_t>(e) * expert_bytes,
                        out[static_cast<size_t>(e)]);
          !s) {
        return s;
      }
    }
    return Ok{};
  }

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

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
  Status make(const std::string& what, const gguf::TensorInfo& t, int64_t n_in, int64_t n_out, const uint8_t* data,
              ops::Matrix& out) {
    auto m = ops::Matrix::make(t.type, n_in, n_out, data, isa_);
    if (!m) return make_error(file_.path() + ": " + what + ": " + m.error().message);
    if (copy_rows_) ops::copy_to_huge_pages(*m);
    // Repacked or copied rows are read from the copy: the process lets its pages of the file go rather
    // than hold the weights twice (they stay in the page cache; a tied embedding's lookups map them again).
    if (m->owned && file_.mapped()) release_mapped_pages(data, static_cast<size_t>(n_out) * m->row_bytes);
    out = *m;
    return Ok{};
  }

  const gguf::File& file_;
  ops::Isa isa_;
  bool copy_rows_;
};

Status first_error(std::span<const Status> steps) {
  for (const auto& s : steps) {
    if (!s) return s;
  }
  return Ok{};
}

// The attention tensors of layer l: Q, K and V as three tensors or one fused attn_qkv (Q rows, then K,
// then V), the output, the optional biases and norms.
Status bind_attention(Binder& bind, const ModelHparams& h, uint32_t l, Layer& layer) {
  const std::string p = "blk." + std::to_string(l) + ".";
  const int64_t n_embd = h.n_embd;
  const int64_t n_q = static_cast<int64_t>(h.n_head[l]) * h.head_dim;
  const int64_t n_kv = static_cast<int64_t>(h.n_head_kv[l]) * h.head_dim;
  const bool fused = h.desc->fused_qkv && bind.has(p + "attn_qkv.weight");
  const int64_t n_qkv = n_q + 2 * n_kv;
  Status steps[] = {
      bind.vector(p + "attn_norm.weight", n_embd, true, layer.attn_norm),
      fused ? bind.matrix_part(p + "attn_qkv.weight", n_embd, n_qkv, 0, n_q, layer.wq)
            : bind.matrix(p + "attn_q.weight", n_embd, n_q, layer.wq),
      fused ? bind.matrix_part(p + "attn_qkv.weight", n_embd, n_qkv, n_q, n_kv, layer.wk)
            : bind.matrix(p + "attn_k.weight", n_embd, n_kv, layer.wk),
      fused ? bind.matrix_part(p + "attn_qkv.weight", n_embd, n_qkv, n_q + n_kv, n_kv, layer.wv)
            : bind.matrix(p + "attn_v.weight", n_embd, n_kv, layer.wv),
      bind.matrix(p + "attn_output.weight", n_q, n_embd, layer.wo),
      bind.vector(p + "attn_q.bias", n_q, false, layer.bq),
      bind.vector(p + "attn_k.bias", n_kv, false, layer.bk),
      bind.vector(p + "attn_v.bias", n_kv, false, layer.bv),
      bind.vector(p + "attn_output.bias", n_embd, false, layer.bo),
      bind.vector(p + "attn_q_norm.weight", h.head_dim, h.desc->qk_norm, layer.attn_q_norm),
      bind.vector(p + "attn_k_norm.weight", h.head_dim, h.desc->qk_norm, layer.attn_k_norm),
      bind.vector(p + "post_attention_norm.weight", n_embd, h.desc->post_norms, layer.post_attn_norm),
  };
  return first_error(steps);
}

// The feed-forward tensors of layer l: a dense FFN (gate and up as two tensors or one fused [gate; up]
// ffn_up) or the experts, their router and the shared expert.
Status bind_ffn(Binder& bind, const ModelHparams& h, uint32_t l, Layer& layer) {
  const std::string p = "blk." + std::to_string(l) + ".";
  const int64_t n_embd = h.n_embd;
  if (auto s = bind.vector(p + "ffn_norm.weight", n_embd, true, layer.ffn_norm); !s) return s;
  if (auto s = bind.vector(p + "post_ffw_norm.weight", n_embd, h.desc->post_norms, layer.post_ffn_norm); !s) return s;
  if (h.n_expert == 0) {
    const int64_t n_ff = h.n_ff[l];
    const bool fused = h.desc->fused_gate_up && !bind.has(p + "ffn_gate.weight");
    Status steps[] = {
        fused ? bind.matrix_part(p + "ffn_up.weight", n_embd, 2 * n_ff, 0, n_ff, layer.ffn_gate)
              : bind.matrix(p + "ffn_gate.weight", n_embd, n_ff, layer.ffn_gate),
        fused ? bind.matrix_part(p + "ffn_up.weight", n_embd, 2 * n_ff, n_ff, n_ff, layer.ffn_up)
              : bind.matrix(p + "ffn_up.weight", n_embd, n_ff, layer.ffn_up),
        bind.matrix(p + "ffn_down.weight", n_ff, n_embd, layer.ffn_down),
        bind.vector(p + "ffn_gate.bias", n_ff, false, layer.b_gate),
        bind.vector(p + "ffn_up.bias", n_ff, false, layer.b_up),
        bind.vector(p + "ffn_down.bias", n_embd, false, layer.b_down),
    };
    return first_error(steps);
  }
  const int64_t n_exp = h.n_expert, n_ff = h.n_ff_exp;
  Status steps[] = {
      bind.matrix(p + "ffn_gate_inp.weight", n_embd, n_exp, layer.router),
      bind.experts(p + "ffn_gate_exps.weight", n_embd, n_ff, n_exp, layer.gate_exps),
      bind.experts(p + "ffn_up_exps.weight", n_embd, n_ff, n_exp, layer.up_exps),
      bind.experts(p + "ffn_down_exps.weight", n_ff, n_embd, n_exp, layer.down_exps),
  };
  if (auto s = first_error(steps); !s) return s;
  if (!h.desc->shared_expert) return Ok{};
  const int64_t n_sh = h.n_ff_shexp;
  Status shared[] = {
      bind.vector(p + "ffn_gate_inp_shexp.weight", n_embd, true, layer.shexp_router),
      bind.matrix(p + "ffn_gate_shexp.weight", n_embd, n_sh, layer.shexp_gate),
      bind.matrix(p + "ffn_up_shexp.weight", n_embd, n_sh, layer.shexp_up),
      bind.matrix(p + "ffn_down_shexp.weight", n_sh, n_embd, layer.shexp_down),
  };
  return first_error(shared);
}

}  // namespace

Result<std::shared_ptr<const Model>> Model::load(const std::string& path, ops::Isa isa, ModelPart part) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  return from_file(std::move(*file), isa, std::move(part));
}

Result<std::shared_ptr<const Model>> Model::from_file(gguf::File file, ops::Isa isa, ModelPart part) {
  auto model = std::make_shared<Model>();
  model->file_ = std::move(file);
  const gguf::File& f = model->file_;
  auto hp = ModelHparams::from_gguf(f);
  if (!hp) return hp.error();
  model->hparams_ = *hp;
  const ModelHparams& h = model->hparams_;
  model->held_ = part.layers.clipped(h.n_layer);
  model->link_ = std::move(part.link);
  if (model->held_.begin >= model->held_.end) {
    return make_error(f.path() + ": layers " + std::to_string(model->held_.begin) + ".." +
                      std::to_string(model->held_.end) + " hold none of the model's " + std::to_string(h.n_layer));
  }
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
  // Weights are copied off the file mapping onto huge pages when that helps and the copy fits twice over
  // in the memory available (a model larger than memory keeps running from its mapping, paged from disk).
  const std::optional<uint64_t> available = available_memory_bytes();
  const bool copy_rows = f.mapped() && huge_pages_available() &&
                         (!available || model->weight_bytes() <= *available / 2);
  Binder bind(f, isa, copy_rows);
  if (auto s = bind.vector("output_norm.weight", n_embd, true, model->output_norm_); !s) return s.error();
  if (!model->holds_output()) {
    // Another stage computes the logits.
  } else if (f.find_tensor("output.weight") != nullptr) {
    if (auto s = bind.matrix("output.weight", n_embd, n_vocab, model->output_); !s) return s.error();
  } else {
    // Tied embeddings: the output head reads the token embedding matrix.
    if (auto s = bind.matrix("token_embd.weight", n_embd, n_vocab, model->output_); !s) return s.error();
  }
  if (auto s = bind.vector("rope_freqs.weight", h.n_rot / 2, false, model->rope_freqs_); !s) return s.error();
  if (auto s = bind.vector("rope_factors_long.weight", h.n_rot / 2, false, model->rope_long_); !s) return s.error();
  if (auto s = bind.vector("rope_factors_short.weight", h.n_rot / 2, false, model->rope_short_); !s) return s.error();

  model->layers_.resize(h.n_layer);
  for (uint32_t l = model->held_.begin; l < model->held_.end; ++l) {
    if (auto s = bind_attention(bind, h, l, model->layers_[l]); !s) return s.error();
    if (auto s = bind_ffn(bind, h, l, model->layers_[l]); !s) return s.error();
  }
  return std::shared_ptr<const Model>(std::move(model));
}

const std::vector<float>& Model::rope_freq_factors(int64_t n_ctx_per_seq) const {
  if (!rope_freqs_.empty()) return rope_freqs_;
  return n_ctx_per_seq > static_cast<int64_t>(hparams_.n_ctx_orig) ? rope_long_ : rope_short_;
}

uint64_t Model::weight_bytes() const {
  uint64_t total = 0;
  for (const auto& t : file_.tensors()) total += t.n_bytes;
  return total;
}

uint64_t Model::resident_weight_bytes() const {
  uint64_t owned = 0;
  auto add = [&owned](const ops::Matrix& m) {
    if (m.owned) owned += m.group_bytes * static_cast<uint64_t>(m.n_out / m.rows_per_group);
  };
  add(output_);
  for (const Layer& l : layers_) {
    for (const ops::Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down, &l.router,
                                 &l.shexp_gate, &l.shexp_up, &l.shexp_down}) {
      add(*m);
    }
    for (const auto* experts : {&l.gate_exps, &l.up_exps, &l.down_exps}) {
      for (const ops::Matrix& m : *experts) add(m);
    }
  }
  return file_.resident_bytes() + owned;
}

uint64_t Model::active_weight_bytes() const {
  uint64_t total = weight_bytes();
  if (hparams_.n_expert == 0) return total;
  for (const auto& t : file_.tensors()) {
    if (t.name.find("_exps.") != std::string::npos) {
      total -= t.n_bytes - t.n_bytes / hparams_.n_expert * hparams_.n_expert_used;
    }
  }
  return total;
}

}  // namespace cria::model
