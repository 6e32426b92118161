// `cria chat` and `cria run -i` at a terminal, driven through a pseudo-terminal as a person would: Ctrl-C
// during a reply returns to the prompt with the partial reply kept in the conversation, /save then /load
// restores the conversation and evaluates it once (the next turn reuses all of it), Ctrl-C at the prompt
// exits with 130, and interactive completion hands control back after -n tokens or a Ctrl-C. Every read
// has a deadline, so a hang fails the test instead of stalling it.
#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

namespace cria::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class PtyProcess {
 public:
  explicit PtyProcess(const std::vector<std::string>& args) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0; }

  // Reads until `pattern` matches what came since the last successful wait; false after `seconds`.
  bool wait_for(const std::string& pattern, double seconds = 30) {
    const std::regex re(pattern);
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (true) {
      std::smatch m;
      if (std::regex_search(pending_, m, re)) {
        pending_.erase(0, static_cast<size_t>(m.position(0) + m.length(0)));
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return false;  // the child closed the terminal
      pending_.append(buf, static_cast<size_t>(n));
      all_.append(buf, static_cast<size_t>(n));
    }
  }
  void type(const std::string& keys) { ASSERT_EQ(write(fd_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size())); }
  // At a prompt, after a short pause: libedit switches the terminal's mode once its prompt is out, and keys
  // that arrive before that can be dropped with the mode change, as they would be for a person typing ahead.
  void type_at_prompt(const std::string& keys) {
    usleep(300 * 1000);
    type(keys);
  }

  // The exit code, or -1 if it did not exit within `seconds` (or was killed by a signal).
  int exit_code(double seconds = 20) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      char buf[4096];
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) > 0 && read(fd_, buf, sizeof buf) > 0) continue;
    }
    return -1;
  }
  const std::string& transcript() const { return all_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  std::string pending_, all_;
};

TEST(CliChatTerminal, CtrlCStopsTheReplySaveLoadAndCtrlCAtThePromptExits) {
  const fs::path saved = fs::temp_directory_path() / ("cria_chat_" + std::to_string(getpid()) + ".json");
  // A reply of up to 2000 tokens (the bundled model writes about 3000 a second), so Ctrl-C lands in it.
  PtyProcess chat({CRIA_BINARY, "chat", "-n", "2000", "-c", "2048", "--temp", "0", "-t", "1"});
  ASSERT_TRUE(chat.started());
  ASSERT_TRUE(chat.wait_for("> ")) << chat.transcript();
  chat.type_at_prompt("And God said\r");
  ASSERT_TRUE(chat.wait_for("And God said\r?\n[^\n]{12}")) << "no reply began:\n" << chat.transcript();
  chat.type("\x03");
  ASSERT_TRUE(chat.wait_for("reply stopped \\(Ctrl-C\\)")) << chat.transcript();
  ASSERT_TRUE(chat.wait_for("generated [0-9]+ tokens")) << chat.transcript();
  std::smatch m;
  const std::string so_far = chat.transcript();
  ASSERT_TRUE(std::regex_search(so_far, m, std::regex("generated ([0-9]+) tokens")));
  EXPECT_LT(std::stoi(m[1]), 2000) << "Ctrl-C must stop the reply before its 2000 tokens";
  ASSERT_TRUE(chat.wait_for("> ")) << "no prompt after the stopped reply:\n" << chat.transcript();

  chat.type_at_prompt("/save " + saved.string() + "\r");
  ASSERT_TRUE(chat.wait_for("saved 2 messages")) << chat.transcript();
  chat.type_at_prompt("/load " + saved.string() + "\r");
  ASSERT_TRUE(chat.wait_for("loaded 2 messages from [^,]*, evaluated [0-9]+ tokens")) << chat.transcript();
  const std::string transcript = chat.transcript();
  ASSERT_TRUE(std::regex_search(transcript, m, std::regex("evaluated ([0-9]+) tokens\r?\n")));
  const std::string loaded_tokens = m[1];
  chat.type_at_prompt("/bogus\r");
  ASSERT_TRUE(chat.wait_for("unknown command /bogus")) << chat.transcript();
  chat.type_at_prompt("Amen\r");
  ASSERT_TRUE(chat.wait_for("\\(" + loaded_tokens + " reused from the cache\\)"))
      << "the next turn must reuse the whole loaded conversation:\n" << chat.transcript();
  ASSERT_TRUE(chat.wait_for("> ")) << chat.transcript();
  chat.type_at_prompt("\x03");
  EXPECT_EQ(chat.exit_code(), 130) << chat.transcript();

  std::ifstream in(saved);
  const auto messages = nlohmann::json::parse(in, nullptr, false);
  fs::remove(saved);
  ASSERT_TRUE(messages.is_array() && messages.size() == 2) << messages.dump();
  EXPECT_EQ(messages[0]["role"], "user");
  EXPECT_EQ(messages[1]["role"], "assistant");
  const std::string partial = messages[1]["content"];
  EXPECT_FALSE(partial.empty()) << "the stopped reply's text stays in the conversation";
}

// Ctrl-C during `cria run` ends it with exit code 130 (item 6 of issue 18), not a death by signal.
TEST(CliRunTerminal, CtrlCExitsWith130) {
  PtyProcess run({CRIA_BINARY, "-p", "In the beginning", "-n", "2000", "-c", "2048", "--temp", "0", "-t", "1"});
  ASSERT_TRUE(run.started());
  ASSERT_TRUE(run.wait_for("In the beginning[^\n]{12}")) << run.transcript();
  run.type("\x03");
  EXPECT_EQ(run.exit_code(), 130) << run.transcript();
}

// llama-cli's interactive completion: control returns after -n tokens, the user's line continues the text,
// Ctrl-C during generation returns control instead of exiting, and end of input (Ctrl-D) ends with 0.
TEST(CliRunTerminal, InteractiveHandsControlBackAfterNTokensAndOnCtrlC) {
  PtyProcess run({CRIA_BINARY, "-i", "-p", "In the beginning", "-n", "8", "--temp", "0", "-t", "1", "-c", "256",
                  "--in-prefix", "you> "});
  ASSERT_TRUE(run.started());
  ASSERT_TRUE(run.wait_for("In the beginning[^\n]+you> ")) << "no control after 8 tokens:\n" << run.transcript();
  run.type_at_prompt("And God said\r");
  ASSERT_TRUE(run.wait_for("And God said\r?\n[^\n]*you> ")) << run.transcript();
  run.type_at_prompt("\x04");  // end of input at the prompt
  EXPECT_EQ(run.exit_code(), 0) << run.transcript();

  PtyProcess stop({CRIA_BINARY, "-i", "-p", "In the beginning", "-n", "2000", "--temp", "0", "-t", "1", "-c", "2048",
                   "--in-prefix", "you> "});
  ASSERT_TRUE(stop.started());
  ASSERT_TRUE(stop.wait_for("In the beginning[^\n]{12}")) << stop.transcript();
  stop.type("\x03");
  ASSERT_TRUE(stop.wait_for("you> ")) << "Ctrl-C must hand control to the user:\n" << stop.transcript();
  stop.type_at_prompt("\x03");  // a second one, at the prompt, exits
  EXPECT_EQ(stop.exit_code(), 130) << stop.transcript();
}

}  // namespace
}  // namespace cria::test
