// The grammar mask's cost per token: a fixed JSON document, valid against its schema, replayed token by
// token (the longest vocabulary token that continues it each time, as a model would write it) with the
// full mask of allowed tokens computed before every token. Vocabularies: the bundled llama-spm (32000)
// and the fixtures' qwen3 (151,665 tokens); a benchmark whose vocabulary is absent is skipped.
//   cold:  a new grammar per document (what one request pays: walks are remembered only within it)
//   warm:  the same grammar again (remembered walks reused, as for a server's repeated schema)
//   naive: every token matched on its own from the matcher's state (the mask without the trie)
// per_token is the time of one mask; compare with a forward pass (cria bench tg) in docs/PERF.md.
// Run: ./build/release/bench/cria_bench --benchmark_filter=GrammarMask
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "tokenizer/tokenizer.h"

namespace {

using namespace cria::grammar;

const char* kSchema = R"({"type": "object", "properties": {
  "name": {"type": "string", "maxLength": 40},
  "age": {"type": "integer", "minimum": 0, "maximum": 999},
  "email": {"type": "string", "maxLength": 60},
  "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 8},
  "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"},
              "zip": {"type": "string", "maxLength": 10}}, "required": ["street", "city"]},
  "role": {"enum": ["patriarch", "prophet", "king", "judge"]},
  "active": {"type": "boolean"},
  "children": {"type": "array", "items": {"$ref": "#/$defs/person"}, "maxItems": 4},
  "notes": {"type": "string"}},
  "required": ["name", "age", "tags", "address", "role", "active"],
  "$defs": {"person": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 30},
            "age": {"type": "integer"}}, "required": ["name"]}}})";

const char* kDocument =
    R"({"name": "Abraham son of Terah", "age": 175, "email": "abraham@ur.example", "tags": ["patriarch", )"
    R"("shepherd", "traveller"], "address": {"street": "The plain of Mamre", "city": "Hebron", "zip": "90210"}, )"
    R"("role": "patriarch", "active": false, "children": [{"name": "Ishmael", "age": 137}, {"name": "Isaac", )"
    R"("age": 180}], "notes": "And he believed in the LORD; and he counted it to him for righteousness. )"
    R"(\"Look now toward heaven, and tell the stars, if thou be able to number them.\""})";

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("CRIA_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return CRIA_SHARED_DIR;
}

struct Setup {
  std::shared_ptr<const Grammar> grammar;
  std::shared_ptr<const std::vector<std::string>> pieces;
  std::shared_ptr<const TokenTrie> trie;
  std::vector<int32_t> tokens;  // the document
};

// The vocabulary's token texts, the schema's grammar, and the document as tokens; null when absent.
const Setup* setup(const std::string& vocab_path) {
  static std::map<std::string, std::unique_ptr<Setup>> cache;
  if (auto it = cache.find(vocab_path); it != cache.end()) return it->second.get();
  auto& slot = cache[vocab_path];
  auto file = cria::gguf::File::open(vocab_path);
  if (!file) return nullptr;
  auto tok = cria::tokenizer::Tokenizer::load(*file);
  if (!tok) return nullptr;
  auto s = std::make_unique<Setup>();
  auto pieces = std::make_shared<std::vector<std::string>>();
  for (int32_t id = 0; id < tok->n_vocab(); ++id) pieces->push_back(tok->token_to_piece(id, false));
  s->pieces = pieces;
  s->trie = TokenTrie::of(s->pieces);
  auto text = json_schema_to_gbnf(nlohmann::ordered_json::parse(kSchema));
  if (!text) return nullptr;
  auto g = parse_gbnf(*text);
  if (!g) return nullptr;
  s->grammar = std::make_shared<Grammar>(std::move(*g));
  // Longest token first, through the trie.
  const std::string doc = kDocument;
  const auto& nodes = s->trie->nodes();
  for (size_t at = 0; at < doc.size();) {
    uint32_t node = 0;
    int32_t best = -1;
    size_t best_len = 0;
    for (size_t k = at; k < doc.size(); ++k) {
      uint32_t next = 0;
      for (uint32_t c = nodes[node].first_child; c < nodes[node].first_child + nodes[node].n_children; ++c) {
        if (nodes[c].byte == static_cast<unsigned char>(doc[k])) next = c;
      }
      if (next == 0) break;
      node = next;
      if (nodes[node].n_end > 0) {
        best = s->trie->order()[nodes[node].lo];
        best_len = k + 1 - at;
      }
    }
    if (best < 0) return nullptr;
    s->tokens.push_back(best);
    at += best_len;
  }
  Matcher check(s->grammar);
  for (int32_t t : s->tokens) {
    if (!check.accept((*s->pieces)[static_cast<size_t>(t)])) return nullptr;
  }
  if (!check.can_end()) return nullptr;
  slot = std::move(s);
  return slot.get();
}

enum class Mode { kCold, kWarm, kNaive };

void BM_GrammarMask(benchmark::State& state, const std::string& vocab, Mode mode) {
  const Setup* s = setup(vocab);
  if (s == nullptr) {
    state.SkipWithError(("vocabulary absent or the document does not match: " + vocab).c_str());
    return;
  }
  auto pool = std::make_shared<StackPool>(s->grammar);
  std::optional<TokenMasker> masker(std::in_place, pool, s->trie);
  std::vector<uint64_t> mask;
  size_t allowed_sum = 0;
  for (auto _ : state) {
    if (mode == Mode::kCold) {
      pool = std::make_shared<StackPool>(s->grammar);
      masker.emplace(pool, s->trie);
    }
    Matcher m(pool);
    allowed_sum = 0;
    for (int32_t t : s->tokens) {
      if (mode == Mode::kNaive) {
        for (const auto& piece : *s->pieces) allowed_sum += !piece.empty() && m.allows(piece);
      } else {
        masker->fill(m.state(), mask);
        for (uint64_t w : mask) allowed_sum += static_cast<size_t>(__builtin_popcountll(w));
      }
      m.accept((*s->pieces)[static_cast<size_t>(t)]);
    }
  }
  const auto n = static_cast<double>(s->tokens.size());
  state.counters["tokens"] = n;
  state.counters["allowed_per_step"] = static_cast<double>(allowed_sum) / n;
  state.counters["per_token"] =
      benchmark::Counter(n * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

const std::string kLlama = std::string(CRIA_SOURCE_DIR) + "/models/vocab/ggml-vocab-llama-spm.gguf";
const std::string kQwen3 = (shared_dir() / "fixtures/vocab/ggml-vocab-qwen3.gguf").string();

BENCHMARK_CAPTURE(BM_GrammarMask, llama_spm_cold, kLlama, Mode::kCold)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GrammarMask, llama_spm_warm, kLlama, Mode::kWarm)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GrammarMask, llama_spm_naive, kLlama, Mode::kNaive)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_GrammarMask, qwen3_cold, kQwen3, Mode::kCold)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GrammarMask, qwen3_warm, kQwen3, Mode::kWarm)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_GrammarMask, qwen3_naive, kQwen3, Mode::kNaive)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
