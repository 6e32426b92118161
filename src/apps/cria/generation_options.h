// The flags every model-running command shares, with llama.cpp's names: threads, context, batch, seed and
// the sampler chain. One place registers and checks them for `run` and `chat`.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "sampling/sampler.h"

namespace cria::cli {

struct GenerationFlags {
  int threads = 0;
  int ctx = 0;
  int batch = 512;
  bool flash_attn = false;
  int64_t seed = -1;
  sampling::SamplingParams sampling;
  std::string sampler_error;  // a bad --samplers / --sampling-seq, reported by check_generation_flags
  bool breakers_given = false;  // the first --dry-sequence-breaker replaces the defaults
};

void add_generation_flags(CLI::App* cmd, GenerationFlags& flags);
// An empty string when the values are usable, else the message naming the bad flag.
std::string check_generation_flags(const GenerationFlags& flags);
// The most threads any command starts: 4 per logical CPU, and never fewer than this. Far above what
// helps (one per core), low enough that a typo such as -t 100000 cannot exhaust the process table.
constexpr int kMinThreadCap = 64;
int thread_cap();
// An empty string when `threads` (0: the default) is usable, else the message naming `flag`; above the
// CPU count a one-line warning on stderr.
std::string check_thread_count(int threads, const char* flag);
// The sampler parameters with the seed applied (-1: a random seed).
sampling::SamplingParams seeded_sampling(const GenerationFlags& flags);

}  // namespace cria::cli
