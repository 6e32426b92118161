#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>

namespace cria::tokenizer {

namespace {

constexpr uint32_t kIgnoreMerges = 1, kAddBos = 2, kKeepSpaces = 4, kNoBos = 8;

struct PreEntry {
  std::string_view name;
  PreType type;
  uint32_t flags;
};

// FORMATS.md 6.4: pre-tokenizer names and the switches each one turns.
constexpr PreEntry kPreEntries[] = {
    {"default", PreType::Default, 0},
    {"llama3", PreType::Llama3, kIgnoreMerges | kAddBos},
    {"llama-v3", PreType::Llama3, kIgnoreMerges | kAddBos},
    {"llama-bpe", PreType::Llama3, kIgnoreMerges | kAddBos},
    {"falcon3", PreType::Llama3, kIgnoreMerges | kAddBos},
    {"deepseek-llm", PreType::DeepseekLlm, kKeepSpaces},
    {"deepseek-coder", PreType::DeepseekCoder, kKeepSpaces},
    {"deepseek-v3", PreType::Deepseek3Llm, kKeepSpaces},
    {"falcon", PreType::Falcon, 0},
    {"mpt", PreType::Mpt, 0},
    {"starcoder", PreType::Starcoder, 0},
    {"gpt-2", PreType::Gpt2, 0},
    {"phi-2", PreType::Gpt2, 0},
    {"jina-es", PreType::Gpt2, 0},
    {"jina-de", PreType::Gpt2, 0},
    {"gigachat", PreType::Gpt2, 0},
    {"jina-v1-en", PreType::Gpt2, 0},
    {"jina-v2-es", PreType::Gpt2, 0},
    {"jina-v2-de", PreType::Gpt2, 0},
    {"jina-v2-code", PreType::Gpt2, 0},
    {"roberta-bpe", PreType::Gpt2, 0},
    {"refact", PreType::Refact, 0},
    {"command-r", PreType::CommandR, kKeepSpaces},
    {"qwen2", PreType::Qwen2, kKeepSpaces},
    {"deepseek-r1-qwen", PreType::Qwen2, kKeepSpaces},
    {"megrez", PreType::Qwen2, 0},
    {"stablelm2", PreType::Stablelm2, 0},
    {"olmo", PreType::Olmo, 0},
    {"dbrx", PreType::Dbrx, 0},
    {"smaug-bpe", PreType::Smaug, 0},
    {"poro-chat", PreType::Poro, kKeepSpaces},
    {"chatglm-bpe", PreType::Chatglm4, kNoBos},
    {"viking", PreType::Viking, kKeepSpaces},
    {"jais", PreType::Jais, 0},
    {"tekken", PreType::Tekken, kIgnoreMerges | kAddBos | kKeepSpaces},
    {"smollm", PreType::Smollm, kKeepSpaces},
    {"codeshell", PreType::Codeshell, 0},
    {"bloom", PreType::Bloom, 0},
    {"gpt3-finnish", PreType::Gpt3Finnish, 0},
    {"exaone", PreType::Exaone, 0},
    {"chameleon", PreType::Chameleon, kAddBos | kKeepSpaces},
    {"minerva-7b", PreType::Minerva, 0},
};

const PreEntry* find_pre(std::string_view name) {
  for (const auto& e : kPreEntries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

uint32_t attr_from_type(int32_t type) {
  switch (type) {
    case 1:
      return attr::kNormal;
    case 2:
      return attr::kUnknown;
    case 3:
      return attr::kControl;
    case 4:
      return attr::kUserDefined;
    case 5:
      return attr::kUnused;
    case 6:
      return attr::kByte;
    default:
      return attr::kUndefined;
  }
}

// Reads an optional key of the given reader type into `out`; absent keys leave `out` alone.
template <class T, class Getter>
Status read_optional(const gguf::File& file, std::string_view key, T& out, Getter get) {
  if (file.find(key) == nullptr) return Ok{};
  auto v = (file.*get)(key);
  if (!v) return v.error();
  out = *v;
  return Ok{};
}

Error key_error(const gguf::File& file, std::string_view key, const std::string& what) {
  return make_error(file.path() + ": metadata '" + std::string(key) + "': " + what);
}

struct SpecialKey {
  std::string_view key;
  int32_t SpecialIds::*field;
  bool strict;  // out of range is an error (otherwise ignored, as converters write padding ids past the end)
};

constexpr SpecialKey kSpecialKeys[] = {
    {"tokenizer.ggml.bos_token_id", &SpecialIds::bos, true},
    {"tokenizer.ggml.eos_token_id", &SpecialIds::eos, true},
    {"tokenizer.ggml.eot_token_id", &SpecialIds::eot, true},
    {"tokenizer.ggml.eom_token_id", &SpecialIds::eom, true},
    {"tokenizer.ggml.unknown_token_id", &SpecialIds::unk, true},
    {"tokenizer.ggml.seperator_token_id", &SpecialIds::sep, true},
    {"tokenizer.ggml.padding_token_id", &SpecialIds::pad, false},
    {"tokenizer.ggml.mask_token_id", &SpecialIds::mask, true},
    {"tokenizer.ggml.cls_token_id", &SpecialIds::cls, true},
    {"tokenizer.ggml.fim_pre_token_id", &SpecialIds::fim_pre, true},
    {"tokenizer.ggml.fim_suf_token_id", &SpecialIds::fim_suf, true},
    {"tokenizer.ggml.fim_mid_token_id", &SpecialIds::fim_mid, true},
    {"tokenizer.ggml.fim_pad_token_id", &SpecialIds::fim_pad, true},
    {"tokenizer.ggml.fim_rep_token_id", &SpecialIds::fim_rep, true},
    {"tokenizer.ggml.fim_sep_token_id", &SpecialIds::fim_sep, true},
    {"tokenizer.ggml.prefix_token_id", &SpecialIds::fim_pre, true},  // older names
    {"tokenizer.ggml.suffix_token_id", &SpecialIds::fim_suf, true},
    {"tokenizer.ggml.middle_token_id", &SpecialIds::fim_mid, true},
};

// Model name: vocabulary type and its defaults (FORMATS.md 6.1).
Status apply_model(const gguf::File& file, const std::string& model, Vocab& v) {
  constexpr std::string_view key = "tokenizer.ggml.model";
  if (model == "llama") {
    v.type = VocabType::Spm;
    v.special.bos = 1;
    v.special.eos = 2;
    v.special.unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else if (model == "bert") {
    v.type = VocabType::Wpm;
    v.special.bos = 101;
    v.special.unk = 100;
    v.special.sep = 102;
    v.special.pad = 0;
    v.special.mask = 103;
    v.add_bos = true;
    v.add_sep = true;
    v.clean_spaces = true;
  } else if (model == "gpt2") {
    v.type = VocabType::Bpe;
    v.special.bos = 11;
    v.special.eos = 11;
    v.clean_spaces = true;
  } else if (model == "t5" || model == "rwkv" || model == "plamo2") {
    return key_error(file, key, "tokenizer model '" + model + "' is not supported yet");
  } else if (model == "no_vocab" || model == "none") {
    return key_error(file, key, "the file has no tokenizer ('" + model + "')");
  } else {
    return key_error(file, key, "unknown tokenizer model '" + model + "'");
  }
  return Ok{};
}

Status apply_pre(const gguf::File& file, Vocab& v) {
  constexpr std::string_view key = "tokenizer.ggml.pre";
  if (v.type != VocabType::Bpe) return Ok{};  // SPM and WPM ignore the pre-tokenizer name
  v.pre_name = "default";
  if (auto s = read_optional(file, key, v.pre_name, &gguf::File::get_string); !s) return s;
  const PreEntry* e = find_pre(v.pre_name);
  if (e == nullptr) return key_error(file, key, "unknown pre-tokenizer '" + v.pre_name + "'");
  v.pre = e->type;
  if (e->flags & kIgnoreMerges) v.ignore_merges = true;
  if (e->flags & kAddBos) v.add_bos = true;
  if (e->flags & kKeepSpaces) v.clean_spaces = false;
  if (e->flags & kNoBos) v.special.bos = kNoToken;
  return Ok{};
}

Status read_tokens(const gguf::File& file, Vocab& v) {
  constexpr std::string_view kTokens = "tokenizer.ggml.tokens", kScores = "tokenizer.ggml.scores",
                             kTypes = "tokenizer.ggml.token_type";
  auto tokens = file.get_array(kTokens, gguf::ValueType::STRING);
  if (!tokens) return tokens.error();
  const auto& texts = std::get<std::vector<std::string>>((*tokens)->items);
  const size_t n = texts.size();
  if (n == 0) return key_error(file, kTokens, "the vocabulary is empty");
  if (n > size_t(INT32_MAX)) return key_error(file, kTokens, "too many tokens");

  v.scores.assign(n, 0.0f);
  if (const gguf::Value* sv = file.find(kScores); sv != nullptr) {
    const gguf::Array* a = sv->as_array();
    if (a == nullptr ||
        (a->element_type != gguf::ValueType::FLOAT32 && a->element_type != gguf::ValueType::INT32)) {
      return key_error(file, kScores, "expected an array of FLOAT32 or INT32");
    }
    if (a->size() != n) {
      return key_error(
          file, kScores,
          "has " + std::to_string(a->size()) + " entries but tokenizer.ggml.tokens has " + std::to_string(n));
    }
    if (const auto* f = std::get_if<std::vector<float>>(&a->items)) {
      v.scores = *f;
    } else {
      const auto& iv = std::get<std::vector<int32_t>>(a->items);
      for (size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(iv[i]);
    }
  }

  v.attrs.assign(n, attr::kNormal);
  if (file.find(kTypes) != nullptr) {
    auto types = file.get_array(kTypes, gguf::ValueType::INT32);
    if (!types) return types.error();
    const auto& tv = std::get<std::vector<int32_t>>((*types)->items);
    if (tv.size() != n) {
      return key_error(
          file, kTypes,
          "has " + std::to_string(tv.size()) + " entries but tokenizer.ggml.tokens has " + std::to_string(n));
    }
    for (size_t i = 0; i < n; ++i) v.attrs[i] = attr_from_type(tv[i]);
  }

  v.texts.resize(n);
  for (size_t i = 0; i < n; ++i) {
    v.texts[i] = texts[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : texts[i];
    v.max_token_len = std::max(v.max_token_len, v.texts[i].size());
  }
  v.index.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto [it, fresh] = v.index.emplace(std::string_view(v.texts[i]), static_cast<int32_t>(i));
    if (!fresh) {
      return key_error(file, kTokens,
                       "duplicate token '" + v.texts[i] + "' at ids " + std::to_string(it->second) + " and " +
                           std::to_string(i));
    }
  }
  return Ok{};
}

Status read_special_ids(const gguf::File& file, Vocab& v) {
  for (const auto& sk : kSpecialKeys) {
    int32_t& id = v.special.*sk.field;
    if (!v.valid(id)) id = kNoToken;  // a default past the end is disabled
    if (file.find(sk.key) == nullptr) continue;
    auto value = file.get_u32(sk.key);
    if (!value) return value.error();
    if (*value >= uint32_t(v.n_vocab())) {
      if (!sk.strict) continue;
      return key_error(file, sk.key,
                       "token id " + std::to_string(*value) + " is out of range (vocabulary has " +
                           std::to_string(v.n_vocab()) + " tokens)");
    }
    id = static_cast<int32_t>(*value);
  }
  if (auto s = read_optional(file, "tokenizer.ggml.add_bos_token", v.add_bos, &gguf::File::get_bool); !s)
    return s;
  if (auto s = read_optional(file, "tokenizer.ggml.add_eos_token", v.add_eos, &gguf::File::get_bool); !s)
    return s;
  if (auto s = read_optional(file, "tokenizer.ggml.add_sep_token", v.add_sep, &gguf::File::get_bool); !s)
    return s;
  if (v.add_bos && v.special.bos == kNoToken) {
    return key_error(file, "tokenizer.ggml.add_bos_token", "is true, but there is no BOS token");
  }
  if (v.add_eos && v.special.eos == kNoToken) {
    return key_error(file, "tokenizer.ggml.add_eos_token", "is true, but there is no EOS token");
  }
  if (v.type == VocabType::Wpm && v.special.sep == kNoToken) {
    return key_error(file, "tokenizer.ggml.seperator_token_id",
                     "a WordPiece vocabulary needs a separator token");
  }
  if (v.type == VocabType::Wpm && v.special.unk == kNoToken) {
    return key_error(file, "tokenizer.ggml.unknown_token_id",
                     "a WordPiece vocabulary needs an unknown token");
  }
  return Ok{};
}

// Tokens found by their text when the metadata does not name them; they become CONTROL.
void detect_by_text(Vocab& v) {
  struct Rule {
    int32_t SpecialIds::*field;
    std::vector<std::string_view> texts;
  };
  const Rule rules[] = {
      {&SpecialIds::eot,
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
        "<\xef\xbd\x9c"
        "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"}},
      {&SpecialIds::eom, {"<|eom_id|>"}},
      {&SpecialIds::fim_pre,
       {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "\xe2\x96\x81<PRE>"}},
      {&SpecialIds::fim_suf,
       {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "\xe2\x96\x81<SUF>"}},
      {&SpecialIds::fim_mid,
       {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "\xe2\x96\x81<MID>"}},
      {&SpecialIds::fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"}},
      {&SpecialIds::fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
      {&SpecialIds::fim_sep, {"<|file_sep|>"}},
  };
  for (const auto& rule : rules) {
    int32_t& id = v.special.*rule.field;
    if (id != kNoToken) continue;
    for (int32_t i = 0; i < v.n_vocab() && id == kNoToken; ++i) {
      if (std::find(rule.texts.begin(), rule.texts.end(), v.texts[i]) != rule.texts.end()) {
        id = i;
        v.attrs[i] |= attr::kControl;
      }
    }
  }

  constexpr std::string_view kEogTexts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|eom_id|>", "<EOT>"};
  std::vector<int32_t> eog;
  for (int32_t id : {v.special.eos, v.special.eot, v.special.eom, v.special.fim_pad, v.special.fim_rep,
                     v.special.fim_sep}) {
    if (id != kNoToken) eog.push_back(id);
  }
  for (std::string_view t : kEogTexts) {
    if (int32_t id = v.find(t); id != kNoToken) {
      eog.push_back(id);
      v.attrs[id] |= attr::kControl;
    }
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  v.eog_ids = std::move(eog);
}

// Specials matched before tokenizing, longest first; then the LSTRIP/RSTRIP name heuristics.
void build_special_candidates(const gguf::File& file, Vocab& v) {
  constexpr uint32_t kCandidate = attr::kControl | attr::kUserDefined | attr::kUnknown;
  for (int32_t i = 0; i < v.n_vocab(); ++i) {
    if (v.attrs[i] & kCandidate) v.special_candidates.push_back(i);
  }
  std::stable_sort(v.special_candidates.begin(), v.special_candidates.end(),
                   [&](int32_t a, int32_t b) { return v.texts[a].size() > v.texts[b].size(); });

  std::string name;
  if (const gguf::Value* nv = file.find("general.name"); nv != nullptr && nv->as_string() != nullptr) {
    name = *nv->as_string();
  }
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  const bool jina_mask =
      v.pre_name == "jina-v2-de" || v.pre_name == "jina-v2-es" || v.pre_name == "jina-v2-code";
  if (jina_mask) {
    if (int32_t id = v.find("<mask>"); id != kNoToken) v.attrs[id] |= attr::kLstrip;
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : v.special_candidates) v.attrs[id] |= attr::kRstrip;
    if (int32_t id = v.find("</s>"); id != kNoToken) v.attrs[id] |= attr::kRstrip;
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (int32_t id = v.find(t); id != kNoToken) v.attrs[id] &= ~attr::kRstrip;
    }
  }
}

}  // namespace

bool Vocab::is_eog(int32_t id) const { return std::binary_search(eog_ids.begin(), eog_ids.end(), id); }

bool pre_type_from_name(std::string_view name, PreType& type) {
  const PreEntry* e = find_pre(name);
  if (e == nullptr) return false;
  type = e->type;
  return true;
}

Result<std::unique_ptr<Vocab>> load_vocab(const gguf::File& file) {
  auto v = std::make_unique<Vocab>();
  v->source = file.path();
  auto model = file.get_string("tokenizer.ggml.model");
  if (!model) return model.error();
  if (auto s = apply_model(file, *model, *v); !s) return s.error();
  if (auto s = apply_pre(file, *v); !s) return s.error();
  if (auto s =
          read_optional(file, "tokenizer.ggml.add_space_prefix", v->add_space_prefix, &gguf::File::get_bool);
      !s) {
    return s.error();
  }
  if (auto s = read_tokens(file, *v); !s) return s.error();
  if (auto s = read_special_ids(file, *v); !s) return s.error();
  detect_by_text(*v);
  build_special_candidates(file, *v);
  return v;
}

}  // namespace cria::tokenizer
