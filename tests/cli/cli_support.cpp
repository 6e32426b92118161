#include "cli/cli_support.h"

#include "test_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

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

ServeProcess::ServeProcess(const std::string& flags, const std::string& prefix) {
  log_ = std::filesystem::temp_directory_path() /
         ("cria-serve-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".log");
  pid_ = ::fork();
  if (pid_ == 0) {
    const std::string cmd = "exec " + prefix + (prefix.empty() ? "" : " ") + CRIA_BINARY + " serve --port 0 " + flags +
                            " 2>" + log_.string();
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::filesystem::remove(log_);
}

std::string ServeProcess::log() const { return read_file(log_); }

int ServeProcess::wait_ready(int seconds) const {
  const std::regex listening("listening on http://[0-9.]+:([0-9]+)");
  for (int i = 0; i < seconds * 100; ++i) {
    const std::string text = log();
    std::smatch m;
    if (text.find("ready:") != std::string::npos && std::regex_search(text, m, listening)) return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

int ServeProcess::wait_exit(int seconds) {
  for (int i = 0; i < seconds * 100; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

}  // namespace cria::test
