#include "generation_options.h"

namespace cria::cli {

void add_generation_flags(CLI::App* cmd, GenerationFlags& f) {
  cmd->add_option("-t,--threads", f.threads, "Threads (default: physical cores)");
  cmd->add_option("-c,--ctx-size", f.ctx, "Context size (default: the model's, capped at 4096)");
  cmd->add_option("-b,--batch-size", f.batch, "Prompt tokens per forward pass (default 512)");
  cmd->add_flag("--flash-attn", f.flash_attn,
                "Flash attention (-fa): online softmax, f32 probabilities (default: llama.cpp's exact softmax)");
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
  if (f.threads < 0) return "-t must be positive, got " + std::to_string(f.threads);
  if (f.sampling.top_p < 0 || f.sampling.top_p > 1) return "--top-p must be in [0, 1]";
  if (f.sampling.min_p < 0 || f.sampling.min_p > 1) return "--min-p must be in [0, 1]";
  if (f.sampling.repeat_last_n < -1) return "--repeat-last-n must be -1, 0 or positive";
  return "";
}

sampling::SamplingParams seeded_sampling(const GenerationFlags& f) {
  sampling::SamplingParams sp = f.sampling;
  sp.seed = f.seed < 0 ? 0xFFFFFFFF : static_cast<uint32_t>(f.seed);
  return sp;
}

}  // namespace cria::cli
