#include "generation_options.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace cria::cli {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void add_generation_flags(CLI::App* cmd, GenerationFlags& f) {
  cmd->add_option("-t,--threads", f.threads, "Threads (default: physical cores)");
  cmd->add_option("-c,--ctx-size", f.ctx, "Context size (default: the model's, capped at 4096)");
  cmd->add_option("-b,--batch-size", f.batch, "Prompt tokens per forward pass (default 512)");
  cmd->add_flag("--flash-attn", f.flash_attn,
                "Flash attention (-fa, -fa on|off|auto): online softmax, f32 probabilities (default and auto: llama.cpp's exact softmax)");
  cmd->add_option("-s,--seed", f.seed, "Random seed (default: random)");
  cmd->add_option("--temp", f.sampling.temp, "Temperature; 0 is greedy (default 0.8)");
  cmd->add_option("--top-k", f.sampling.top_k, "Top-k, 0 off (default 40)");
  cmd->add_option("--top-p", f.sampling.top_p, "Top-p, 1 off (default 0.95)");
  cmd->add_option("--min-p", f.sampling.min_p, "Min-p, 0 off (default 0.05)");
  cmd->add_option("--repeat-penalty", f.sampling.repeat_penalty, "Repetition penalty, 1 off (default 1.0)");
  cmd->add_option("--repeat-last-n", f.sampling.repeat_last_n, "Tokens the penalties look back, -1 the context (default 64)");
  cmd->add_option("--presence-penalty", f.sampling.presence_penalty, "Presence penalty (default 0)");
  cmd->add_option("--frequency-penalty", f.sampling.frequency_penalty, "Frequency penalty (default 0)");
}

std::string check_generation_flags(const GenerationFlags& f) {
  if (f.ctx < 0) return "-c must be 0 (the model's context) or positive, got " + std::to_string(f.ctx);
  if (f.batch < 1) return "-b must be positive, got " + std::to_string(f.batch);
  if (std::string bad = check_thread_count(f.threads, "-t"); !bad.empty()) return bad;
  if (f.sampling.repeat_penalty <= 0) return "--repeat-penalty must be positive (1 is off), got " + number(f.sampling.repeat_penalty);
  if (f.sampling.top_p < 0 || f.sampling.top_p > 1) return "--top-p must be in [0, 1]";
  if (f.sampling.min_p < 0 || f.sampling.min_p > 1) return "--min-p must be in [0, 1]";
  if (f.sampling.repeat_last_n < -1) return "--repeat-last-n must be -1, 0 or positive";
  return "";
}

int thread_cap() {
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(kMinThreadCap, 4 * cpus);
}

std::string check_thread_count(int threads, const char* flag) {
  if (threads < 0) return std::string(flag) + " must be positive, got " + std::to_string(threads);
  if (threads > thread_cap()) {
    return std::string(flag) + " " + std::to_string(threads) + " is more threads than cria allows: at most " +
           std::to_string(thread_cap()) + " here (4 per CPU, never fewer than " + std::to_string(kMinThreadCap) + ")";
  }
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (cpus > 0 && threads > cpus) {
    std::fprintf(stderr, "cria: warning: %s %d is more threads than the %d CPUs: they will take turns, slower than %d\n",
                 flag, threads, cpus, cpus);
  }
  return "";
}

sampling::SamplingParams seeded_sampling(const GenerationFlags& f) {
  sampling::SamplingParams sp = f.sampling;
  sp.seed = f.seed < 0 ? 0xFFFFFFFF : static_cast<uint32_t>(f.seed);
  return sp;
}

}  // namespace cria::cli
