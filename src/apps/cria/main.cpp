// cria: run large language models from GGUF files. One executable, one subcommand per task.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <algorithm>

#ifdef CRIA_HAVE_MPI
#include "dist/pipeline.h"
#endif
#include "commands.h"
#include "flag_check.h"
#include "flag_spellings.h"
#include "llama_cpp_compat.h"
#include "model_loading.h"

namespace {

constexpr const char* kVersion = "cria 0.1.0";

// `cria -m MODEL -p ...` means `cria run -m MODEL -p ...`, as llama.cpp's main takes its flags directly.
std::vector<std::string> with_default_subcommand(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0].size() > 1 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help" &&
      args[0] != "--version") {
    args.insert(args.begin(), "run");
  }
  return args;
}

// llama-cli chats with -cnv, or when given a system prompt, unless -no-cnv: so `run`, bare or named,
// becomes `cria chat` (whose -p is the system message, as llama-cli's with -cnv).
void switch_to_chat_on_conversation(std::vector<std::string>& args) {
  if (args.empty() || args[0] != "run") return;
  auto has = [&](const char* flag) { return std::find(args.begin() + 1, args.end(), flag) != args.end(); };
  if (has("--no-conversation")) return;
  const bool conversation = has("--conversation");
  if (conversation) args.erase(std::find(args.begin() + 1, args.end(), "--conversation"));
  if (conversation || has("--system-prompt")) args[0] = "chat";
}

CLI::App* find_subcommand(CLI::App& app, const std::string& name) {
  auto found = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == name; });
  return found.empty() ? nullptr : found.front();
}

