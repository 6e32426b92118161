// Running the `cria` binary from tests: exit code and captured output.
#pragma once

#include <string>

namespace cria::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `cria ARGS` (args are passed through the shell as written: quote them yourself); `prefix`, when
// given, is a command that runs cria (such as `prlimit --memlock=0:0`).
CommandResult run_cria(const std::string& args, const std::string& stdin_text = "", const std::string& prefix = "");

}  // namespace cria::test
