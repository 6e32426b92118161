// `cria synth --preset NAME --type TYPE -o FILE`: a random-weight model at real shapes (Llama, Qwen2 or
// Mixtral-style experts), for speed tests (engine/synth_model.h). TYPE is a tensor type or a llama-quantize mix; the mix rules decide the
// type of each tensor exactly as llama-quantize would.
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "core/thread_pool.h"
#include "engine/synth_model.h"
#include "quant/quant_mix.h"

namespace cria::cli {

namespace {

struct SynthCommandOptions {
  std::string preset;
  std::string type;
  std::string output;
  std::string vocab;
  uint32_t n_vocab = 0;  // 0: the preset's
  uint64_t seed = 0;
  int threads = 0;
  bool pure = false;
  bool quiet = false;
};

int report_error(const std::string& message) {
  std::fprintf(stderr, "cria: error: %s\n", message.c_str());
  return 1;
}

std::string preset_names() {
  std::string names;
  for (const auto& p : engine::synth_presets()) names += (names.empty() ? "" : ", ") + std::string(p.preset);
  return names;
}

// models/vocab/ggml-vocab-llama-spm.gguf, shipped with cria: beside the build tree or the installed binary.
std::string default_vocab_path() {
  namespace fs = std::filesystem;
  const fs::path relative = fs::path("vocab") / "ggml-vocab-llama-spm.gguf";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    const fs::path dir = exe.parent_path();
    candidates = {dir / "models", dir / ".." / "models", dir / ".." / ".." / "models",
                  dir / ".." / "share" / "cria" / "models"};
  }
  candidates.push_back(fs::path(CRIA_SOURCE_MODELS_DIR));
  for (const auto& c : candidates) {
    if (fs::exists(c / relative, ec)) return fs::weakly_canonical(c / relative, ec).string();
  }
  return (fs::path(CRIA_SOURCE_MODELS_DIR) / relative).string();
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
  return buf;
}

// One line, rewritten in place on a terminal (at most a few times a second); nothing when stderr is a
// file, where the final summary is enough.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO) != 0) {}

  void update(const engine::SynthProgress& p) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (p.bytes_done < p.bytes_total && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double fraction = p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1;
    std::fprintf(stderr, "\rsynth: %5.1f%%  [%3zu/%zu] %-28s %-6s %s / %s   ", 100.0 * fraction, p.tensor_index + 1,
                 p.n_tensors, p.tensor->name.c_str(), std::string(traits(p.tensor->type).name).c_str(),
                 mib(p.bytes_done).c_str(), mib(p.bytes_total).c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

int run_synth(const SynthCommandOptions& opt) {
  const engine::SynthShape* shape = engine::find_synth_preset(opt.preset);
  if (shape == nullptr) return report_error("unknown preset '" + opt.preset + "' (choose from: " + preset_names() + ")");
  const auto mix = find_quant_mix(opt.type);
  if (!mix) return report_error("cria synth cannot write type '" + opt.type + "' (choose from: " + quant_mix_names() + ")");
  if (opt.threads < 0) return report_error("-t must be positive, got " + std::to_string(opt.threads));
  if (opt.output.empty()) return report_error("synth needs -o FILE");

  engine::SynthOptions options;
  options.shape = *shape;
  if (opt.n_vocab > 0) options.shape.n_vocab = opt.n_vocab;
  options.mix = *mix;
  options.pure = opt.pure;
  options.seed = opt.seed;
  options.n_threads = opt.threads > 0 ? opt.threads : ThreadPool::physical_cores();
  options.vocab_path = opt.vocab.empty() ? default_vocab_path() : opt.vocab;
  ProgressLine progress(!opt.quiet);
  options.progress = [&progress](const engine::SynthProgress& p) { progress.update(p); };

  uint64_t n_params = 0, n_bytes = 0;
  for (const auto& t : engine::plan_synth_tensors(options.shape, *mix, opt.pure)) {
    n_params += static_cast<uint64_t>(t.n_elements());
    n_bytes += row_bytes(traits(t.type), t.ne[0]) * static_cast<uint64_t>(t.n_elements() / t.ne[0]);
  }
  const auto start = std::chrono::steady_clock::now();
  auto status = engine::write_synth_model(options, opt.output);
  progress.finish();
  if (!status) return report_error(status.error().message);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "synth: wrote %s: %s %s%s, %s parameters, %s of weights, seed %" PRIu64 ", %d threads, %.1f s\n",
               opt.output.c_str(), std::string(shape->preset).c_str(), std::string(quant_mix_info(*mix).name).c_str(),
               opt.pure ? " (pure)" : "", engine::size_label(n_params).c_str(), mib(n_bytes).c_str(), opt.seed,
               options.n_threads, seconds);
  return 0;
}

}  // namespace

void add_synth_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<SynthCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Write a random-weight model at real shapes, for speed tests (weights N(0, 0.02^2), norms 1, the "
      "llama-spm vocabulary; llama-3-8b and qwen2.5-1.5b pad that 32000-token vocabulary to 128256 and 151936 "
      "with unused tokens; qwen2.5-1.5b is a qwen2 model with Q/K/V biases and tied embeddings, "
      "tinyllama-8x1.1b a llama model with 8 experts, 2 per token)");
  cmd->add_option("--preset", opt->preset, "Shapes: " + preset_names())->required();
  cmd->add_option("--type", opt->type,
                  "Tensor type or llama-quantize mix: " + quant_mix_names() +
                      " (Q3_K, Q4_K, Q5_K mean their _M mixes, as in llama-quantize)")
      ->required();
  cmd->add_option("-o,--output", opt->output, "Output GGUF file")->required();
  cmd->add_option("--seed", opt->seed, "Random seed (default 0); the same seed gives the same file");
  cmd->add_option("-t,--threads", opt->threads, "Threads for generating and quantizing (default: physical cores)");
  cmd->add_flag("--pure", opt->pure, "Every matrix in the type itself: no mix rules (llama-quantize --pure)");
  cmd->add_option("--vocab", opt->vocab, "GGUF whose tokenizer.* metadata is copied (default: the bundled llama-spm)");
  cmd->add_option("--n-vocab", opt->n_vocab,
                  "Vocabulary size instead of the preset's (the vocabulary is cut or padded to it; e.g. 151936 with "
                  "--vocab ggml-vocab-qwen3.gguf)")
      ->check(CLI::Range(1u, 1u << 20));
  cmd->add_flag("-q,--quiet", opt->quiet, "No progress line");
  cmd->callback([opt, &run_action] { run_action = [opt] { return run_synth(*opt); }; });
}

}  // namespace cria::cli
