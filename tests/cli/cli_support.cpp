#include "cli/cli_support.h"

#include "test_support.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace cria::test {

CommandResult run_cria(const std::string& args, const std::string& stdin_text, const std::string& prefix) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("cria_cli_" + std::to_string(std::random_device{}()) + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto in = dir / "in", out = dir / "out", err = dir / "err";
  std::ofstream(in, std::ios::binary) << stdin_text;
  const std::string cmd = prefix + (prefix.empty() ? "'" : " '") + CRIA_BINARY + "' " + args + " <'" + in.string() + "' >'" + out.string() +
                          "' 2>'" + err.string() + "'";
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace cria::test
