#include "convert/checkpoint.h"

#include <cctype>
#include <map>
#include <set>

namespace cria::convert {

namespace fs = std::filesystem;

int64_t PlannedTensor::n_elements() const {
  int64_t n = 0;
  return element_count(ne, n) ? n : -1;
}

Result<Checkpoint> open_checkpoint(const fs::path& dir, const CheckpointOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error(dir.string() + ": not a directory");
  if (fs::exists(dir / "params.json")) return open_meta_checkpoint(dir, options);
  if (fs::exists(dir / "config.json")) return open_hf_checkpoint(dir, options);
  return make_error(dir.string() + ": neither a Meta checkpoint (params.json) nor a Hugging Face one (config.json)");
}

namespace {

std::string shape_string(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// The GGUF shape of a Llama tensor, or nullopt for a name a Llama model does not have.
std::optional<std::vector<int64_t>> expected_ne(const std::string& name, const LlamaHParams& hp) {
  const int64_t embd = hp.n_embd, vocab = hp.vocab_size, ff = hp.n_ff;
  const int64_t q = int64_t{hp.n_head} * hp.head_dim, kv = int64_t{hp.n_head_kv} * hp.head_dim;
  if (name == "token_embd.weight" || name == "output.weight") return std::vector<int64_t>{embd, vocab};
  if (name == "output_norm.weight") return std::vector<int64_t>{embd};
  if (!name.starts_with("blk.")) return std::nullopt;
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return std::nullopt;
  const std::string layer = name.substr(4, dot - 4);
  if (layer.empty() || layer.size() > 4 || !std::all_of(layer.begin(), layer.end(), ::isdigit) ||
      std::stoul(layer) >= hp.n_layer) {
    return std::nullopt;
  }
  static const std::map<std::string, int> kKinds = {
      {"attn_norm.weight", 0},   {"ffn_norm.weight", 0},  {"attn_q.weight", 1},    {"attn_k.weight", 2},
      {"attn_v.weight", 2},      {"attn_output.weight", 3}, {"ffn_gate.weight", 4}, {"ffn_up.weight", 4},
      {"ffn_down.weight", 5},    {"attn_q.bias", 6},      {"attn_k.bias", 7},      {"attn_v.bias", 7},
      {"attn_output.bias", 0}};
  const auto kind = kKinds.find(name.substr(dot + 1));
  if (kind == kKinds.end()) return std::nullopt;
  switch (kind->second) {
    case 0: return std::vector<int64_t>{embd};
    case 1: return std::vector<int64_t>{embd, q};
    case 2: return std::vector<int64_t>{embd, kv};
    case 3: return std::vector<int64_t>{q, embd};
    case 4: return std::vector<int64_t>{embd, ff};
    case 5: return std::vector<int64_t>{ff, embd};
    case 6: return std::vector<int64_t>{q};
    default: return std::vector<int64_t>{kv};
  }
}

}  // namespace

Status check_llama_tensors(const Checkpoint& checkpoint, const std::string& source) {
  const LlamaHParams& hp = checkpoint.hparams;
  std::set<std::string> seen;
  for (const PlannedTensor& t : checkpoint.tensors) {
    if (!seen.insert(t.name).second) return make_error(source + ": two tensors map to '" + t.name + "'");
    const auto ne = expected_ne(t.name, hp);
    if (!ne) return make_error(source + ": tensor '" + t.name + "' is not part of a " + std::to_string(hp.n_layer) + "-layer Llama model");
    if (*ne != t.ne) {
      return make_error(source + ": tensor '" + t.name + "' has shape " + shape_string(t.ne) + " (GGUF order), the " +
                        "hyperparameters give " + shape_string(*ne) + "; does the config match the weights?");
    }
  }
  std::vector<std::string> required = {"token_embd.weight", "output_norm.weight"};
  for (uint32_t i = 0; i < hp.n_layer; ++i) {
    for (const char* kind : {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
                             "ffn_up", "ffn_down"}) {
      required.push_back("blk." + std::to_string(i) + "." + kind + ".weight");
    }
  }
  for (const auto& name : required) {
    if (!seen.contains(name)) return make_error(source + ": tensor '" + name + "' is missing");
  }
  if (checkpoint.tokenizer.tokens.size() != hp.vocab_size) {
    return make_error(source + ": the tokenizer has " + std::to_string(checkpoint.tokenizer.tokens.size()) +
                      " tokens, the model " + std::to_string(hp.vocab_size));
  }
  return Ok{};
}

std::string title_from_directory(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") name = fs::absolute(dir).lexically_normal().filename().string();
  // Words split at '-' and spaces; an all-lowercase word that is not a version or a number is titled.
  std::string out, word;
  auto flush = [&] {
    if (word.empty()) return;
    const bool has_lower = std::any_of(word.begin(), word.end(), ::islower);
    const bool has_upper = std::any_of(word.begin(), word.end(), ::isupper);
    const bool numeric = std::isdigit(static_cast<unsigned char>(word[0])) ||
                         (word[0] == 'v' && word.size() > 1 && std::isdigit(static_cast<unsigned char>(word[1])));
    if (has_lower && !has_upper && !numeric) {
      bool after_letter = false;
      for (char& c : word) {
        const bool letter = std::isalpha(static_cast<unsigned char>(c));
        if (letter) c = static_cast<char>(after_letter ? std::tolower(c) : std::toupper(c));
        after_letter = letter;
      }
    }
    out += (out.empty() ? "" : " ") + word;
    word.clear();
  };
  for (char c : name) {
    if (c == '-' || c == ' ') flush();
    else word += c;
  }
  flush();
  return out;
}

}  // namespace cria::convert
