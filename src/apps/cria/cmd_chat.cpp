// `cria chat` (and `cria -m MODEL -cnv`): an interactive conversation. Replies stream to stdout; notes and
// per-turn counts go to stderr. At a terminal, lines are read with libedit (editing, history); from a
// pipe, plain lines, so a conversation can be scripted. Ctrl-C during a reply stops it (what it had stays
// in the conversation) and returns to the prompt; Ctrl-C at the prompt, or a second one during a reply,
// exits with 130. Lines starting with / are commands (/help), never sent to the model.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "chat/chat_session.h"
#include "chat/chat_template.h"
#include "commands.h"
#include "generation_options.h"
#include "llama_cpp_compat.h"
#include "model/session.h"
#include "model_loading.h"
#include "terminal_input.h"

namespace cria::cli {

namespace {

struct ChatCliOptions : GenerationFlags {
  std::string model;
  std::string system;
  std::string system_file;
  bool escapes = false;
  std::string chat_template;
  int n_predict = -1;
  bool single_turn = false;
  bool multiline = false;
};

constexpr const char* kHelp =
    "commands:\n"
    "  /help         this list\n"
    "  /reset        forget the conversation (the system message stays) and clear the cache\n"
    "  /save FILE    write the conversation to FILE as JSON (an array of {role, content})\n"
    "  /load FILE    replace the conversation with FILE's and evaluate it once\n"
    "  /exit         quit (also /quit, end of input, Ctrl-C at the prompt)\n"
    "Ctrl-C during a reply stops it and keeps what it said.\n";

// A /command line: runs it and says what happened on stderr; false for /exit.
bool run_command(const std::string& line, chat::ChatSession& chat) {
  const size_t space = line.find(' ');
  const std::string name = line.substr(0, space);
  const std::string arg = space == std::string::npos ? "" : line.substr(line.find_first_not_of(' ', space));
  if (name == "/exit" || name == "/quit") return false;
  if (name == "/help") {
    std::fputs(kHelp, stderr);
  } else if (name == "/reset") {
    chat.reset();
    std::fprintf(stderr, "cria: the conversation and its cache are cleared\n");
  } else if ((name == "/save" || name == "/load") && arg.empty()) {
    std::fprintf(stderr, "cria: error: %s needs a file name (see /help)\n", name.c_str());
  } else if (name == "/save") {
    std::ofstream out(arg);
    out << chat.messages().dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "cria: error: cannot write %s\n", arg.c_str());
    } else {
      std::fprintf(stderr, "cria: saved %zu messages to %s\n", chat.messages().size(), arg.c_str());
    }
  } else if (name == "/load") {
    std::ifstream in(arg);
    const auto messages = nlohmann::ordered_json::parse(in, nullptr, false);
    if (!in.is_open() || messages.is_discarded()) {
      std::fprintf(stderr, "cria: error: %s is not a readable JSON file\n", arg.c_str());
      return true;
    }
    auto evaluated = chat.load(messages);
    if (!evaluated) {
      std::fprintf(stderr, "cria: error: %s: %s\n", arg.c_str(), evaluated.error().message.c_str());
    } else {
      std::fprintf(stderr, "cria: loaded %zu messages from %s, evaluated %d tokens\n", messages.size(), arg.c_str(),
                   *evaluated);
    }
  } else {
    std::fprintf(stderr, "cria: error: unknown command %s (see /help; not sent to the model)\n", name.c_str());
  }
  return true;
}

