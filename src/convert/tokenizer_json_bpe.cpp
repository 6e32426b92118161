#include "convert/tokenizer_json_bpe.h"

#include <algorithm>
#include <string_view>

namespace cria::convert {

namespace {

// The Split regexes of the pre-tokenizers cria recognizes, as tokenizer.json spells them.
struct KnownPre {
  std::string_view name;
  std::string_view regex;
};
constexpr KnownPre kKnownPres[] = {
    {"llama-bpe",
     R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
    {"qwen2",
     R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
};

// Walks a pre_tokenizer (a single one or a Sequence) collecting Split regexes and whether a ByteLevel
// step splits with GPT-2's own regex.
void scan_pre(const Json& pre, std::vector<std::string>& regexes, bool& byte_level, bool& byte_level_regex,
              int depth = 0) {
  if (!pre.is_object() || depth > 4) return;  // real files nest one Sequence; a deep one is not a tokenizer
  const std::string type = pre.value("type", "");
  if (type == "Sequence" && pre.contains("pretokenizers") && pre["pretokenizers"].is_array()) {
    for (const auto& p : pre["pretokenizers"]) scan_pre(p, regexes, byte_level, byte_level_regex, depth + 1);
  } else if (type == "Split" && pre.contains("pattern") && pre["pattern"].is_object()) {
    const auto& pattern = pre["pattern"];
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) regexes.push_back(pattern["Regex"]);
  } else if (type == "ByteLevel") {
    byte_level = true;
    byte_level_regex = byte_level_regex || pre.value("use_regex", true) == true;
  }
}

Result<std::string> detect_pre(const Json& tokenizer_json, const std::string& source) {
  std::vector<std::string> regexes;
  bool byte_level = false, byte_level_regex = false;
  if (tokenizer_json.contains("pre_tokenizer")) scan_pre(tokenizer_json["pre_tokenizer"], regexes, byte_level, byte_level_regex);
  if (!byte_level) {
    return make_error(source + ": only byte-level BPE tokenizers are supported from tokenizer.json "
                               "(SentencePiece models need tokenizer.model)");
  }
  if (regexes.empty() && byte_level_regex) return std::string("gpt-2");
  if (regexes.size() == 1) {
    for (const auto& known : kKnownPres) {
      if (regexes[0] == known.regex) return std::string(known.name);
    }
  }
  return make_error(source + ": pre-tokenizer " + (regexes.empty() ? std::string("(none)") : "'" + regexes[0] + "'") +
                    " is not one cria recognizes (GPT-2, Llama 3 and Qwen 2 are)");
}

}  // namespace

bool looks_like_control_token(const std::string& t) {
  auto wrapped = [&t](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") || wrapped("<unused", ">");
}

Result<TokenizerMetadata> bpe_vocabulary(const Json& tokenizer_json, const std::string& source, uint32_t vocab_size) {
  const auto model = tokenizer_json.find("model");
  if (model == tokenizer_json.end() || !model->is_object() || model->value("type", "BPE") != "BPE" ||
      !model->contains("vocab") || !(*model)["vocab"].is_object()) {
    return make_error(source + ": 'model' is not a BPE model with a vocab");
  }
  auto pre = detect_pre(tokenizer_json, source);
  if (!pre) return pre.error();

  // id -> (text, type); the size is config.json's vocab_size, else the largest id + 1.
  struct Entry {
    std::string text;
    int32_t type = kUnused;
    bool present = false;
  };
  std::vector<std::pair<uint64_t, Entry>> entries;
  uint64_t max_id = 0;
  auto add = [&](const Json& id, std::string text, int32_t type) -> Status {
    if (!id.is_number_unsigned()) return make_error(source + ": token '" + text + "' has no valid id");
    max_id = std::max(max_id, id.get<uint64_t>());
    entries.push_back({id.get<uint64_t>(), Entry{std::move(text), type, true}});
    return Ok{};
  };
  for (const auto& [text, id] : (*model)["vocab"].items()) {
    if (auto s = add(id, text, kNormal); !s) return s.error();
  }
  if (tokenizer_json.contains("added_tokens") && tokenizer_json["added_tokens"].is_array()) {
    for (const auto& token : tokenizer_json["added_tokens"]) {
      if (!token.is_object() || !token.contains("content") || !token["content"].is_string() || !token.contains("id")) {
        return make_error(source + ": an added token lacks 'id' or 'content'");
      }
      std::string text = token["content"];
      const bool control = token.value("special", false) == true || looks_like_control_token(text);
      if (auto s = add(token["id"], text, control ? kControl : kUserDefined); !s) return s.error();
    }
  }
  const uint64_t n = vocab_size > 0 ? vocab_size : max_id + 1;
  if (n > (1u << 24)) return make_error(source + ": vocabulary of " + std::to_string(n) + " tokens is implausible");
  std::vector<Entry> by_id(n);
  for (auto& [id, e] : entries) {
    if (id < n) by_id[id] = std::move(e);  // later entries (added tokens) override the base vocab
  }
  TokenizerMetadata m;
  m.model = "gpt2";
  m.pre = *pre;
  for (uint64_t i = 0; i < n; ++i) {
    m.tokens.push_back(by_id[i].present ? by_id[i].text : "[PAD" + std::to_string(i) + "]");
    m.types.push_back(by_id[i].type);
  }
  if (model->contains("merges") && (*model)["merges"].is_array()) {
    for (const auto& merge : (*model)["merges"]) {
      if (merge.is_string()) {
        m.merges.push_back(merge);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        m.merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
      } else {
        return make_error(source + ": a merge is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
  }
  return m;
}

}  // namespace cria::convert
