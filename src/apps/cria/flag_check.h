// Finding a flag that a subcommand does not know before CLI11 parses, so the error names the flag as
// typed and suggests the closest one the subcommand has (CLI11 would split `-xyz` into -x -y -z, or
// read `-nxyz` as -n with the value "xyz", and say nothing of what was meant).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace cria::cli {

// The first of args[from...] that names no option of `cmd` (after rewrite_llama_cpp_spellings), or "".
std::string first_unknown_flag(const CLI::App& cmd, const std::vector<std::string>& args, size_t from);

// Of `names`, the one closest to `typed` by edit distance (the first of equals; "" when there are none).
std::string closest(const std::string& typed, const std::vector<std::string>& names);

// The option of `cmd` whose name (long, short or llama.cpp spelling) is closest to `typed` by edit distance.
std::string closest_flag(const CLI::App& cmd, const std::string& typed);

}  // namespace cria::cli
