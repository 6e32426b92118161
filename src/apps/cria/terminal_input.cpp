#include "terminal_input.h"

#include <editline/readline.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace cria::cli {

namespace {

std::atomic<bool> g_generating{false};
std::atomic<bool> g_stop{false};
struct termios g_terminal_settings;
bool g_have_terminal_settings = false;

// Only async-signal-safe calls here.
void on_interrupt(int) {
  if (g_generating.load() && !g_stop.load()) {
    g_stop.store(true);
    return;
  }
  if (g_have_terminal_settings) tcsetattr(STDIN_FILENO, TCSANOW, &g_terminal_settings);
  static const char kNewline = '\n';
  (void)!write(STDOUT_FILENO, &kNewline, 1);
  _exit(130);
}

}  // namespace

void catch_interrupts(bool terminal) {
  if (terminal) g_have_terminal_settings = tcgetattr(STDIN_FILENO, &g_terminal_settings) == 0;
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

void generating(bool on) {
  if (on) g_stop.store(false);
  g_generating.store(on);
}

const std::atomic<bool>& stop_requested() { return g_stop; }

std::optional<std::string> read_line(bool terminal, const std::string& prompt) {
  if (terminal) {
    char* raw = readline(prompt.c_str());
    if (!raw) return std::nullopt;
    std::string line(raw);
    std::free(raw);
    if (!line.empty()) add_history(line.c_str());
    return line;
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> read_input(bool terminal, const std::string& prompt, bool multiline) {
  std::string input;
  bool any = false;
  while (auto line = read_line(terminal, any ? std::string() : prompt)) {
    any = true;
    if (!line->empty() && line->back() == '/') {
      line->pop_back();
      return input + *line;
    }
    bool more = multiline;
    if (!line->empty() && line->back() == '\\') {
      line->pop_back();
      more = !multiline;
    }
    input += *line + "\n";
    if (!more) return input;
  }
  if (!any) return std::nullopt;
  return input;  // the input ended inside a continued line
}

}  // namespace cria::cli
