// Hugging Face layout: config.json, weights in model*.safetensors (one file or shards) or
// pytorch_model*.bin, tensors named model.layers.N.self_attn.q_proj.weight and so on.
#include <algorithm>
#include <map>

#include "convert/checkpoint.h"
#include "convert/json_file.h"
#include "convert/row_permutation.h"

namespace cria::convert {

namespace fs = std::filesystem;

namespace {

// GGUF name of a Hugging Face Llama tensor; "" for tensors that are not written; nullopt if unknown.
std::optional<std::string> gguf_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (!hf.starts_with(prefix)) return std::nullopt;
  const size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  if (rest == "self_attn.rotary_emb.inv_freq") return std::string();  // recomputed by the runtime
  static const std::map<std::string, std::string> kParts = {
      {"input_layernorm", "attn_norm"}, {"post_attention_layernorm", "ffn_norm"}, {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},           {"self_attn.o_proj", "attn_output"},
      {"mlp.gate_proj", "ffn_gate"},    {"mlp.up_proj", "ffn_up"},                {"mlp.down_proj", "ffn_down"}};
  const size_t last = rest.rfind('.');
  if (last == std::string::npos) return std::nullopt;
  const std::string suffix = rest.substr(last + 1);
  const auto part = kParts.find(rest.substr(0, last));
  if (part == kParts.end() || (suffix != "weight" && suffix != "bias")) return std::nullopt;
  return "blk." + layer + "." + part->second + "." + suffix;
}

Status read_hparams(const Json& config, const std::string& file, const CheckpointOptions& options, LlamaHParams& hp) {
  const auto archs = config.find("architectures");
  if (archs == config.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    return make_error(file + ": 'architectures' must list the model class (e.g. [\"LlamaForCausalLM\"])");
  }
  const std::string arch = (*archs)[0];
  if (arch != "LlamaForCausalLM" && arch != "MistralForCausalLM") {
    return make_error(file + ": architecture '" + arch + "' is not supported (LlamaForCausalLM and MistralForCausalLM are)");
  }
  auto count = [&](const char* key, uint32_t& out) -> Status {
    auto v = require_count(config, key, file);
    if (!v) return v.error();
    out = *v;
    return Ok{};
  };
  for (auto [key, out] : {std::pair{"num_hidden_layers", &hp.n_layer}, {"hidden_size", &hp.n_embd},
                          {"intermediate_size", &hp.n_ff}, {"num_attention_heads", &hp.n_head},
                          {"vocab_size", &hp.vocab_size}}) {
    if (auto s = count(key, *out); !s) return s;
  }
  auto kv = optional_count(config, "num_key_value_heads", file);
  auto head_dim = optional_count(config, "head_dim", file);
  auto eps = optional_number(config, "rms_norm_eps", file);
  auto theta = optional_number(config, "rope_theta", file);
  if (!kv) return kv.error();
  if (!head_dim) return head_dim.error();
  if (!eps) return eps.error();
  if (!theta) return theta.error();
  hp.n_head_kv = kv->value_or(hp.n_head);
  if (hp.n_head % hp.n_head_kv != 0) {
    return make_error(file + ": num_attention_heads " + std::to_string(hp.n_head) +
                      " is not a multiple of num_key_value_heads " + std::to_string(hp.n_head_kv));
  }
  hp.write_head_dim = head_dim->has_value();
  if (!hp.write_head_dim && hp.n_embd % hp.n_head != 0) {
    return make_error(file + ": hidden_size is not a multiple of num_attention_heads and head_dim is not given");
  }
  hp.head_dim = head_dim->value_or(hp.n_embd / hp.n_head);
  if (hp.head_dim % 2 != 0) return make_error(file + ": head dimension " + std::to_string(hp.head_dim) + " is odd");
  if (!eps->has_value() || **eps <= 0) return make_error(file + ": 'rms_norm_eps' must be a positive number");
  hp.rms_eps = static_cast<float>(**eps);
  if (theta->has_value()) hp.rope_theta = static_cast<float>(**theta);
  for (const char* key : {"max_position_embeddings", "n_ctx", "n_positions"}) {
    auto ctx = optional_count(config, key, file);
    if (!ctx) return ctx.error();
    if (ctx->has_value()) {
      hp.n_ctx = **ctx;
      break;
    }
  }
  if (options.context_length) hp.n_ctx = options.context_length;
  const auto scaling = config.find("rope_scaling");
  if (scaling != config.end() && !scaling->is_null()) {
    const std::string type = scaling->is_object() ? scaling->value("rope_type", scaling->value("type", "")) : "";
    const auto factor = scaling->is_object() ? scaling->find("factor") : scaling->end();
    if (type != "linear" || factor == scaling->end() || !factor->is_number()) {
      return make_error(file + ": rope_scaling " + scaling->dump() + " is not supported (only {\"type\": \"linear\", \"factor\": F})");
    }
    hp.rope_linear_factor = factor->get<float>();
  }
  return Ok{};
}

// model*.safetensors, else pytorch_model*.bin, sorted by name as llama.cpp lists them.
Result<std::vector<fs::path>> weight_files(const fs::path& dir) {
  std::vector<fs::path> safetensors, bins;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("model") && name.ends_with(".safetensors")) safetensors.push_back(entry.path());
    if (name.starts_with("pytorch_model") && name.ends_with(".bin")) bins.push_back(entry.path());
  }
  auto files = safetensors.empty() ? bins : safetensors;
  std::sort(files.begin(), files.end());
  const fs::path index = dir / (safetensors.empty() ? "pytorch_model.bin.index.json" : "model.safetensors.index.json");
  if (fs::exists(index)) {
    auto json = read_json_object(index);
    if (!json) return json.error();
    const auto map = json->find("weight_map");
    if (map == json->end() || !map->is_object()) return make_error(index.string() + ": no 'weight_map' object");
    for (const auto& [tensor, shard] : map->items()) {
      if (!shard.is_string() || !fs::exists(dir / shard.get<std::string>())) {
        return make_error(index.string() + ": tensor '" + tensor + "' is in shard " + shard.dump() + ", which is missing");
      }
    }
  }
  if (files.empty()) return make_error(dir.string() + ": no model*.safetensors or pytorch_model*.bin weights");
  return files;
}

}  // namespace

