// Meta's original layout: params.json, tokenizer.model and consolidated.NN.pth, one shard per
// model-parallel rank. Sharded tensors are split along the axis their parallel layer splits
// (embeddings, attention output and w2 by columns, the other matrices by rows); 1-D norms are copies.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "convert/checkpoint.h"
#include "convert/json_file.h"

namespace cria::convert {

namespace fs = std::filesystem;

namespace {

struct MetaName {
  std::string gguf;  // "" : not written
  int split_axis;    // 0 rows, 1 columns (PyTorch order)
};

std::optional<MetaName> map_name(const std::string& meta) {
  if (meta == "tok_embeddings.weight") return MetaName{"token_embd.weight", 1};
  if (meta == "norm.weight") return MetaName{"output_norm.weight", 0};
  if (meta == "output.weight") return MetaName{"output.weight", 0};
  if (meta == "rope.freqs") return MetaName{"", 0};  // recomputed by the runtime
  if (!meta.starts_with("layers.")) return std::nullopt;
  const size_t dot = meta.find('.', 7);
  if (dot == std::string::npos) return std::nullopt;
  static const std::map<std::string, MetaName> kParts = {
      {"attention_norm.weight", {"attn_norm.weight", 0}}, {"ffn_norm.weight", {"ffn_norm.weight", 0}},
      {"attention.wq.weight", {"attn_q.weight", 0}},      {"attention.wk.weight", {"attn_k.weight", 0}},
      {"attention.wv.weight", {"attn_v.weight", 0}},      {"attention.wo.weight", {"attn_output.weight", 1}},
      {"feed_forward.w1.weight", {"ffn_gate.weight", 0}}, {"feed_forward.w2.weight", {"ffn_down.weight", 1}},
      {"feed_forward.w3.weight", {"ffn_up.weight", 0}}};
  const auto part = kParts.find(meta.substr(dot + 1));
  if (part == kParts.end()) return std::nullopt;
  return MetaName{"blk." + meta.substr(7, dot - 7) + "." + part->second.gguf, part->second.split_axis};
}

// consolidated.00.pth, consolidated.01.pth, ... with no gaps.
Result<std::vector<fs::path>> shard_paths(const fs::path& dir) {
  std::vector<fs::path> shards;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("consolidated.") && name.ends_with(".pth")) shards.push_back(entry.path());
  }
  std::sort(shards.begin(), shards.end());
  if (shards.empty()) return make_error(dir.string() + ": no consolidated.NN.pth weights");
  for (size_t i = 0; i < shards.size(); ++i) {
    char expected[64];
    std::snprintf(expected, sizeof expected, "consolidated.%02zu.pth", i);
    if (shards[i].filename() != expected) return make_error(dir.string() + ": shard " + expected + " is missing");
  }
  return shards;
}

// One tensor gathered from every shard.
struct ShardedTensor {
  std::vector<std::pair<std::shared_ptr<TensorFile>, size_t>> parts;  // file, index
  std::vector<int64_t> shape;                                         // merged, PyTorch order
  int axis;
};

Status merge_shape(ShardedTensor& t, const std::string& name, const std::string& source) {
  const auto& first = t.parts[0].first->tensors()[t.parts[0].second].shape;
  if (first.empty() || first.size() > 2) return make_error(source + ": tensor '" + name + "' is not 1-D or 2-D");
  t.shape = first;
  if (first.size() == 1) t.parts.resize(1);  // replicated on every rank
  for (size_t s = 1; s < t.parts.size(); ++s) {
    const auto& shape = t.parts[s].first->tensors()[t.parts[s].second].shape;
    const int keep = 1 - t.axis;
    if (shape.size() != 2 || shape[keep] != first[keep]) {
      return make_error(source + ": tensor '" + name + "' has mismatched shapes across shards");
    }
    t.shape[t.axis] += shape[t.axis];
  }
  return Ok{};
}

Status load_merged(const ShardedTensor& t, std::span<float> out) {
  if (t.parts.size() == 1) return t.parts[0].first->read_f32(t.parts[0].second, out);
  const int64_t rows = t.shape[0], cols = t.shape[1];
  int64_t done = 0;  // rows or columns placed so far
  std::vector<float> part;
  for (const auto& [file, index] : t.parts) {
    const auto& shape = file->tensors()[index].shape;
    part.resize(static_cast<size_t>(shape[0] * shape[1]));
    if (auto s = file->read_f32(index, part); !s) return s;
    if (t.axis == 0) {
      std::copy(part.begin(), part.end(), out.begin() + done * cols);
      done += shape[0];
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        std::copy_n(part.begin() + r * shape[1], shape[1], out.begin() + r * cols + done);
      }
      done += shape[1];
    }
  }
  return Ok{};
}

}  // namespace