// llama.cpp's flags on the commands that run a model, and --version on every command.
void add_llama_cpp_flags(CLI::App& app) {
  const std::pair<const char*, cria::cli::CompatCommand> model_commands[] = {
      {"run", cria::cli::kRun},     {"chat", cria::cli::kChat},   {"perplexity", cria::cli::kPerplexity},
      {"serve", cria::cli::kServe}, {"bench", cria::cli::kBench}, {"batched-bench", cria::cli::kBatchedBench}};
  for (const auto& [name, command] : model_commands) {
    if (CLI::App* sub = find_subcommand(app, name)) cria::cli::add_llama_cpp_compat_flags(sub, command);
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->set_version_flag("--version", kVersion);
}

// An unknown flag, found before CLI11 parses: the message names it and the closest flag the command has.
std::string unknown_flag_message(const CLI::App& cmd, const std::string& flag) {
  return "unknown flag " + flag + " for `cria " + cmd.get_name() + "`; did you mean " +
         cria::cli::closest_flag(cmd, flag) + "? (see cria " + cmd.get_name() + " --help)";
}

// A first word that is neither a flag nor a command: name it and the closest command.
std::string unknown_command_message(CLI::App& app, const std::string& typed) {
  std::vector<std::string> names;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
  return "unknown command '" + typed + "'; did you mean `cria " + cria::cli::closest(typed, names) + "`? (see cria --help)";
}

// --model-url: `cria pull URL` fetches a file (-hf and its companions were resolved before parsing).
int check_model_source(CLI::App& cmd) {
  const CLI::Option* opt = cmd.get_option_no_throw("--model-url");
  if (opt == nullptr || opt->count() == 0) return 0;
  const CLI::Option* model = cmd.get_option_no_throw("--model");
  if (model == nullptr || model->count() == 0) {
    return cria::cli::fail("--model-url: fetch the file with `cria pull URL` and give the path it prints to -m");
  }
  cria::cli::note("--model-url ignored: using -m");
  return 0;
}

// Parse errors as one line naming the problem, like every other error.
std::string one_line_failure(const CLI::App*, const CLI::Error& e) {
  return std::string("cria: error: ") + e.what() + " (see --help)\n";
}

// Ctrl-C ends a command with exit code 130, as shells report an interrupted program (chat stops the reply
// first and serve shuts down gracefully: they install their own handling).
void exit_130_on_interrupt() {
  struct sigaction action {};
  action.sa_handler = [](int) { _exit(130); };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

}  // namespace

#ifdef CRIA_HAVE_MPI
// Under mpirun with several processes: --split-mode and --tensor-split, read before parsing (they are
// llama.cpp compatibility flags, parsed and otherwise ignored), choose how the model is split.
int configure_pipeline(const std::vector<std::string>& args) {
  if (!cria::dist::pipelined()) return 0;
  cria::cli::set_pipelined(true);
  std::string split_mode, tensor_split;
  for (size_t i = 1; i < args.size(); ++i) {
    for (auto [flag, value] : {std::pair{"--split-mode", &split_mode}, std::pair{"--tensor-split", &tensor_split}}) {
      const std::string prefix = std::string(flag) + "=";
      if (args[i] == flag && i + 1 < args.size()) *value = args[i + 1];
      if (args[i].rfind(prefix, 0) == 0) *value = args[i].substr(prefix.size());
    }
  }
  if (auto s = cria::dist::configure(split_mode, tensor_split); !s) return cria::cli::fail(s.error().message);
  return 0;
}
#endif

int run_cli(int argc, char** argv) {
  exit_130_on_interrupt();
  CLI::App app{"cria: a small, fast engine for GGUF language models", "cria"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  app.failure_message(one_line_failure);
  // A flag given twice takes the last value, as llama.cpp does (CLI11 would refuse); lists still collect.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  cria::cli::Action action;
  cria::cli::add_run_command(app, action);
  cria::cli::add_perplexity_command(app, action);
  cria::cli::add_info_command(app, action);
  cria::cli::add_bench_command(app, action);
  cria::cli::add_batched_bench_command(app, action);
  cria::cli::add_synth_command(app, action);
  cria::cli::add_quantize_command(app, action);
  cria::cli::add_split_command(app, action);
#ifdef CRIA_HAVE_HUB
  cria::cli::add_pull_commands(app, action);
#endif
  cria::cli::add_quant_report_command(app, action);
  cria::cli::add_convert_command(app, action);
  cria::cli::add_template_command(app, action);
  cria::cli::add_chat_command(app, action);
  cria::cli::add_tokenize_command(app, action);
#ifdef CRIA_HAVE_HTTP
  cria::cli::add_serve_command(app, action);
  cria::cli::add_bench_serve_command(app, action);
#endif
  add_llama_cpp_flags(app);

  auto args = with_default_subcommand(argc, argv);
  CLI::App* cmd = args.empty() ? nullptr : find_subcommand(app, args[0]);
  if (cmd == nullptr && !args.empty() && args[0][0] != '-') return cria::cli::fail(unknown_command_message(app, args[0]));
  if (cmd != nullptr) {
    cria::cli::rewrite_llama_cpp_spellings(args, 1);
    switch_to_chat_on_conversation(args);
    cmd = find_subcommand(app, args[0]);
#ifdef CRIA_HAVE_HUB
    if (cmd->get_option_no_throw("--model") != nullptr) {
      if (const int code = cria::cli::resolve_hub_model(args, 1); code != 0) return code;
    }
#endif
    if (const std::string flag = cria::cli::first_unknown_flag(*cmd, args, 1); !flag.empty()) {
      return cria::cli::fail(unknown_flag_message(*cmd, flag));
    }
#ifdef CRIA_HAVE_MPI
    if (const int code = configure_pipeline(args); code != 0) return code;
#endif
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 1 like every other error (CLI11's own codes are 100 and up); --help and --version 0.
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (cmd != nullptr) {
    if (const int code = check_model_source(*cmd); code != 0) return code;
  }
  try {
    return action ? action() : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cria: error: %s\n", e.what());
    return 1;
  }
}

int main(int argc, char** argv) {
#ifdef CRIA_HAVE_MPI
  // Ranks 1 .. K-1 of `mpirun -np K` run their pipeline stage here and end; rank 0 runs the command.
  if (const auto code = cria::dist::start(argc, argv)) return *code;
#endif
  const int code = run_cli(argc, argv);
  cria::cli::report_resident_weights();
#ifdef CRIA_HAVE_MPI
  cria::dist::stop(code);
#endif
  return code;
}
