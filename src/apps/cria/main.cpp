// cria: run large language models from GGUF files. One executable, one subcommand per task.
#include <cstdio>
#include <exception>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cria: a small, fast engine for GGUF language models", "cria"};
  app.set_version_flag("--version", "cria 0.1.0");
  app.require_subcommand(1);

  cria::cli::Action action;
  cria::cli::add_info_command(app, action);

  try {
    app.parse(argc, argv);
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