Result<Checkpoint> open_meta_checkpoint(const fs::path& dir, const CheckpointOptions& options) {
  Checkpoint c;
  c.layout = "Meta";
  c.model_name = title_from_directory(dir);
  const std::string params_file = (dir / "params.json").string();
  auto params = read_json_object(dir / "params.json");
  if (!params) return params.error();
  LlamaHParams& hp = c.hparams;
  for (auto [key, out] : {std::pair{"dim", &hp.n_embd}, {"n_layers", &hp.n_layer}, {"n_heads", &hp.n_head}}) {
    auto v = require_count(*params, key, params_file);
    if (!v) return v.error();
    *out = *v;
  }
  auto kv = optional_count(*params, "n_kv_heads", params_file);
  auto eps = optional_number(*params, "norm_eps", params_file);
  auto theta = optional_number(*params, "rope_theta", params_file);
  auto max_seq = optional_count(*params, "max_seq_len", params_file);
  auto vocab = optional_number(*params, "vocab_size", params_file);  // -1 in Llama 1: "ask the tokenizer"
  for (const Status& s : {kv ? Status(Ok{}) : kv.error(), eps ? Status(Ok{}) : eps.error(),
                          theta ? Status(Ok{}) : theta.error(), max_seq ? Status(Ok{}) : max_seq.error(),
                          vocab ? Status(Ok{}) : vocab.error()}) {
    if (!s) return s.error();
  }
  hp.n_head_kv = kv->value_or(hp.n_head);
  if (hp.n_embd % hp.n_head != 0 || hp.n_head % hp.n_head_kv != 0 || (hp.n_embd / hp.n_head) % 2 != 0) {
    return make_error(params_file + ": dim " + std::to_string(hp.n_embd) + ", n_heads " + std::to_string(hp.n_head) +
                      " and n_kv_heads " + std::to_string(hp.n_head_kv) + " do not divide into even heads");
  }
  hp.head_dim = hp.n_embd / hp.n_head;
  hp.write_head_dim = true;
  if (!eps->has_value() || **eps <= 0) return make_error(params_file + ": 'norm_eps' must be a positive number");
  hp.rms_eps = static_cast<float>(**eps);
  if (theta->has_value()) hp.rope_theta = static_cast<float>(**theta);
  // params.json does not record the training context; llama.cpp's legacy converter guessed it from
  // the family's other settings (CodeLlama's theta, Llama 2's epsilon).
  if (options.context_length) {
    hp.n_ctx = options.context_length;
  } else if (max_seq->has_value()) {
    hp.n_ctx = **max_seq;
  } else {
    hp.n_ctx = theta->value_or(0) == 1e6 ? 16384u : **eps == 1e-5 ? 4096u : 2048u;
    c.notes.push_back("params.json has no context length; guessed " + std::to_string(*hp.n_ctx) +
                      " as llama.cpp's converter does (set it with --context-length)");
  }

  auto paths = shard_paths(dir);
  if (!paths) return paths.error();
  for (const auto& path : *paths) {
    auto file = open_torch_zip(path.string());
    if (!file) return file.error();
    c.files.push_back(std::move(*file));
  }
  std::vector<std::map<std::string, size_t>> by_name(c.files.size());
  for (size_t s = 0; s < c.files.size(); ++s) {
    for (size_t i = 0; i < c.files[s]->tensors().size(); ++i) by_name[s][c.files[s]->tensors()[i].name] = i;
  }
  const std::string source = (*paths)[0].string();
  for (const StoredTensor& t : c.files[0]->tensors()) {
    const auto name = map_name(t.name);
    if (!name) return make_error(source + ": tensor '" + t.name + "' is not part of a Llama model");
    if (name->gguf.empty()) continue;
    auto merged = std::make_shared<ShardedTensor>();
    merged->axis = name->split_axis;
    for (size_t s = 0; s < c.files.size(); ++s) {
      const auto it = by_name[s].find(t.name);
      if (it == by_name[s].end()) return make_error((*paths)[s].string() + ": tensor '" + t.name + "' is missing");
      merged->parts.emplace_back(c.files[s], it->second);
    }
    if (auto s = merge_shape(*merged, t.name, source); !s) return s.error();
    if (t.name == "layers.0.feed_forward.w1.weight") hp.n_ff = static_cast<uint32_t>(merged->shape[0]);
    if (t.name == "tok_embeddings.weight") hp.vocab_size = static_cast<uint32_t>(merged->shape[0]);
    c.tensors.push_back({name->gguf, std::vector<int64_t>(merged->shape.rbegin(), merged->shape.rend()),
                         [merged](std::span<float> out) { return load_merged(*merged, out); }});
  }
  if (vocab->has_value() && **vocab > 0 && static_cast<uint32_t>(**vocab) != hp.vocab_size) {
    return make_error(params_file + ": vocab_size " + std::to_string(static_cast<int64_t>(**vocab)) +
                      " does not match tok_embeddings (" + std::to_string(hp.vocab_size) + " rows)");
  }
  auto tokenizer = read_meta_tokenizer(dir, hp.vocab_size);
  if (!tokenizer) return tokenizer.error();
  c.tokenizer = std::move(*tokenizer);
  if (auto s = check_llama_tensors(c, dir.string()); !s) return s.error();
  return c;
}

}  // namespace cria::convert
