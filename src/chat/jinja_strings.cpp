#include "chat/jinja_strings.h"

#include <cmath>
#include <cstdio>

#include "chat/jinja_eval.h"

namespace cria::chat::jinja {

namespace {

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || (c >= 0x1c && c <= 0x1f); }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
char to_upper(char c) { return is_lower(c) ? static_cast<char>(c - 32) : c; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c + 32) : c; }

}  // namespace

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  // Strips whole code points: `chars` may hold multi-byte characters.
  const auto pieces = utf8_chars(s);
  const auto cps = chars ? utf8_chars(*chars) : std::vector<std::string>{};
  auto strippable = [&](const std::string& c) {
    if (!chars) return c.size() == 1 && is_py_space(c[0]);
    for (const auto& x : cps) {
      if (x == c) return true;
    }
    return false;
  };
  size_t begin = 0, end = pieces.size();
  if (left) {
    while (begin < end && strippable(pieces[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strippable(pieces[end - 1])) --end;
  }
  std::string out;
  for (size_t k = begin; k < end; ++k) out += pieces[k];
  return out;
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw_error("ValueError", "empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t at = s.find(*sep, start);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  size_t k = 0;
  while (true) {
    while (k < s.size() && is_py_space(s[k])) ++k;
    if (k >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      size_t end = s.size();
      while (end > k && is_py_space(s[end - 1])) --end;
      out.emplace_back(s.substr(k, end - k));
      break;
    }
    const size_t start = k;
    while (k < s.size() && !is_py_space(s[k])) ++k;
    out.emplace_back(s.substr(start, k - start));
  }
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[k];
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
      out.emplace_back(s.substr(start, k - start));
      if (c == '\r' && k + 1 < s.size() && s[k + 1] == '\n') ++k;
      start = k + 1;
    }
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

std::string py_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

std::string py_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

std::string py_title(std::string_view s) {
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    const bool cased = is_lower(c) || is_upper(c);
    if (cased) c = prev_cased ? to_lower(c) : to_upper(c);
    prev_cased = cased;
  }
  return out;
}

std::string jinja_title(std::string_view s) {
  std::string out(s);
  bool word_start = true;
  for (char& c : out) {
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
    if (sep) {
      word_start = true;
      continue;
    }
    c = word_start ? to_upper(c) : to_lower(c);
    word_start = false;
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out = py_lower(s);
  if (!out.empty()) out[0] = to_upper(out[0]);
  return out;
}

std::string py_replace(Evaluator& ev, std::string_view s, std::string_view old, std::string_view with, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old.empty()) {
    // Python inserts `with` between every character and at both ends.
    const auto chars = utf8_chars(s);
    for (size_t k = 0; k <= chars.size(); ++k) {
      if (count < 0 || done < count) {
        out += with;
        ++done;
      }
      if (k < chars.size()) out += chars[k];
      ev.check_string(out.size());
    }
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start));
    out.append(with);
    ev.check_string(out.size());
    start = at + old.size();
    ++done;
  }
  out.append(s.substr(start));
  ev.check_string(out.size());
  return out;
}

std::string percent_format(Evaluator& ev, std::string_view fmt, const Value& args, bool escape) {
  const bool positional = args.is_list() && args.tuple;
  size_t next = 0;
  auto take = [&](const std::string& key) -> Value {
    if (!key.empty()) {
      if (!args.is_dict()) throw_error("TypeError", "format requires a mapping");
      return get_item(args, Value::string(key));
    }
    if (!positional) {
      if (next++ > 0) throw_error("TypeError", "not enough arguments for format string");
      return args;
    }
    if (next >= args.list->size()) throw_error("TypeError", "not enough arguments for format string");
    return (*args.list)[next++];
  };
  std::string out;
  for (size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') {
      out += fmt[k];
      continue;
    }
    if (++k >= fmt.size()) throw_error("ValueError", "incomplete format");
    std::string key;
    if (fmt[k] == '(') {
      const size_t close = fmt.find(')', k);
      if (close == std::string_view::npos) throw_error("ValueError", "incomplete format key");
      key = std::string(fmt.substr(k + 1, close - k - 1));
      k = close + 1;
      if (k >= fmt.size()) throw_error("ValueError", "incomplete format");
    }
    std::string spec;
    while (k < fmt.size() && std::string_view("-+ #0123456789.").find(fmt[k]) != std::string_view::npos) spec += fmt[k++];
    if (k >= fmt.size()) throw_error("ValueError", "incomplete format");
    const char conv = fmt[k];
    if (conv == '%') {
      out += '%';
      continue;
    }
    const Value v = take(key);
    char buf[128];
    switch (conv) {
      case 's': out += escape ? markup_escape(v).str : py_str(v); break;
      case 'r': out += escape ? html_escape(py_repr(v)) : py_repr(v); break;
      case 'd':
      case 'i':
      case 'x':
      case 'f': {
        if (!v.is_number()) throw_error("TypeError", std::string("%") + conv + " format: a real number is required, not " + type_name(v));
        const std::string f = "%" + spec + (conv == 'f' ? "f" : conv == 'x' ? "llx" : "lld");
        if (conv == 'f') {
          std::snprintf(buf, sizeof buf, f.c_str(), v.as_double());
        } else {
          const long long n = v.is_integer() ? v.as_int() : static_cast<long long>(std::trunc(v.as_double()));
          std::snprintf(buf, sizeof buf, f.c_str(), n);
        }
        out += buf;
        break;
      }
      default: throw_error("ValueError", std::string("unsupported format character '") + conv + "'");
    }
    ev.check_string(out.size());
  }
  if (positional && next < args.list->size()) throw_error("TypeError", "not all arguments converted during string formatting");
  return out;
}

std::string brace_format(Evaluator& ev, std::string_view fmt, const CallArgs& args, bool escape) {
  std::string out;
  size_t auto_index = 0;
  for (size_t k = 0; k < fmt.size(); ++k) {
    const char c = fmt[k];
    if (c == '}') {
      if (k + 1 < fmt.size() && fmt[k + 1] == '}') ++k;
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (k + 1 < fmt.size() && fmt[k + 1] == '{') {
      out += '{';
      ++k;
      continue;
    }
    const size_t close = fmt.find('}', k);
    if (close == std::string_view::npos) throw_error("ValueError", "Single '{' encountered in format string");
    std::string field(fmt.substr(k + 1, close - k - 1));
    field = field.substr(0, field.find_first_of(":!"));
    Value v;
    if (field.empty()) {
      if (auto_index >= args.positional.size()) throw_error("IndexError", "Replacement index out of range for positional args tuple");
      v = args.positional[auto_index++];
    } else if (field.find_first_not_of("0123456789") == std::string::npos) {
      const size_t idx = std::stoul(field);
      if (idx >= args.positional.size()) throw_error("IndexError", "Replacement index out of range for positional args tuple");
      v = args.positional[idx];
    } else {
      bool found = false;
      for (const auto& [key, value] : args.keyword) {
        if (key == field) {
          v = value;
          found = true;
        }
      }
      if (!found) throw_error("KeyError", "'" + field + "'");
    }
    out += escape ? markup_escape(v).str : py_str(v);
    ev.check_string(out.size());
    k = close;
  }
  return out;
}

}  // namespace cria::chat::jinja