Result<Checkpoint> open_hf_checkpoint(const fs::path& dir, const CheckpointOptions& options) {
  Checkpoint c;
  c.layout = "Hugging Face";
  c.model_name = title_from_directory(dir);
  auto config = read_json_object(dir / "config.json");
  if (!config) return config.error();
  if (auto s = read_hparams(*config, (dir / "config.json").string(), options, c.hparams); !s) return s.error();
  auto tokenizer = read_hf_tokenizer(dir, c.hparams.vocab_size);
  if (!tokenizer) return tokenizer.error();
  c.tokenizer = std::move(*tokenizer);

  auto files = weight_files(dir);
  if (!files) return files.error();
  for (const fs::path& path : *files) {
    auto opened = path.extension() == ".safetensors" ? open_safetensors(path.string()) : open_torch_zip(path.string());
    if (!opened) return opened.error();
    std::shared_ptr<TensorFile> file = std::move(*opened);
    c.files.push_back(file);
    for (size_t i = 0; i < file->tensors().size(); ++i) {
      const StoredTensor& t = file->tensors()[i];
      const auto name = gguf_name(t.name);
      if (!name) return make_error(path.string() + ": tensor '" + t.name + "' is not part of a Llama model");
      if (name->empty()) continue;
      if (t.shape.empty() || t.shape.size() > 2) {
        return make_error(path.string() + ": tensor '" + t.name + "' has " + std::to_string(t.shape.size()) + " dimensions");
      }
      PlannedTensor planned{*name, std::vector<int64_t>(t.shape.rbegin(), t.shape.rend()), {}};
      uint32_t permute_heads = 0;
      if (name->find(".attn_q.") != std::string::npos) permute_heads = c.hparams.n_head;
      if (name->find(".attn_k.") != std::string::npos) permute_heads = c.hparams.n_head_kv;
      const int64_t rows = t.shape[0], row_len = t.shape.size() == 2 ? t.shape[1] : 1;
      planned.load = [file, i, permute_heads, rows, row_len](std::span<float> out) -> Status {
        if (permute_heads == 0) return file->read_f32(i, out);
        std::vector<float> hf_order(out.size());
        if (auto s = file->read_f32(i, hf_order); !s) return s;
        return interleave_head_rows(hf_order, out, rows, row_len, permute_heads);
      };
      c.tensors.push_back(std::move(planned));
    }
  }
  if (auto s = check_llama_tensors(c, dir.string()); !s) return s.error();
  return c;
}

}  // namespace cria::convert
