// SentencePiece vocabularies and special tokens, following what llama.cpp's convert_hf_to_gguf.py
// writes (its SentencePiece path and gguf-py's SpecialVocab), so a cria conversion carries the same
// tokenizer keys.
#include "convert/tokenizer_metadata.h"

#include <fstream>
#include <iterator>

#include "convert/json_file.h"
#include "convert/sentencepiece_model.h"
#include "convert/tokenizer_json_bpe.h"

namespace cria::convert {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSpecialTypes[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

void set_special(TokenizerMetadata& m, const std::string& type, const Json& id, size_t n_vocab) {
  if (!id.is_number_integer() || id.get<int64_t>() < 0 || static_cast<size_t>(id.get<int64_t>()) >= n_vocab) return;
  for (const auto& [t, ignored] : m.special_ids) {
    if (t == type) return;  // the first source that names an id wins
  }
  m.special_ids.emplace_back(type, static_cast<uint32_t>(id.get<int64_t>()));
}

// SentencePiece pieces to tokens, scores and types; ids the model lacks up to vocab_size are padding.
Result<TokenizerMetadata> spm_vocabulary(const fs::path& model_path, uint32_t vocab_size, SpmModel* model_out) {
  auto model = read_sentencepiece_model(model_path.string());
  if (!model) return model.error();
  const size_t n = vocab_size > 0 ? vocab_size : model->pieces.size();
  TokenizerMetadata m;
  m.model = "llama";
  m.pre = "default";
  m.tokens.resize(n);
  m.scores.assign(n, -10000.0f);
  m.types.assign(n, kUnused);
  for (size_t i = 0; i < n; ++i) m.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (size_t i = 0; i < n && i < model->pieces.size(); ++i) {
    const SpmPiece& p = model->pieces[i];
    m.tokens[i] = p.text;
    m.scores[i] = p.score;
    switch (p.type) {
      case SpmPieceType::UNKNOWN: m.types[i] = kUnknown; break;
      case SpmPieceType::CONTROL: m.types[i] = kControl; break;
      case SpmPieceType::UNUSED: m.types[i] = kUnused; break;
      case SpmPieceType::BYTE: m.types[i] = kByte; break;
      default: m.types[i] = kNormal; break;  // NORMAL and USER_DEFINED pieces alike, as llama.cpp maps them
    }
  }
  if (model_out != nullptr) *model_out = std::move(*model);
  return m;
}

// added_tokens.json and tokenizer_config.json's added_tokens_decoder override pieces by id.
Status apply_added_tokens(TokenizerMetadata& m, const fs::path& dir, const Json* tokenizer_config) {
  const size_t n = m.tokens.size();
  if (fs::exists(dir / "added_tokens.json")) {
    auto added = read_json_object(dir / "added_tokens.json");
    if (!added) return added.error();
    for (const auto& [text, id] : added->items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0) {
        return make_error((dir / "added_tokens.json").string() + ": id of '" + text + "' is not an integer");
      }
      const auto i = static_cast<size_t>(id.get<int64_t>());
      if (i >= n) continue;  // out of range ids are ignored, as in llama.cpp
      m.tokens[i] = text;
      m.scores[i] = -1000.0f;
      m.types[i] = kUserDefined;
    }
  }
  if (tokenizer_config == nullptr) return Ok{};
  const auto decoder = tokenizer_config->find("added_tokens_decoder");
  if (decoder == tokenizer_config->end() || !decoder->is_object()) return Ok{};
  for (const auto& [key, data] : decoder->items()) {
    size_t i = 0;
    try {
      i = std::stoul(key);
    } catch (...) {
      return make_error("tokenizer_config.json: added_tokens_decoder key '" + key + "' is not a token id");
    }
    if (!data.is_object() || !data.contains("content") || !data["content"].is_string()) {
      return make_error("tokenizer_config.json: added token " + key + " has no string 'content'");
    }
    if (i >= n) continue;
    std::string text = data["content"].get<std::string>();
    const bool special = data.value("special", false) == true;
    if (special || looks_like_control_token(text)) {
      m.types[i] = kControl;
    } else {
      text = replace_all(text, "\xe2\x96\x81", " ");  // user-defined tokens match raw spaces
      m.types[i] = kUserDefined;
    }
    m.scores[i] = -1000.0f;
    m.tokens[i] = text;
  }
  return Ok{};
}

// gguf-py's SpecialVocab: ids by matching tokenizer_config's token texts against tokenizer.json's
// added tokens, then config.json's <type>_token_id (generation_config.json as a last resort); the
// add_<type>_token switches and the chat template from tokenizer_config.json.
Status apply_special_tokens(TokenizerMetadata& m, const fs::path& dir, const Json* tokenizer_config,
                            const Json* tokenizer_json) {
  const size_t n = m.tokens.size();
  if (tokenizer_config != nullptr) {
    const Json* added = nullptr;
    if (tokenizer_json != nullptr && tokenizer_json->contains("added_tokens") &&
        (*tokenizer_json)["added_tokens"].is_array()) {
      added = &(*tokenizer_json)["added_tokens"];
    }
    for (const char* type : kSpecialTypes) {
      const auto entry = tokenizer_config->find(std::string(type) + "_token");
      if (added == nullptr || entry == tokenizer_config->end()) continue;
      std::string content;
      if (entry->is_string()) content = entry->get<std::string>();
      else if (entry->is_object() && entry->contains("content") && (*entry)["content"].is_string()) content = (*entry)["content"];
      else continue;
      for (const auto& token : *added) {
        if (token.is_object() && token.value("content", Json()) == content && token.contains("id")) {
          set_special(m, type, token["id"], n);
          break;
        }
      }
    }
  }
  for (const char* file : {"config.json", "generation_config.json"}) {
    if (!fs::exists(dir / file)) continue;
    auto config = read_json_object(dir / file);
    if (!config) return config.error();
    for (const char* type : kSpecialTypes) {
      const auto id = config->find(std::string(type) + "_token_id");
      if (id != config->end()) set_special(m, type, *id, n);
    }
  }
  if (tokenizer_config != nullptr) {
    for (const char* type : kSpecialTypes) {
      const auto add = tokenizer_config->find("add_" + std::string(type) + "_token");
      if (add != tokenizer_config->end() && add->is_boolean()) m.add_special.emplace_back(type, add->get<bool>());
    }
    const auto tmpl = tokenizer_config->find("chat_template");
    if (tmpl != tokenizer_config->end() && tmpl->is_string()) {
      m.chat_template = tmpl->get<std::string>();
    } else if (tmpl != tokenizer_config->end() && tmpl->is_array()) {
      for (const auto& named : *tmpl) {
        if (named.is_object() && named.value("name", "") == "default" && named.contains("template") &&
            named["template"].is_string()) {
          m.chat_template = named["template"].get<std::string>();
        }
      }
    }
  }
  if (!m.chat_template && fs::exists(dir / "chat_template.jinja")) {
    std::ifstream in(dir / "chat_template.jinja", std::ios::binary);
    m.chat_template = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return Ok{};
}

}  // namespace

void TokenizerMetadata::write_to(gguf::Writer& w) const {
  using gguf::Array;
  using gguf::ValueType;
  w.set("tokenizer.ggml.model", model);
  w.set("tokenizer.ggml.pre", pre);
  w.set("tokenizer.ggml.tokens", Array{ValueType::STRING, tokens});
  if (!scores.empty()) w.set("tokenizer.ggml.scores", Array{ValueType::FLOAT32, scores});
  w.set("tokenizer.ggml.token_type", Array{ValueType::INT32, types});
  if (!merges.empty()) w.set("tokenizer.ggml.merges", Array{ValueType::STRING, merges});
  for (const auto& [type, id] : special_ids) {
    // gguf-py's key names: "unk" is spelled out, "sep" keeps llama.cpp's historic misspelling.
    const std::string name = type == "unk" ? "unknown" : type == "sep" ? "seperator" : type == "pad" ? "padding" : type;
    w.set("tokenizer.ggml." + name + "_token_id", id);
  }
  for (const auto& [type, add] : add_special) w.set("tokenizer.ggml.add_" + type + "_token", add);
  if (chat_template) w.set("tokenizer.chat_template", *chat_template);
}

Result<TokenizerMetadata> read_hf_tokenizer(const fs::path& dir, uint32_t vocab_size) {
  std::optional<Json> tokenizer_config;
  if (fs::exists(dir / "tokenizer_config.json")) {
    auto config = read_json_object(dir / "tokenizer_config.json");
    if (!config) return config.error();
    tokenizer_config = std::move(*config);
  }
  std::optional<Json> tokenizer_json;
  if (fs::exists(dir / "tokenizer.json")) {
    auto json = read_json_object(dir / "tokenizer.json");
    if (!json) return json.error();
    tokenizer_json = std::move(*json);
  }
  const Json* config_ptr = tokenizer_config ? &*tokenizer_config : nullptr;
  const Json* json_ptr = tokenizer_json ? &*tokenizer_json : nullptr;

  Result<TokenizerMetadata> m = make_error("");
  if (fs::exists(dir / "tokenizer.model")) {
    m = spm_vocabulary(dir / "tokenizer.model", vocab_size, nullptr);
    if (!m) return m.error();
    if (auto s = apply_added_tokens(*m, dir, config_ptr); !s) return s.error();
  } else if (json_ptr != nullptr) {
    m = bpe_vocabulary(*json_ptr, (dir / "tokenizer.json").string(), vocab_size);
    if (!m) return m.error();
  } else {
    return make_error(dir.string() + ": no tokenizer.model or tokenizer.json");
  }
  if (auto s = apply_special_tokens(*m, dir, config_ptr, json_ptr); !s) return s.error();
  return m;
}

Result<TokenizerMetadata> read_meta_tokenizer(const fs::path& dir, uint32_t vocab_size) {
  if (!fs::exists(dir / "tokenizer.model")) return make_error(dir.string() + ": tokenizer.model is missing");
  SpmModel model;
  auto m = spm_vocabulary(dir / "tokenizer.model", vocab_size, &model);
  if (!m) return m.error();
  const size_t n = m->tokens.size();
  if (model.bos_id >= 0 && static_cast<size_t>(model.bos_id) < n) m->special_ids.emplace_back("bos", model.bos_id);
  if (model.eos_id >= 0 && static_cast<size_t>(model.eos_id) < n) m->special_ids.emplace_back("eos", model.eos_id);
  if (model.pad_id >= 0 && static_cast<size_t>(model.pad_id) < n) m->special_ids.emplace_back("pad", model.pad_id);
  m->add_special = {{"bos", true}, {"eos", false}};
  return m;
}

}  // namespace cria::convert
