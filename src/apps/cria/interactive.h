// `cria run -i` / `--interactive-first`: llama-cli's interactive completion. The model continues the text;
// control passes to the user when a reverse prompt (-r) ends the output, at an end-of-generation token,
// after -n tokens, or on Ctrl-C during generation; the user's line (between --in-prefix and --in-suffix) is
// appended to the text and generation goes on. Ctrl-C while waiting for input, or a second one during
// generation, exits with 130; end of input exits normally. A full context keeps the first --keep tokens of
// the prompt and drops half of the rest (llama-cli's context shift).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace cria::cli {

struct InteractiveOptions {
  bool first = false;                       // --interactive-first: the user types before anything is generated
  std::vector<std::string> reverse_prompts;  // -r, each may be given several times
  std::string in_prefix, in_suffix;
  bool color = false;  // --color: the prompt in yellow, the user's input in bold green, as llama-cli
  int keep = 0;        // --keep: prompt tokens kept when the context shifts (-1: all of the prompt)
  int n_predict = -1;  // tokens per turn before the user gets control (-1: no limit)
  bool escapes = false;
  bool multiline = false;  // --multiline-input (terminal_input.h's read_input)
};

struct GenerationCounts {
  int64_t generated = 0, evaluated = 0;
  double sample_ms = 0, eval_ms = 0;
};

// Whether `text` ends with one of `prompts` (empty ones never match).
bool ends_with_reverse_prompt(const std::string& text, const std::vector<std::string>& prompts);

// Runs the interactive loop after the prompt (`prompt`, already printed and decoded into `session`).
// Returns the exit code: 0 at end of input, 1 on an error (printed).
int run_interactive(model::Session& session, sampling::Sampler& sampler, const tokenizer::Tokenizer& tok,
                    const std::vector<int32_t>& prompt, const InteractiveOptions& options, GenerationCounts& counts);

}  // namespace cria::cli
