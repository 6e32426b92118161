// Running the `cria` binary from tests: exit code and captured output.
#pragma once

#include <sys/types.h>

#include <filesystem>
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

// A `cria serve --port 0 FLAGS` child with its stderr in a file; `prefix` as for run_cria (mpirun ...).
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& flags, const std::string& prefix = "");
  ~ServeProcess();
  std::string log() const;
  // The port from "listening on http://127.0.0.1:PORT", once the server is ready (or 0 after `seconds`).
  int wait_ready(int seconds = 20) const;
  // The exit status, or -1 if it has not exited within `seconds`.
  int wait_exit(int seconds);
  pid_t pid() const { return pid_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

}  // namespace cria::test
