// A tokenizer vocabulary as GGUF metadata describes it (FORMATS.md 6.1): token texts, scores and
// attributes, special ids, the add-BOS/EOS/space-prefix switches and the pre-tokenizer choice.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "gguf/gguf_reader.h"

namespace cria::tokenizer {

constexpr int32_t kNoToken = -1;

enum class VocabType { Spm, Bpe, Wpm };

// BPE pre-tokenizers (FORMATS.md 6.4). Each maps to one set of regexes in bpe_pretokenize.cpp.
enum class PreType {
  Default,
  Llama3,
  DeepseekLlm,
  DeepseekCoder,
  Deepseek3Llm,
  Falcon,
  Mpt,
  Starcoder,
  Gpt2,
  Refact,
  CommandR,
  Qwen2,
  Stablelm2,
  Olmo,
  Dbrx,
  Smaug,
  Poro,
  Chatglm4,
  Viking,
  Jais,
  Tekken,
  Smollm,
  Codeshell,
  Bloom,
  Gpt3Finnish,
  Exaone,
  Chameleon,
  Minerva,
};

// Token attributes, bit flags as llama.cpp keeps them (a token may gain CONTROL or LSTRIP/RSTRIP at load).
namespace attr {
constexpr uint32_t kUndefined = 0;
constexpr uint32_t kUnknown = 1u << 0;
constexpr uint32_t kUnused = 1u << 1;
constexpr uint32_t kNormal = 1u << 2;
constexpr uint32_t kControl = 1u << 3;
constexpr uint32_t kUserDefined = 1u << 4;
constexpr uint32_t kByte = 1u << 5;
constexpr uint32_t kLstrip = 1u << 7;
constexpr uint32_t kRstrip = 1u << 8;
}  // namespace attr

struct SpecialIds {
  int32_t bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken, unk = kNoToken, sep = kNoToken,
          pad = kNoToken, mask = kNoToken, cls = kNoToken;
  int32_t fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken, fim_pad = kNoToken, fim_rep = kNoToken,
          fim_sep = kNoToken;
};

// Immutable once loaded. Not copyable: the text index holds views of the token strings.
struct Vocab {
  Vocab() = default;
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  std::string source;  // file name, for messages
  VocabType type = VocabType::Spm;
  PreType pre = PreType::Default;
  std::string pre_name;

  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<uint32_t> attrs;
  std::unordered_map<std::string_view, int32_t> index;
  size_t max_token_len = 0;

  SpecialIds special;
  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  bool add_space_prefix = false;
  bool clean_spaces = false;
  bool ignore_merges = false;

  std::vector<int32_t> special_candidates;  // CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
  std::vector<int32_t> eog_ids;             // sorted

  int32_t n_vocab() const { return static_cast<int32_t>(texts.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
  int32_t find(std::string_view text) const {
    auto it = index.find(text);
    return it == index.end() ? kNoToken : it->second;
  }
  bool has(int32_t id, uint32_t flag) const { return valid(id) && (attrs[id] & flag) != 0; }
  bool is_eog(int32_t id) const;
};

// Reads `tokenizer.ggml.*` from a GGUF file. Fails, naming the file and key, on a missing or mistyped
// key, arrays of different lengths, a special id out of range, a duplicate token, or an unknown model or
// pre-tokenizer name.
Result<std::unique_ptr<Vocab>> load_vocab(const gguf::File& file);

// Pre-tokenizer name (tokenizer.ggml.pre) to type; false for a name llama.cpp does not know.
bool pre_type_from_name(std::string_view name, PreType& type);

}  // namespace cria::tokenizer
