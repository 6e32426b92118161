// Subcommands of the `cria` executable. Each add_*_command registers its options on `app` and sets
// `run` to the function that executes it (returning the process exit code).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace cria::cli {

using Action = std::function<int()>;

void add_info_command(CLI::App& app, Action& run);
void add_tokenize_command(CLI::App& app, Action& run);
void add_run_command(CLI::App& app, Action& run);
void add_perplexity_command(CLI::App& app, Action& run);
void add_bench_command(CLI::App& app, Action& run);
void add_batched_bench_command(CLI::App& app, Action& run);
void add_synth_command(CLI::App& app, Action& run);
void add_quantize_command(CLI::App& app, Action& run);
void add_split_command(CLI::App& app, Action& run);  // split and merge
void add_pull_commands(CLI::App& app, Action& run);  // pull, ls, rm

// -hf REPO[:QUANT] (with --hf-file, --hf-token, --offline) on a model command: the model is pulled into the
// cache and `-m PATH` takes the flags' place in args (from index `start`). Returns an exit code (0: go on).
int resolve_hub_model(std::vector<std::string>& args, size_t start);
void add_quant_report_command(CLI::App& app, Action& run);
void add_convert_command(CLI::App& app, Action& run);
void add_template_command(CLI::App& app, Action& run);
void add_chat_command(CLI::App& app, Action& run);
void add_serve_command(CLI::App& app, Action& run);
void add_bench_serve_command(CLI::App& app, Action& run);

}  // namespace cria::cli
