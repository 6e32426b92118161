// llama.cpp's command-line spellings, turned into what CLI11 can parse. llama.cpp names many flags with
// several letters after one dash (-ngl, -sys, -cnv); CLI11 reads those as grouped short options
// (-ngl = -n gl), so they are rewritten to their long forms before CLI11 sees the arguments.
#pragma once

#include <string>
#include <vector>

namespace cria::cli {

struct FlagSpelling {
  const char* spelling;   // as llama.cpp's users type it: "-ngl"
  const char* long_form;  // the name cria registers: "--n-gpu-layers"
};

// Every multi-letter single-dash spelling of llama.cpp's common/arg.cpp (February 2025's b4748 and
// today's) and of llama-bench / llama-batched-bench.
const std::vector<FlagSpelling>& llama_cpp_spellings();

// Rewrites the spellings in args[from...] to their long forms, underscores in long names to dashes
// (--repeat_penalty, as llama.cpp), and `-fa on|off|auto` (today's
// llama.cpp) to --flash-attn=1 or =0, which both the flag of run/chat/serve and bench's list accept.
void rewrite_llama_cpp_spellings(std::vector<std::string>& args, size_t from);

// How this command line spelled `long_form`: its llama.cpp spelling where rewrite_llama_cpp_spellings
// replaced one ("-ngl"), else the long form itself.
std::string as_typed(const std::string& long_form);

// The spelling a long form is typed as ("-ngl" for "--n-gpu-layers"), or "" when it has none.
std::string short_spelling(const std::string& long_form);

}  // namespace cria::cli
