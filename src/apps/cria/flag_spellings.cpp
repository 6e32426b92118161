#include "flag_spellings.h"

#include <algorithm>

namespace cria::cli {

// Sources: ggml-org/llama.cpp common/arg.cpp (b4748, February 2025, and today's), tools/llama-bench
// and tools/batched-bench. Case matters: -Cb (CPU mask) is not -cb (continuous batching).
const std::vector<FlagSpelling>& llama_cpp_spellings() {
  static const std::vector<FlagSpelling> table = {
      // model and offload
      {"-ngl", "--n-gpu-layers"}, {"-ngld", "--n-gpu-layers-draft"}, {"-mg", "--main-gpu"},
      {"-sm", "--split-mode"}, {"-ts", "--tensor-split"}, {"-dev", "--device"}, {"-devd", "--device-draft"},
      {"-nkvo", "--no-kv-offload"}, {"-ot", "--override-tensor"}, {"-otd", "--override-tensor-draft"},
      {"-cmoe", "--cpu-moe"}, {"-ncmoe", "--n-cpu-moe"}, {"-mmp", "--mmap"}, {"-nopo", "--no-op-offload"},
      {"-md", "--model-draft"}, {"-mv", "--model-vocoder"}, {"-mu", "--model-url"},
      {"-hf", "--hf-repo"}, {"-hfr", "--hf-repo"}, {"-hff", "--hf-file"}, {"-hft", "--hf-token"},
      {"-hfv", "--hf-repo-v"}, {"-hfrv", "--hf-repo-v"}, {"-hffv", "--hf-file-v"},
      // context, batches, cache
      {"-ub", "--ubatch-size"}, {"-fa", "--flash-attn"}, {"-ctk", "--cache-type-k"}, {"-ctv", "--cache-type-v"},
      {"-dt", "--defrag-thold"}, {"-kvu", "--kv-unified"}, {"-no-kvu", "--no-kv-unified"},
      {"-ctxcp", "--ctx-checkpoints"}, {"-cram", "--cache-ram"}, {"-cd", "--ctx-size-draft"},
      {"-gan", "--grp-attn-n"}, {"-gaw", "--grp-attn-w"}, {"-dkvc", "--dump-kv-cache"},
      // threads and CPU placement
      {"-tb", "--threads-batch"}, {"-td", "--threads-draft"}, {"-tbd", "--threads-batch-draft"},
      {"-Cr", "--cpu-range"}, {"-Cb", "--cpu-mask-batch"}, {"-Crb", "--cpu-range-batch"},
      // prompt and conversation
      {"-sys", "--system-prompt"}, {"-sysf", "--system-prompt-file"}, {"-cnv", "--conversation"},
      {"-no-cnv", "--no-conversation"}, {"-st", "--single-turn"}, {"-if", "--interactive-first"},
      {"-mli", "--multiline-input"}, {"-co", "--color"}, {"-sp", "--special"}, {"-ptc", "--print-token-count"},
      {"-jf", "--json-schema-file"}, {"-bf", "--binary-file"}, {"-lcs", "--lookup-cache-static"}, {"-lcd", "--lookup-cache-dynamic"},
      // server
      {"-np", "--parallel"}, {"-cb", "--cont-batching"}, {"-nocb", "--no-cont-batching"}, {"-to", "--timeout"},
      {"-sps", "--slot-prompt-similarity"}, {"-ns", "--sequences"},
      // benches
      {"-npp", "--npp"}, {"-ntg", "--ntg"}, {"-npl", "--npl"}, {"-pps", "--pps"}, {"-pg", "--pg"},
      {"-embd", "--embeddings"}, {"-oe", "--output-err"},
      // logging
      {"-ld", "--logdir"}, {"-lv", "--verbosity"}, {"-ofreq", "--output-frequency"},
  };
  return table;
}

namespace {

// What this command line spelled each rewritten long form as, so that messages quote the user's words.
std::vector<FlagSpelling> g_typed;

// `-fa` takes a value in today's llama.cpp; cria's flash attention is off or on, and `auto` keeps
// cria's default (off: llama.cpp's exact softmax).
const char* flash_attn_value(const std::string& word) {
  static const std::vector<std::pair<std::string, const char*>> values = {
      {"on", "1"},  {"enabled", "1"},  {"true", "1"},  {"1", "1"}, {"off", "0"},
      {"disabled", "0"}, {"false", "0"}, {"0", "0"}, {"auto", "0"}, {"-1", "0"}};
  for (const auto& [w, v] : values) {
    if (w == word) return v;
  }
  return nullptr;
}

}  // namespace

void rewrite_llama_cpp_spellings(std::vector<std::string>& args, size_t from) {
  const auto& table = llama_cpp_spellings();
  for (size_t i = from; i < args.size(); ++i) {
    // llama.cpp reads --repeat_penalty as --repeat-penalty, and older scripts spell flags that way.
    if (args[i].rfind("--", 0) == 0) {
      const size_t end = std::min(args[i].find('='), args[i].size());
      std::replace(args[i].begin(), args[i].begin() + static_cast<std::ptrdiff_t>(end), '_', '-');
    }
    auto hit = std::find_if(table.begin(), table.end(), [&](const FlagSpelling& s) { return args[i] == s.spelling; });
    if (hit != table.end()) {
      args[i] = hit->long_form;
      g_typed.push_back(*hit);
    }
    if (args[i] == "--flash-attn" && i + 1 < args.size()) {
      if (const char* v = flash_attn_value(args[i + 1])) {
        args[i] = std::string("--flash-attn=") + v;
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
    }
  }
}

std::string as_typed(const std::string& long_form) {
  for (const auto& s : g_typed) {
    if (long_form == s.long_form) return s.spelling;
  }
  return long_form;
}

std::string short_spelling(const std::string& long_form) {
  for (const auto& s : llama_cpp_spellings()) {
    if (long_form == s.long_form) return s.spelling;
  }
  return "";
}

}  // namespace cria::cli