int run(const ChatCliOptions& opt) {
  if (const std::string bad = check_generation_flags(opt); !bad.empty()) return fail(bad);
  if (opt.n_predict < -1) return fail("-n must be -1 (until end of turn) or a token count");
  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  auto loaded = load_model(path);
  if (!loaded) return fail(loaded.error().message);
  const auto& tok = *loaded->tokenizer;
  auto session = model::Session::create(loaded->model, {opt.ctx, opt.batch, opt.threads, opt.flash_attn},
                                        cache_types(opt.cache_types).value());
  if (!session) return fail(session.error().message);
  warn_past_training_context(*loaded->model, (*session)->n_ctx());
  lock_memory_if_asked();

  std::string choice = opt.chat_template;
  if (choice.empty() && !loaded->model->file().find("tokenizer.chat_template")) {
    std::fprintf(stderr, "cria: the model has no chat template; using the built-in chatml (--chat-template to choose)\n");
    choice = "chatml";
  }
  auto source = chat::select_template(&loaded->model->file(), choice);
  if (!source) return fail(source.error().message);

  chat::ChatOptions copt;
  copt.template_source = std::move(*source);
  auto system = read_prompt(opt.system, opt.system_file, opt.escapes);
  if (!system) return fail(system.error().message);
  copt.system_prompt = std::move(*system);
  chat::ChatTemplateInputs specials;
  chat::set_special_token_texts(tok, specials);
  copt.bos_token = specials.bos_token;
  copt.eos_token = specials.eos_token;
  copt.sampling = seeded_sampling(opt);
  copt.n_predict = opt.n_predict;
  chat::ChatSession chat(**session, tok, std::move(copt));
  constrain(chat.sampler(), grammar_of(opt).value(), tok);

  const bool terminal = isatty(STDIN_FILENO) != 0;
  catch_interrupts(terminal);
  if (!logs_disabled()) {
    std::fprintf(stderr, "cria: chatting with %s, context %d, template %s. /help lists the commands.\n",
                 path.c_str(), (*session)->n_ctx(), choice.empty() ? "from the model" : choice.c_str());
  }
  while (auto line = read_input(terminal, "> ", opt.multiline)) {
    if (!line->empty() && line->back() == '\n') line->pop_back();  // the message is the text the user typed
    if (line->starts_with("/")) {
      if (!run_command(*line, chat)) break;
      continue;
    }
    if (line->empty()) continue;
    generating(true);
    auto stats = chat.respond(
        *line,
        [](std::string_view piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
        },
        &stop_requested());
    generating(false);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!stats) {
      std::fprintf(stderr, "cria: error: %s\n", stats.error().message.c_str());
      continue;
    }
    if (stats->interrupted) std::fprintf(stderr, "cria: reply stopped (Ctrl-C); what it said stays in the conversation\n");
    if (stats->dropped_turns > 0) {
      std::fprintf(stderr, "cria: the context was full: dropped the %d oldest turn(s) and evaluated the rest again\n",
                   stats->dropped_turns);
    }
    if (!logs_disabled()) {
      std::fprintf(stderr, "cria: evaluated %d tokens (%d reused from the cache), generated %d tokens, context %d/%d\n",
                   stats->n_evaluated, stats->n_reused, stats->n_generated, (*session)->n_past(), (*session)->n_ctx());
    }
    if (stats->hit_context_limit) {
      std::fprintf(stderr, "cria: the context is full, so the reply stopped; the next message drops the oldest turns "
                           "(or /reset to start over, -c for a larger context)\n");
    }
    if (opt.single_turn) break;
  }
  return 0;
}

}  // namespace

void add_chat_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<ChatCliOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive chat with the model's chat template; `cria -m M -cnv` is the same");
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: the bundled KJV model)");
  cmd->add_option("-p,--system,--system-prompt", opt->system, "System message (-sys)");
  // llama-cli's -cnv reads -p and -f as the system message.
  cmd->add_option("-f,--file,--system-prompt-file", opt->system_file, "Read the system message from a file (-sysf)");
  cmd->add_flag("-e,--escape", opt->escapes, "Process escapes in -p (\\n \\t \\' \\\" \\\\ \\xNN)");
  cmd->add_flag("--single-turn", opt->single_turn, "Exit after the first reply (-st)");
  cmd->add_flag("--multiline-input", opt->multiline,
                "A message goes on over lines until one ends in '\\' (without it, a line ending in '\\' goes on); '/' ends it (-mli)");
  cmd->add_option("--chat-template", opt->chat_template, "Built-in template name (llama2, chatml, ...) or a template file");
  cmd->add_option("-n,--n-predict", opt->n_predict, "Most tokens per reply; -1 until end of turn (default)");
  add_generation_flags(cmd, *opt);
  cmd->callback([opt, &run_action] { run_action = [opt] { return run(*opt); }; });
}

}  // namespace cria::cli
