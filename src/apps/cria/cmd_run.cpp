// `cria run` (and bare `cria -m ...`): text completion with llama.cpp's completion-mode flags.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "generation_options.h"
#include "interactive.h"
#include "llama_cpp_compat.h"
#include "model/session.h"
#include "model_loading.h"
#include "sampling/sampler.h"

namespace cria::cli {

namespace {

struct RunOptions : GenerationFlags {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int n_predict = -1;
  bool escapes = false;
  bool ignore_eos = false;
  bool no_display_prompt = false;
  bool interactive = false;
  InteractiveOptions interaction;
};

constexpr const char* kPromptColor = "\x1b[33m";  // llama-cli's --color: the prompt in yellow
constexpr const char* kResetColor = "\x1b[0m";

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// llama.cpp's timing lines; `per_token` adds the rate (not for load or total, whose time is not per token).
void print_timing(const char* label, double ms, int64_t n, const char* unit, bool per_token = true) {
  if (n > 0 && per_token) {
    std::fprintf(stderr, "cria: %16s = %10.2f ms / %5lld %-6s (%8.2f ms per token, %8.2f tokens per second)\n", label,
                 ms, static_cast<long long>(n), unit, ms / n, 1000.0 * n / ms);
  } else if (n > 0) {
    std::fprintf(stderr, "cria: %16s = %10.2f ms / %5lld %s\n", label, ms, static_cast<long long>(n), unit);
  } else {
    std::fprintf(stderr, "cria: %16s = %10.2f ms\n", label, ms);
  }
}

int run(const RunOptions& opt) {
  // llama.cpp's -2 (until the context is full) is what -1 does here: generation always stops at a full context.
  if (opt.n_predict < -2) {
    return fail("-n must be -1 or -2 (until end of text or a full context) or a token count, got " +
                std::to_string(opt.n_predict));
  }
  if (const std::string bad = check_generation_flags(opt); !bad.empty()) return fail(bad);

  const auto load_start = Clock::now();
  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  auto loaded = load_model(path);
  if (!loaded) return fail(loaded.error().message);
  const auto& tok = *loaded->tokenizer;
  auto session_or = model::Session::create(loaded->model, {opt.ctx, opt.batch, opt.threads, opt.flash_attn},
                                          cache_types(opt.cache_types).value());
  if (!session_or) return fail(session_or.error().message);
  model::Session& session = **session_or;
  warn_past_training_context(*loaded->model, session.n_ctx());
  lock_memory_if_asked();
  auto prompt = read_prompt(opt.prompt, opt.prompt_file, opt.escapes);
  if (!prompt) return fail(prompt.error().message);

  const bool interactive = opt.interactive || opt.interaction.first;
  if (interactive && opt.interaction.keep < -1) return fail("--keep must be -1 (the whole prompt) or a token count");
  std::vector<int32_t> tokens = tok.encode(*prompt, /*add_special=*/true, /*parse_special=*/true);
  if (tokens.empty()) tokens.push_back(tok.bos());
  if (static_cast<int>(tokens.size()) > session.n_ctx()) {
    return fail("the prompt is " + std::to_string(tokens.size()) + " tokens, longer than the context size " +
                std::to_string(session.n_ctx()) + " (-c)");
  }
  sampling::Sampler sampler(seeded_sampling(opt), loaded->model->n_vocab(), session.n_ctx(),
                            [&tok](int32_t id) { return tok.token_to_piece(id, /*special=*/true); });
  constrain(sampler, grammar_of(opt).value(), tok);
  if (opt.ignore_eos) {
    for (int32_t id = 0; id < loaded->model->n_vocab(); ++id) {
      if (tok.is_eog(id)) sampler.ban(id);
    }
  }
  const double load_ms = ms_since(load_start);
  if (!logs_disabled()) {
    std::fprintf(stderr, "cria: %s\n", model_banner(*loaded->model).c_str());
    std::fprintf(stderr, "cria: model %s, %d threads, context %d, batch %d, flash_attn = %d, seed %u\n", path.c_str(),
                 session.n_threads(), session.n_ctx(), session.n_batch(), session.flash_attn() ? 1 : 0, sampler.seed());
    print_kv_cache_size("cria", session.cache());
  }

  if (!opt.no_display_prompt) {
    if (opt.interaction.color) std::fputs(kPromptColor, stdout);
    for (int32_t id : tokens) std::fputs(tok.token_to_piece(id, false).c_str(), stdout);
    if (opt.interaction.color) std::fputs(kResetColor, stdout);
    std::fflush(stdout);
  }
  for (int32_t id : tokens) sampler.accept(id);

  const auto prompt_start = Clock::now();
  if (auto s = session.decode(tokens); !s) return fail(s.error().message);
  const double prompt_ms = ms_since(prompt_start);

  GenerationCounts counts;
  if (interactive) {
    InteractiveOptions interaction = opt.interaction;
    interaction.n_predict = opt.n_predict;
    interaction.escapes = opt.escapes;
    const int code = run_interactive(session, sampler, tok, tokens, interaction, counts);
    if (code != 0) return code;
  }
  double& eval_ms = counts.eval_ms;
  double& sample_ms = counts.sample_ms;
  int64_t& n_generated = counts.generated;
  int64_t& n_evaluated = counts.evaluated;
  std::string piece, tail;
  while (!interactive && (opt.n_predict < 0 || n_generated < opt.n_predict)) {
    const auto sample_start = Clock::now();
    const int32_t id = sampler.sample(session.logits());
    sampler.accept(id);
    sample_ms += ms_since(sample_start);
    ++n_generated;
    if (tok.is_eog(id)) {
      std::fprintf(stderr, "\ncria: [end of text]\n");
      break;
    }
    piece = tok.token_to_piece(id, false);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    if (opt.n_predict >= 0 && n_generated == opt.n_predict) break;
    // Without -i, a reverse prompt ends the completion where it appears.
    tail += piece;
    if (ends_with_reverse_prompt(tail, opt.interaction.reverse_prompts)) break;
    if (session.n_past() >= session.n_ctx()) {
      std::fprintf(stderr, "\ncria: the context is full (%d tokens); stopping. Use -c to allow a longer context.\n",
                   session.n_ctx());
      break;
    }
    const auto eval_start = Clock::now();
    if (auto s = session.decode(std::span<const int32_t>(&id, 1)); !s) return fail(s.error().message);
    eval_ms += ms_since(eval_start);
    ++n_evaluated;
  }
  std::fputs("\n", stdout);
  std::fflush(stdout);

  if (logs_disabled()) return 0;
  std::fprintf(stderr, "\n");
  print_timing("load time", load_ms, 0, "");
  print_timing("sampling time", sample_ms, n_generated, "runs");
  print_timing("prompt eval time", prompt_ms, static_cast<int64_t>(tokens.size()), "tokens");
  print_timing("eval time", eval_ms, n_evaluated, "runs");
  print_timing("total time", ms_since(load_start), static_cast<int64_t>(tokens.size()) + n_evaluated, "tokens",
               /*per_token=*/false);
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Complete a prompt (llama.cpp completion flags); `cria -m ...` is the same");
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: the bundled KJV model)");
  cmd->add_option("-p,--prompt", opt->prompt, "Prompt text");
  cmd->add_option("-f,--file", opt->prompt_file, "Read the prompt from a file (bytes as they are)");
  cmd->add_option("-n,--n-predict", opt->n_predict, "Tokens to generate; -1 (or -2) until end of text or a full context");
  cmd->add_flag("-e,--escape", opt->escapes, "Process escapes in the prompt (\\n \\t \\' \\\" \\\\ \\xNN)");
  add_generation_flags(cmd, *opt);
  cmd->add_flag("--ignore-eos", opt->ignore_eos, "Never stop at end-of-generation tokens");
  cmd->add_flag("--no-display-prompt", opt->no_display_prompt, "Do not print the prompt");
  cmd->add_flag("-i,--interactive", opt->interactive, "Interactive: the user continues the text when control returns");
  cmd->add_flag("--interactive-first", opt->interaction.first, "Interactive, waiting for the user's input first");
  cmd->add_option("-r,--reverse-prompt", opt->interaction.reverse_prompts,
                  "Hand control to the user when the output ends with TEXT (without -i: stop there); repeatable")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--in-prefix", opt->interaction.in_prefix, "Text before each user input (-i)");
  cmd->add_option("--in-suffix", opt->interaction.in_suffix, "Text after each user input (-i)");
  cmd->add_flag("--multiline-input", opt->interaction.multiline,
                "Input goes on over lines until one ends in '\\' (without it, a line ending in '\\' goes on); '/' ends it (-mli)");
  cmd->add_option("--keep", opt->interaction.keep, "Prompt tokens kept when the context is full and shifts (-i; -1: all)");
  cmd->add_option_function<std::string>(
         "--color",
         [opt](const std::string& v) { opt->interaction.color = v != "off" && v != "0" && (v != "auto" || isatty(1)); },
         "Colour the prompt and the user's input (on|off|auto; alone: on)")
      ->expected(0, 1);
  cmd->callback([opt, &run_action] { run_action = [opt] { return run(*opt); }; });
}

}  // namespace cria::cli
