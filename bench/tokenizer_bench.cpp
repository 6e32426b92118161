// Tokenization speed, one thread, on about 1 MB of English text (the KJV held-out text repeated; plain
// generated English when the fixtures are absent). Reported as bytes/second. Vocabularies come from
// ../shared/fixtures; each benchmark is skipped when its file is absent.
// Run: ./build/release/bench/cria_bench --benchmark_filter=Tokenize
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace {

using cria::tokenizer::Tokenizer;

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("CRIA_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return CRIA_SHARED_DIR;
}

const std::string& english_text() {
  static const std::string text = [] {
    std::string base;
    std::ifstream in(shared_dir() / "fixtures/models/kjv/reference/heldout-visible.txt", std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      base = ss.str();
    }
    if (base.empty()) {
      const char* words[] = {"the", "of",   "and", "to",   "in",  "a",    "is", "that", "for",
                             "it",  "as",   "was", "with", "be",  "by",   "on", "not",  "he",
                             "I",   "this", "are", "or",   "his", "from", "at", "which"};
      unsigned x = 12345;
      for (int i = 0; i < 20000; ++i) {
        x = x * 1103515245u + 12345u;
        base += words[(x >> 16) % (sizeof words / sizeof words[0])];
        base += (i % 17 == 16) ? ".\n" : (i % 7 == 6 ? ", " : " ");
      }
    }
    std::string out;
    while (out.size() < (1u << 20)) out += base;
    return out;
  }();
  return text;
}

const Tokenizer* tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(relative);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<Tokenizer> tok;
  if (auto file = cria::gguf::File::open((shared_dir() / relative).string()); file) {
    if (auto t = Tokenizer::load(*file); t) tok = std::make_unique<Tokenizer>(std::move(*t));
  }
  return cache.emplace(relative, std::move(tok)).first->second.get();
}

void BM_Tokenize(benchmark::State& state, const std::string& vocab) {
  const Tokenizer* tok = tokenizer(vocab);
  if (tok == nullptr) {
    state.SkipWithError(("vocabulary absent: " + vocab).c_str());
    return;
  }
  const std::string& text = english_text();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->encode(text, true, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
  state.counters["tokens"] = double(n_tokens);
}

void BM_Detokenize(benchmark::State& state, const std::string& vocab) {
  const Tokenizer* tok = tokenizer(vocab);
  if (tok == nullptr) {
    state.SkipWithError(("vocabulary absent: " + vocab).c_str());
    return;
  }
  const std::string& text = english_text();
  const auto ids = tok->encode(text, false, false);
  for (auto _ : state) {
    auto s = tok->decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}

BENCHMARK_CAPTURE(BM_Tokenize, spm_llama, std::string("fixtures/vocab/ggml-vocab-llama-spm.gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, spm_kjv, std::string("fixtures/models/kjv/gguf/kjv-F32.gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, bpe_gpt2, std::string("fixtures/vocab/ggml-vocab-gpt-2.gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, bpe_deepseek_llm, std::string("fixtures/vocab/ggml-vocab-deepseek-llm.gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, wpm_bert, std::string("fixtures/vocab/ggml-vocab-bert-bge.gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detokenize, spm_llama, std::string("fixtures/vocab/ggml-vocab-llama-spm.gguf"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detokenize, bpe_gpt2, std::string("fixtures/vocab/ggml-vocab-gpt-2.gguf"))
    ->Unit(benchmark::kMillisecond);

}  // namespace
