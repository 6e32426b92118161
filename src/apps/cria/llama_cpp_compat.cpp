#include "llama_cpp_compat.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include "flag_spellings.h"

namespace cria::cli {

namespace {

enum class Takes { kNothing, kValue, kOptionalValue };

constexpr unsigned kGenerate = kRun | kChat;
constexpr unsigned kModel = kRun | kChat | kPerplexity | kServe | kBench | kBatchedBench;

struct CompatFlag {
  const char* names;  // CLI11 names; the first long one is what the note shows, or its llama.cpp spelling
  Takes takes;
  unsigned commands;
  const char* neutral;  // a value that asks for what cria does anyway: no note (nullptr: none)
  const char* note;     // what follows the flag in the note; nullptr: accepted silently
  const char* help = nullptr;  // --help's line when it is not the note
};

constexpr const char* kCpuOnly = "ignored: this build runs on the CPU";
// Under mpirun these two split the model over the processes (src/dist), and say nothing.
constexpr const char* kOneProcess = "ignored: one process holds the whole model (a pipeline is mpirun -np K cria ...)";
constexpr const char* kTemplateFrames = "ignored on chat: the chat template frames each message";
constexpr const char* kLocalFiles = "see cria pull URL: refused without -m, ignored beside it";

const std::vector<CompatFlag>& compat_flags() {
  static const std::vector<CompatFlag> flags = {
      // GPUs and placement: a CPU build keeps everything in host memory.
      {"--n-gpu-layers,--gpu-layers", Takes::kValue, kModel, "0", kCpuOnly},
      {"--main-gpu", Takes::kValue, kModel, "0", kCpuOnly},
      {"--split-mode", Takes::kValue, kModel, "none", kOneProcess},
      {"--tensor-split", Takes::kValue, kModel, nullptr, kOneProcess},
      {"--device", Takes::kValue, kModel, "none", kCpuOnly},
      {"--override-tensor", Takes::kValue, kModel, nullptr, "ignored: every tensor stays in host memory"},
      {"--no-kv-offload", Takes::kNothing, kModel & ~kBench, nullptr, nullptr},
      {"--no-kv-offload", Takes::kValue, kBench, nullptr, nullptr},  // llama-bench's -nkvo 0|1
      {"--cpu-moe", Takes::kNothing, kModel, nullptr, nullptr},
      {"--n-cpu-moe", Takes::kValue, kModel, nullptr, nullptr},
      {"--numa", Takes::kValue, kModel, nullptr, "ignored: no NUMA placement on this build"},
      // Memory.
      {"--mlock", Takes::kNothing, kServe | kBench | kBatchedBench, nullptr, "not supported yet here: the model's pages are not locked in memory"},
      {"--no-mmap", Takes::kNothing, kModel, nullptr, "ignored: cria maps the file and copies the weight matrices into memory of its own when they fit"},
      {"--mmap", Takes::kValue, kBench, "1", "ignored: cria maps the file and copies the weight matrices into memory of its own when they fit"},
      // Batches and threads.
      {"--ubatch-size", Takes::kValue, kModel, nullptr, "ignored: prompts are split by -b alone"},
      {"--threads-batch", Takes::kValue, kModel, nullptr, "ignored: the -t threads do both prompt and generation"},
      {"--no-warmup", Takes::kNothing, kModel & ~kBench, nullptr, nullptr},  // cria runs no warm-up
      {"--no-warmup", Takes::kNothing, kBench, nullptr, "ignored: bench always runs one untimed warm-up"},
      {"--no-cont-batching", Takes::kNothing, kServe, nullptr, "ignored: continuous batching is always on"},
      // Models from the network: main.cpp refuses them without -m.
      // -hf and its companions are taken out before parsing (cmd_pull.cpp: resolve_hub_model); these
      // entries give them their --help lines.
      {"--hf-repo", Takes::kValue, kModel, nullptr, nullptr,
       "REPO[:QUANT]: the model from Hugging Face, through the cache (see cria pull; ignored beside -m)"},
      {"--hf-file", Takes::kValue, kModel, nullptr, nullptr, "with -hf: this file of the repository"},
      {"--hf-token", Takes::kValue, kModel, nullptr, nullptr, "with -hf: the Hugging Face token (default: HF_TOKEN)"},
      {"--offline", Takes::kNothing, kModel, nullptr, nullptr, "with -hf: only the cache, no network"},
      {"--model-url", Takes::kValue, kModel, nullptr, nullptr, kLocalFiles},
      // Templates and logs: cria always renders the model's template with its own Jinja engine.
      {"--jinja", Takes::kNothing, kGenerate | kServe, nullptr, nullptr},
      {"-v,--verbose,--log-verbose", Takes::kNothing, kModel, nullptr, nullptr},
      {"--log-colors", Takes::kNothing, kModel, nullptr, nullptr},
      {"--no-perf", Takes::kNothing, kGenerate | kPerplexity, nullptr, nullptr},
      {"--simple-io", Takes::kNothing, kGenerate, nullptr, nullptr},
      // Modes: run is completion (single turn), chat is the conversation.
      {"--no-conversation", Takes::kNothing, kRun, nullptr, nullptr},
      {"--single-turn", Takes::kNothing, kRun, nullptr, nullptr},
      {"--conversation", Takes::kNothing, kChat, nullptr, nullptr},
      {"--no-display-prompt", Takes::kNothing, kChat, nullptr, nullptr},  // chat never prints the system message
      {"--system-prompt", Takes::kValue, kRun, nullptr, "ignored: run completes text; a system prompt is for chat (-cnv)"},
      // Interactive completion: `run` registers these itself (interactive.h), so on `run` these rows are
      // skipped; on `chat`, which is interactive anyway, they are notes.
      {"-i,--interactive", Takes::kNothing, kGenerate, nullptr, nullptr},  // chat is interactive anyway
      {"--interactive-first", Takes::kNothing, kGenerate, nullptr, nullptr},
      {"-r,--reverse-prompt", Takes::kValue, kGenerate, nullptr, "ignored on chat: a reply ends at the template's end of turn"},
      {"--in-prefix", Takes::kValue, kGenerate, nullptr, kTemplateFrames},
      {"--in-suffix", Takes::kValue, kGenerate, nullptr, kTemplateFrames},
      {"--in-prefix-bos", Takes::kNothing, kGenerate, nullptr, kTemplateFrames},
      {"--color", Takes::kOptionalValue, kGenerate, "off", "ignored on chat: replies are not coloured"},
      {"--keep", Takes::kValue, kGenerate, "0", "ignored on chat: a full context drops the oldest turns instead"},
      {"--mirostat", Takes::kValue, kPerplexity, "0", "ignored: perplexity does not sample"},
      // Parameters of the samplers above: without them they change nothing, in llama.cpp too.
  };
  return flags;
}

bool g_logs_disabled = false;
bool g_pipelined = false;
bool g_mlock = false;

// The first long name of "-i,--interactive": "--interactive".
std::string first_long_name(const std::string& names) {
  size_t start = 0;
  while (start < names.size()) {
    const size_t comma = names.find(',', start);
    const std::string name = names.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name.rfind("--", 0) == 0) return name;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return names;
}

bool same_value(const std::string& value, const char* neutral) {
  if (neutral == nullptr) return false;
  char *end_a = nullptr, *end_b = nullptr;
  const double a = std::strtod(value.c_str(), &end_a), b = std::strtod(neutral, &end_b);
  const bool numbers = !value.empty() && *end_a == '\0' && *end_b == '\0';
  return numbers ? a == b : value == neutral;
}

// " VALUE" as the note shows it: quoted when it holds spaces (--in-prefix ' '), nothing when absent.
std::string shown_value(const std::string& value) {
  if (value.empty()) return "";
  if (value.find_first_of(" \t\n") == std::string::npos) return " " + value;
  std::string quoted = " '";
  quoted += value;
  quoted += '\'';
  return quoted;
}

void add_compat_flag(CLI::App* cmd, const CompatFlag& flag) {
  const std::string name = first_long_name(flag.names);
  const std::string help =
      std::string("llama.cpp's; ") + (flag.help ? flag.help : flag.note ? flag.note : "changes nothing here");
  if (flag.takes == Takes::kNothing) {
    const char* text = flag.note;
    cmd->add_flag_callback(flag.names, [name, text] { if (text) note(as_typed(name) + " " + text); }, help)
        ->group("llama.cpp compatibility");
    return;
  }
  const char* text = flag.note;
  const char* neutral = flag.neutral;
  auto* opt = cmd->add_option_function<std::string>(
      flag.names,
      [name, text, neutral](const std::string& value) {
        if (text == kOneProcess && g_pipelined) return;
        if (text && !same_value(value, neutral)) note(as_typed(name) + shown_value(value) + " " + text);
      },
      help);
  opt->group("llama.cpp compatibility");
  if (flag.takes == Takes::kOptionalValue) opt->expected(0, 1);
}

}  // namespace

void add_llama_cpp_compat_flags(CLI::App* cmd, CompatCommand command) {
  for (const auto& flag : compat_flags()) {
    if ((flag.commands & command) == 0) continue;
    if (cmd->get_option_no_throw(first_long_name(flag.names)) != nullptr) continue;
    add_compat_flag(cmd, flag);
  }
  // run, chat and perplexity act on --mlock and --log-disable; the others say they do not.
  const bool acts = (command & (kGenerate | kPerplexity)) != 0;
  if (acts) {
    cmd->add_flag_callback("--mlock", [] { g_mlock = true; }, "Lock the model and the cache in memory (no swapping)")
        ->group("llama.cpp compatibility");
  }
  if (cmd->get_option_no_throw("--log-disable") == nullptr) {
    cmd->add_flag_callback(
           "--log-disable", [acts] { acts ? void(g_logs_disabled = true) : note("--log-disable not supported yet here: ignored"); },
           "Leave out the informational lines on stderr (errors still print)")
        ->group("llama.cpp compatibility");
  }
}

bool logs_disabled() { return g_logs_disabled; }

void set_pipelined(bool on) { g_pipelined = on; }

void lock_memory_if_asked() {
  if (!g_mlock || mlockall(MCL_CURRENT) == 0) return;
  note("--mlock: cannot lock the model in memory (" + std::string(std::strerror(errno)) +
       "; the limit is ulimit -l): continuing unlocked");
}

void note(const std::string& message) { std::fprintf(stderr, "cria: note: %s\n", message.c_str()); }

}  // namespace cria::cli
