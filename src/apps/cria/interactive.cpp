#include "interactive.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "core/escapes.h"
#include "terminal_input.h"

namespace cria::cli {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// llama-cli's colours: the user's input in bold green, everything else as the terminal has it.
constexpr const char* kUserColor = "\x1b[1;32m";
constexpr const char* kResetColor = "\x1b[0m";

// The generated text kept for reverse-prompt matching: enough for any reverse prompt.
constexpr size_t kTailBytes = 1024;

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

class InteractiveLoop {
 public:
  InteractiveLoop(model::Session& session, sampling::Sampler& sampler, const tokenizer::Tokenizer& tok,
                  const std::vector<int32_t>& prompt, const InteractiveOptions& options, GenerationCounts& counts)
      : session_(session), sampler_(sampler), tok_(tok), opt_(options), counts_(counts) {
    // llama-cli keeps the BOS and --keep prompt tokens after it; -1 or more than the prompt keeps it all.
    const int bos = !prompt.empty() && prompt[0] == tok.bos() ? 1 : 0;
    const int size = static_cast<int>(prompt.size());
    n_keep_ = options.keep < 0 || options.keep + bos > size ? size : options.keep + bos;
  }

  int run() {
    const bool terminal = isatty(STDIN_FILENO) != 0;
    catch_interrupts(terminal);
    bool interacting = opt_.first;
    int n_remain = opt_.n_predict;
    generating(!interacting);
    while (true) {
      if (interacting) {
        generating(false);
        if (opt_.color) print(kUserColor);
        auto line = read_input(terminal, opt_.in_prefix, opt_.multiline);
        if (opt_.color) print(kResetColor);
        if (!line) return 0;
        if (line->size() > 1) {  // a lone newline appends nothing, as in llama-cli
          if (auto s = append_user_text(*line); !s) {
            std::fprintf(stderr, "cria: error: %s\n", s.error().message.c_str());
            continue;
          }
        }
        interacting = false;
        n_remain = opt_.n_predict;
        generating(true);
        continue;
      }
      if (stop_requested().load()) {
        print("\n");
        interacting = true;
        continue;
      }
      auto step = generate_one();
      if (!step) {
        std::fprintf(stderr, "cria: error: %s\n", step.error().message.c_str());
        return 1;
      }
      if (*step == Step::kEndOfText) {
        // llama-cli writes the first reverse prompt in place of the end of text, so the user answers it.
        if (!opt_.reverse_prompts.empty()) {
          print(opt_.reverse_prompts[0]);
          if (auto s = append(tok_.encode(opt_.reverse_prompts[0], false, true)); !s) return fail_with(s.error());
        }
        interacting = true;
      } else if (ends_with_reverse_prompt(tail_, opt_.reverse_prompts)) {
        interacting = true;
      } else if (n_remain > 0 && --n_remain == 0) {
        interacting = true;
      }
    }
  }

 private:
  enum class Step { kToken, kEndOfText };

  int fail_with(const Error& e) {
    std::fprintf(stderr, "cria: error: %s\n", e.message.c_str());
    return 1;
  }

  Result<Step> generate_one() {
    const auto sample_start = Clock::now();
    const int32_t id = sampler_.sample(session_.logits());
    sampler_.accept(id);
    counts_.sample_ms += ms_since(sample_start);
    ++counts_.generated;
    if (tok_.is_eog(id)) return Step::kEndOfText;
    const std::string piece = tok_.token_to_piece(id, false);
    print(piece);
    tail_ += piece;
    if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
    const auto eval_start = Clock::now();
    if (auto s = decode({id}); !s) return s.error();
    counts_.eval_ms += ms_since(eval_start);
    ++counts_.evaluated;
    return Step::kToken;
  }

  // The user's input as llama-cli appends it: --in-prefix, the input (with its newlines), --in-suffix.
  Status append_user_text(const std::string& line) {
    const std::string text = opt_.escapes ? process_escapes(line) : line;
    std::vector<int32_t> ids = tok_.encode(opt_.in_prefix, false, true);
    for (const std::string* part : {&text, &opt_.in_suffix}) {
      const auto more = tok_.encode(*part, false, true);
      ids.insert(ids.end(), more.begin(), more.end());
    }
    if (!opt_.in_suffix.empty()) print(opt_.in_suffix);
    tail_.clear();
    return append(ids);
  }

  Status append(const std::vector<int32_t>& ids) {
    if (ids.empty()) return Ok{};
    if (static_cast<int>(ids.size()) > session_.n_ctx() - n_keep_ - 1) {
      return make_error("the input is " + std::to_string(ids.size()) + " tokens, more than the context of " +
                        std::to_string(session_.n_ctx()) + " (-c) holds beside the " + std::to_string(n_keep_) +
                        " kept tokens (--keep)");
    }
    if (auto s = decode(ids); !s) return s;
    for (int32_t id : ids) sampler_.accept(id);
    return Ok{};
  }

  // Decodes after making room: while the context cannot take the tokens, keep the first n_keep_ and drop
  // half of the rest, moving what follows down (the cache re-rotates its keys).
  Status decode(const std::vector<int32_t>& ids) {
    const int n = static_cast<int>(ids.size());
    while (session_.n_past() + n > session_.n_ctx()) {
      const int n_past = session_.n_past();
      const int n_discard = (n_past - n_keep_) / 2;
      if (n_discard <= 0) {
        return make_error("the context of " + std::to_string(session_.n_ctx()) + " tokens (-c) is full and --keep keeps " +
                          std::to_string(n_keep_) + " of them");
      }
      auto& cache = session_.cache();
      if (auto s = cache.seq_rm(0, n_keep_, n_keep_ + n_discard); !s) return s;
      if (auto s = cache.seq_add(0, n_keep_ + n_discard, n_past, -n_discard); !s) return s;
    }
    return session_.decode(ids);
  }

  model::Session& session_;
  sampling::Sampler& sampler_;
  const tokenizer::Tokenizer& tok_;
  const InteractiveOptions& opt_;
  GenerationCounts& counts_;
  int n_keep_ = 0;
  std::string tail_;
};

}  // namespace

bool ends_with_reverse_prompt(const std::string& text, const std::vector<std::string>& prompts) {
  for (const std::string& p : prompts) {
    if (!p.empty() && text.size() >= p.size() && text.compare(text.size() - p.size(), p.size(), p) == 0) return true;
  }
  return false;
}

int run_interactive(model::Session& session, sampling::Sampler& sampler, const tokenizer::Tokenizer& tok,
                    const std::vector<int32_t>& prompt, const InteractiveOptions& options, GenerationCounts& counts) {
  return InteractiveLoop(session, sampler, tok, prompt, options, counts).run();
}

}  // namespace cria::cli
