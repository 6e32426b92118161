#include "flag_check.h"

#include <algorithm>
#include <cctype>

#include "flag_spellings.h"

namespace cria::cli {

namespace {

bool is_number(const std::string& s) {
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

// "-x", "--long", "--long=value": not a negative number (a value) nor "-" (standard input).
bool looks_like_flag(const std::string& s) { return s.size() > 1 && s[0] == '-' && !is_number(s); }

bool letters_only(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalpha(c) || c == '-'; });
}

bool takes_value(const CLI::Option& opt) { return opt.get_items_expected_max() > 0; }
bool needs_value(const CLI::Option& opt) { return opt.get_items_expected_min() > 0; }

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string first_unknown_flag(const CLI::App& cmd, const std::vector<std::string>& args, size_t from) {
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;  // the rest are positional
    if (!looks_like_flag(arg)) continue;
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const bool inline_value = eq != std::string::npos;
    const bool is_long = name.rfind("--", 0) == 0;
    // llama.cpp never groups short options: "-xyz" is one (unknown) flag, while "-n4" is -n with 4.
    if (!is_long && name.size() > 2 && letters_only(name.substr(2))) return name;
    const CLI::Option* opt = cmd.get_option_no_throw(is_long ? name : name.substr(0, 2));
    if (opt == nullptr) return name;
    const bool attached = inline_value || (!is_long && name.size() > 2);
    if (attached || !takes_value(*opt) || i + 1 >= args.size()) continue;
    // A value follows unless the option's value is optional and the next word is a flag.
    if (needs_value(*opt) || !looks_like_flag(args[i + 1])) ++i;
  }
  return "";
}

std::string closest(const std::string& typed, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& n : names) {
    const size_t d = edit_distance(typed, n);
    if (d < best_distance) best = n, best_distance = d;
  }
  return best;
}

std::string closest_flag(const CLI::App& cmd, const std::string& typed) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const auto& l : opt->get_lnames()) {
      names.push_back("--" + l);
      if (const std::string s = short_spelling("--" + l); !s.empty()) names.push_back(s);
    }
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  }
  return closest(typed, names);
}

}  // namespace cria::cli
