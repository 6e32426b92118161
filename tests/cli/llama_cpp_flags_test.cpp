// llama.cpp's command lines on `cria` (issue 18, items 1, 5 and 6): the lines of its README and examples
// (tests/cli/llama_cpp_command_lines.txt) each run or give a note, never a parse error; bad input gives
// one line and exit 1; notes, spellings and exit codes as a llama.cpp user expects them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_support.h"
#include "test_support.h"

namespace cria::test {
namespace {

std::string bundled_model() { return std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf"; }

// A text long enough for two perplexity chunks of 128 tokens, also the prompt file of chat.sh's line.
std::string text_file() {
  const auto path = std::filesystem::temp_directory_path() / "cria_llama_cpp_text.txt";
  std::ofstream out(path);
  for (int i = 0; i < 40; ++i) out << "In the beginning God created the heaven and the earth. And the earth was without form.\n";
  return path.string();
}

// A JSON-ish command grammar for the README's --grammar-file line (grammars/json.gbnf there).
std::string grammar_file() {
  const auto path = std::filesystem::temp_directory_path() / "cria_llama_cpp_command.gbnf";
  std::ofstream(path) << "root ::= \" \"? \"{\" ws \"\\\"command\\\":\" ws \"\\\"\" [a-z ]* \"\\\"\" ws \"}\"\nws ::= [ ]?\n";
  return path.string();
}

// The chat.sh example's prompt file, prompts/chat-with-bob.txt, in short.
std::string prompt_file() {
  const auto path = std::filesystem::temp_directory_path() / "cria_llama_cpp_prompt.txt";
  std::ofstream(path) << "Transcript of a dialog, where the User interacts with an Assistant named Bob.\n\n"
                         "User: Hello, Bob.\nBob: Hello. How may I help you today?\nUser:";
  return path.string();
}

// 'path', for the shell.
std::string quoted(const std::string& path) {
  std::string q(1, '\'');
  q += path;
  q += '\'';
  return q;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// The command lines of the list: '#' comments and blank lines skipped; a line with an open single
// quote continues on the next (the interactive example's multi-line prompt).
std::vector<std::string> command_lines() {
  std::ifstream in(std::string(CRIA_SOURCE_DIR) + "/tests/cli/llama_cpp_command_lines.txt");
  std::vector<std::string> lines;
  std::string line, pending;
  while (std::getline(in, line)) {
    if (pending.empty() && (line.empty() || line[0] == '#')) continue;
    if (!pending.empty()) pending += '\n';
    pending += line;
    if (std::count(pending.begin(), pending.end(), '\'') % 2 == 0) {
      lines.push_back(pending);
      pending.clear();
    }
  }
  return lines;
}

bool is_one_line_error(const CommandResult& r) {
  return r.exit_code == 1 && r.err.rfind("cria: error: ", 0) == 0 && r.err.find('\n') == r.err.size() - 1;
}

TEST(CliLlamaCpp, ReadmeAndExampleCommandLinesRunOrGiveANote) {
  const std::string text = text_file(), prompt = prompt_file(), grammar = grammar_file();
  const auto lines = command_lines();
  ASSERT_GE(lines.size(), 20u);
  for (std::string line : lines) {
    replace_all(line, "MODEL", quoted(bundled_model()));
    replace_all(line, "TEXT", quoted(text));
    replace_all(line, "PROMPT", quoted(prompt));
    replace_all(line, "GRAMMAR", quoted(grammar));
    const auto r = run_cria(line, "Hello\n");
    EXPECT_EQ(r.exit_code, 0) << line << "\n" << r.err;
    EXPECT_EQ(r.err.find("cria: error"), std::string::npos) << line << "\n" << r.err;
  }
  std::filesystem::remove(text);
  std::filesystem::remove(prompt);
  std::filesystem::remove(grammar);
}

TEST(CliLlamaCpp, FlagsThatDoNotApplyGiveOneNote) {
  const auto r = run_cria("-p hi -n 1 -ngl 99 --no-mmap");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cria: note: -ngl 99 ignored: this build runs on the CPU\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cria: note: --no-mmap ignored"), std::string::npos) << r.err;
  // Asking for what cria does anyway needs no note.
  const auto quiet = run_cria("-p hi -n 1 -ngl 0 -nkvo --no-warmup --jinja");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("note"), std::string::npos) << quiet.err;
}

// --mlock where locking is refused: a note naming the limit, and the run goes on. Root may lock past any
// limit (CAP_IPC_LOCK), so the capability is dropped (setpriv) and the limit set to 0 (prlimit).
TEST(CliLlamaCpp, MlockRefusedIsANote) {
  if (std::system("setpriv --help >/dev/null 2>&1 && prlimit --help >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "setpriv or prlimit (util-linux) not found";
  }
  const std::string limited = "setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock prlimit --memlock=0:0";
  const auto r = run_cria("-p 'In the beginning' -n 2 --temp 0 --mlock", "", limited);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cria: note: --mlock: cannot lock the model in memory ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ulimit -l): continuing unlocked"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("In the beginning"), std::string::npos) << r.out;
}

TEST(CliLlamaCpp, FlashAttentionTakesOnOffAuto) {
  for (const auto& [flags, shown] : std::vector<std::pair<std::string, std::string>>{
           {"-fa", "flash_attn = 1"}, {"-fa on", "flash_attn = 1"}, {"-fa off", "flash_attn = 0"},
           {"--flash-attn auto", "flash_attn = 0"}, {"-fa 1", "flash_attn = 1"}}) {
    const auto r = run_cria("-p hi -n 1 " + flags);
    ASSERT_EQ(r.exit_code, 0) << flags << ": " << r.err;
    EXPECT_NE(r.err.find(shown), std::string::npos) << flags << ": " << r.err;
  }
}

TEST(CliLlamaCpp, ConversationFlagsChooseChat) {
  // `run -cnv` is chat as the bare form is; -sys alone chats too; -no-cnv keeps completion.
  for (const std::string args : {"run -cnv -n 2", "-cnv -n 2", "-sys 'Be brief' -n 2 -st"}) {
    const auto r = run_cria(args, "Hello\nAgain\n");
    ASSERT_EQ(r.exit_code, 0) << args << ": " << r.err;
    EXPECT_NE(r.err.find("chatting with"), std::string::npos) << args << ": " << r.err;
  }
  const auto single = run_cria("chat -st -n 2", "Hello\nAgain\n");
  EXPECT_EQ(std::count(single.err.begin(), single.err.end(), '\n'), 3) << single.err;  // template, greeting, one turn
  const auto completion = run_cria("-no-cnv -sys 'Be brief' -p hi -n 1");
  ASSERT_EQ(completion.exit_code, 0) << completion.err;
  EXPECT_NE(completion.err.find("cria: note: -sys 'Be brief' ignored"), std::string::npos) << completion.err;
}

TEST(CliLlamaCpp, BadInputIsOneLineAndExitOne) {
  const auto dir = std::filesystem::temp_directory_path();
  const struct {
    std::string args, says;
  } cases[] = {
      {"-p hi --frobnicate", "unknown flag --frobnicate for `cria run`"},
      {"-p hi --n-predcit 4", "did you mean --n-predict?"},
      {"-p hi -ngll 99", "did you mean -ngl?"},
      {"-p hi -xyz", "unknown flag -xyz"},
      {"chat --tmep 0", "did you mean --temp?"},
      {"bench -m MODEL --n-prompts 8", "did you mean --n-prompt?"},
      {"-p hi -t 100000", "-t 100000 is more threads than cria allows"},
      {"-p hi -t -2", "-t must be positive"},
      {"-f " + quoted(dir.string()), "is a directory"},
      {"-f /nonexistent/prompt.txt", "cannot open"},
      {"-f /dev/zero", "-f /dev/zero: more than 128 MiB of text"},
      {"-p hi --repeat-penalty 0", "--repeat-penalty must be positive"},
      {"-p hi --repeat-penalty -1", "--repeat-penalty must be positive"},
      {"-p hi -c -5", "-c must be"},
      {"-p hi -n abc", "abc"},
      {"-hf gemma-3-1b-it-GGUF", "'gemma-3-1b-it-GGUF' is not a Hugging Face repository"},
      {"-p hi --hf-file x.gguf", "--hf-file needs -hf REPO"},
      {"perplexity -f " + quoted(dir.string()), "is a directory"},
      {"perplexity -f README.md --chunks 0", "--chunks"},
      {"perplexity -f README.md --chunks -2", "--chunks"},
      {"bench -m MODEL -o xml", "-o must be md, csv, json or jsonl"},
      {"bench -m MODEL -t 100000", "-t 100000"},
      {"frobnicate", "frobnicate"},
  };
  for (auto c : cases) {
    replace_all(c.args, "MODEL", quoted(bundled_model()));
    const auto r = run_cria(c.args);
    EXPECT_TRUE(is_one_line_error(r)) << c.args << ": exit " << r.exit_code << ", stderr: " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << ": " << r.err;
  }
}

TEST(CliLlamaCpp, MoreThreadsThanCpusWarnOnce) {
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  const auto r = run_cria("-p hi -n 1 -t " + std::to_string(cpus + 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.rfind("cria: warning: -t " + std::to_string(cpus + 1) + " is more threads than the ", 0), 0u) << r.err;
}

// The bundled model was trained on 256 tokens: a longer -c runs, with a warning (llama.cpp's "training
// context overflow"), and one within it gives none.
TEST(CliLlamaCpp, ContextPastTheTrainingContextWarns) {
  const auto longer = run_cria("-p hi -n 1 -c 512");
  ASSERT_EQ(longer.exit_code, 0) << longer.err;
  EXPECT_NE(longer.err.find("cria: warning: context 512 (-c) is longer than the 256 tokens the model was trained on"),
            std::string::npos)
      << longer.err;
  const auto within = run_cria("-p hi -n 1 -c 256");
  ASSERT_EQ(within.exit_code, 0) << within.err;
  EXPECT_EQ(within.err.find("warning"), std::string::npos) << within.err;
}

TEST(CliLlamaCpp, HelpAndVersionExitZeroOnEveryCommand) {
  for (const std::string args : {"--help", "--version", "run --version", "chat --version", "bench --version",
                                 "perplexity --version", "info --version", "run --help", "-h"}) {
    const auto r = run_cria(args);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
  }
  EXPECT_NE(run_cria("run --version").out.find("cria "), std::string::npos);
}

TEST(CliLlamaCpp, TimingLinesAndLogDisable) {
  const auto r = run_cria("-p hi -n 2 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(" / 0"), std::string::npos) << r.err;  // the load line counts no tokens
  const size_t total = r.err.find("total time");
  ASSERT_NE(total, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("per token", total), std::string::npos) << r.err;  // the total includes the load
  const auto quiet = run_cria("-p hi -n 2 --temp 0 --log-disable");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "") << quiet.err;
  EXPECT_EQ(quiet.out, r.out);
}

TEST(CliLlamaCpp, BenchWritesLlamaBenchCsv) {
  const auto r = run_cria("bench -m " + quoted(bundled_model()) + " -o csv -p 8 -n 0 -r 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.rfind("build_commit,build_number,", 0), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;  // header and one test
  EXPECT_NE(r.out.find("\"512\"") , std::string::npos) << r.out;        // n_batch, quoted as llama-bench does
}

}  // namespace
}  // namespace cria::test
