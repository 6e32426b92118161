// cria: run large language models from GGUF files. One executable, one subcommand per task.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <algorithm>

#include "commands.h"

namespace {

// `cria -m MODEL -p ...` means `cria run -m MODEL -p ...`, as llama.cpp's main takes its flags directly.
std::vector<std::string> with_default_subcommand(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0].size() > 1 && args[0][0] == '-' && args[0] != "-h" && args[0] != "--help" &&
      args[0] != "--version") {
    // -cnv / --conversation (llama-cli's chat mode) selects `cria chat` instead.
    auto cnv = std::find_if(args.begin(), args.end(), [](const std::string& a) { return a == "-cnv" || a == "--conversation"; });
    const bool chat = cnv != args.end();
    if (chat) args.erase(cnv);
    args.insert(args.begin(), chat ? "chat" : "run");
  }
  return args;
}

// llama.cpp's flags that are several letters after one dash, which CLI11 cannot name: spelled long here.
void expand_multi_letter_flags(std::vector<std::string>& args) {
  for (auto& a : args) {
    if (a == "-fa" || a == "-ub" || a == "-npp" || a == "-ntg" || a == "-npl" || a == "-pps") {
      a = a == "-fa" ? "--flash-attn" : a == "-ub" ? "--ubatch-size" : "-" + a;
    } else if (a == "-np") {
      a = "--parallel";
    } else if (a == "-cb") {
      a = "--cont-batching";
    } else if (a == "-to") {
      a = "--timeout";
    }
  }
}

// Parse errors as one line naming the problem, like every other error.
std::string one_line_failure(const CLI::App*, const CLI::Error& e) {
  return std::string("cria: error: ") + e.what() + " (see --help)\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cria: a small, fast engine for GGUF language models", "cria"};
  app.set_version_flag("--version", "cria 0.1.0");
  app.require_subcommand(1);
  app.failure_message(one_line_failure);

  cria::cli::Action action;
  cria::cli::add_run_command(app, action);
  cria::cli::add_perplexity_command(app, action);
  cria::cli::add_info_command(app, action);
  cria::cli::add_bench_command(app, action);
  cria::cli::add_batched_bench_command(app, action);
  cria::cli::add_synth_command(app, action);
  cria::cli::add_quantize_command(app, action);
  cria::cli::add_quant_report_command(app, action);
  cria::cli::add_convert_command(app, action);
  cria::cli::add_template_command(app, action);
  cria::cli::add_chat_command(app, action);
  cria::cli::add_tokenize_command(app, action);
#ifdef CRIA_HAVE_HTTP
  cria::cli::add_serve_command(app, action);
  cria::cli::add_bench_serve_command(app, action);
#endif

  auto args = with_default_subcommand(argc, argv);
  expand_multi_letter_flags(args);
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action ? action() : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cria: error: %s\n", e.what());
    return 1;
  }
}
