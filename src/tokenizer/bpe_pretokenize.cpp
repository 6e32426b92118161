#include "tokenizer/bpe_pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/unicode.h"

namespace cria::tokenizer {

namespace {

// FORMATS.md 6.4, with \uXXXX written as PCRE2's \x{XXXX}.
constexpr std::string_view kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
constexpr std::string_view kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kDeepseekLatin =
    R"re(\s?[A-Za-z\x{00B5}\x{00C0}-\x{00D6}\x{00D8}-\x{00F6}\x{00F8}-\x{01BA}\x{01BC}-\x{01BF}\x{01C4}-\x{0293}\x{0295}-\x{02AF}\x{0370}-\x{0373}\x{0376}\x{0377}\x{037B}-\x{037D}\x{037F}\x{0386}\x{0388}-\x{038A}\x{038C}\x{038E}-\x{03A1}\x{03A3}-\x{03F5}\x{03F7}-\x{0481}\x{048A}-\x{052F}\x{0531}-\x{0556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr std::string_view kDeepseekPunct =
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re";
constexpr std::string_view kDeepseekCjk = R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
constexpr std::string_view kDeepseek3Main =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kPoro =
    R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)re";
constexpr std::string_view kTekken =
    R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

// Per-thread match data, match context and JIT stack (a long run of one character can need a deep
// backtracking stack).
struct MatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchState() {
    data = pcre2_match_data_create(32, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (context != nullptr && stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

// Placeholders for code points PCRE2 cannot take in UTF mode (surrogates, which llama.cpp decodes and
// keeps): a private-use character of the same UTF-8 length, so offsets stay put. Both are "other" to
// every pattern (not a letter, number, mark, punctuation, symbol or space).
constexpr uint32_t kSurrogatePlaceholder = 0xE000;

}  // namespace

struct PreTokenizer::Compiled {
  std::vector<std::unique_ptr<pcre2_code, CodeDeleter>> regexes;
};

std::vector<std::string_view> PreTokenizer::patterns(PreType type) {
  switch (type) {
    case PreType::Llama3:
    case PreType::Dbrx:
    case PreType::Smaug:
    case PreType::Chatglm4:
      return {kLlama3};
    case PreType::DeepseekLlm:
      return {R"re([\r\n])re", kDeepseekLatin, kDeepseekPunct, R"re(\s+$)re", kDeepseekCjk, R"re(\p{N}+)re"};
    case PreType::Deepseek3Llm:
      return {R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
              kDeepseek3Main};
    case PreType::DeepseekCoder:
      return {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kDeepseekCjk, R"re(\p{N})re"};
    case PreType::Falcon:
      return {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, R"re([0-9][0-9][0-9])re"};
    case PreType::Starcoder:
    case PreType::Refact:
    case PreType::CommandR:
    case PreType::Smollm:
    case PreType::Codeshell:
    case PreType::Exaone:
    case PreType::Minerva:
      return {R"re(\p{N})re", kGpt2};
    case PreType::Gpt2:
    case PreType::Mpt:
    case PreType::Olmo:
    case PreType::Jais:
      return {kGpt2};
    case PreType::Stablelm2:
    case PreType::Qwen2:
      return {kQwen2};
    case PreType::Poro:
    case PreType::Bloom:
    case PreType::Gpt3Finnish:
      return {kPoro};
    case PreType::Viking:
      return {kPoro, R"re(\p{N})re"};
    case PreType::Tekken:
      return {kTekken};
    case PreType::Chameleon:
      return {R"re(<sentinel:[0-9]+>)re",    R"re((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)re",
              "([\\t\\n]|    |  )",          R"re(\p{N})re",
              R"re([\p{P}!-/:-@\[-`{-~])re", kGpt2};
    case PreType::Default:
      break;
  }
  return {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", R"re([0-9][0-9][0-9])re"};
}

Result<PreTokenizer> PreTokenizer::create(PreType type) {
  auto compiled = std::make_shared<Compiled>();
  for (std::string_view pattern : patterns(type)) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return make_error("pre-tokenizer regex '" + std::string(pattern) + "' does not compile at offset " +
                        std::to_string(err_offset) + ": " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT (unsupported CPU) matching still works
    compiled->regexes.emplace_back(code);
  }
  PreTokenizer p;
  p.compiled_ = std::move(compiled);
  return p;
}

void PreTokenizer::split(std::string_view input, PreTokenized& out) const {
  // Decode as llama.cpp does (invalid bytes become U+FFFD) and re-encode as valid UTF-8 for PCRE2.
  std::string& text = out.text;
  text.clear();
  text.reserve(input.size() + input.size() / 8);
  std::vector<std::pair<size_t, uint32_t>> surrogates;
  for (size_t i = 0; i < input.size();) {
    if (static_cast<uint8_t>(input[i]) < 0x80) {
      size_t j = i + 1;
      while (j < input.size() && static_cast<uint8_t>(input[j]) < 0x80) ++j;
      text.append(input.data() + i, j - i);
      i = j;
      continue;
    }
    const uint32_t cp = decode_utf8(input, i);
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      surrogates.emplace_back(text.size(), cp);
      append_utf8(text, kSurrogatePlaceholder);
    } else {
      append_utf8(text, cp);
    }
  }

  auto& words = out.words;
  words.clear();
  if (text.empty()) return;
  std::vector<std::pair<uint32_t, uint32_t>> next;
  words.emplace_back(0, static_cast<uint32_t>(text.size()));

  MatchState& ms = match_state();
  const auto* subject_base = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (const auto& regex : compiled_->regexes) {
    next.clear();
    for (const auto& [begin, end] : words) {
      const PCRE2_SPTR subject = subject_base + begin;
      const PCRE2_SIZE length = end - begin;
      PCRE2_SIZE offset = 0, last = 0;
      while (offset < length) {
        const int rc =
            pcre2_match(regex.get(), subject, length, offset, PCRE2_NO_UTF_CHECK, ms.data, ms.context);
        if (rc < 0) break;  // no more matches (or a resource limit: the rest stays one chunk)
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ms.data);
        const PCRE2_SIZE m0 = ov[0], m1 = ov[1];
        if (m0 > last) next.emplace_back(begin + last, begin + m0);
        if (m1 > m0) {
          next.emplace_back(begin + m0, begin + m1);
          last = offset = m1;
        } else {  // an empty match: step over one character
          last = m0;
          offset = m0 + utf8_len(static_cast<uint8_t>(text[begin + m0]));
        }
      }
      if (last < length) next.emplace_back(begin + last, end);
    }
    words.swap(next);
  }

  for (const auto& [pos, cp] : surrogates) {
    std::string enc;
    append_utf8(enc, cp);
    text.replace(pos, enc.size(), enc);
  }
}

}  // namespace cria::tokenizer
