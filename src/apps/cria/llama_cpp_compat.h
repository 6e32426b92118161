// llama.cpp's flags that cria accepts without acting on them, so that a llama.cpp command line runs:
// each that would change what llama.cpp does prints one line saying what cria does instead
// ("cria: note: -ngl 99 ignored: this build runs on the CPU"); those that cannot change anything here
// (-nkvo on a CPU, --no-warmup where nothing warms up) are silent. Never an error, never silently wrong.
#pragma once

#include <CLI/CLI.hpp>

namespace cria::cli {

// Which subcommand a set of flags is for.
enum CompatCommand : unsigned {
  kRun = 1,
  kChat = 2,
  kPerplexity = 4,
  kServe = 8,
  kBench = 16,
  kBatchedBench = 32,
};

// Registers on `cmd` the compatibility flags that apply to `command`, except names it already has.
void add_llama_cpp_compat_flags(CLI::App* cmd, CompatCommand command);

// --log-disable was given: commands leave out their informational stderr lines (errors still print).
bool logs_disabled();

// Under mpirun, --split-mode and --tensor-split act (src/dist) rather than being noted as ignored.
void set_pipelined(bool on);

// With --mlock (run, chat, perplexity), locks what is mapped now, the model included, in memory; where
// that fails (the locked-memory limit), one note and the command goes on unlocked.
void lock_memory_if_asked();

// Prints "cria: note: MESSAGE" on stderr.
void note(const std::string& message);

}  // namespace cria::cli
