#include "grammar/regex_gbnf.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

namespace cria::grammar {

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kMaxRepeat = 1000;  // {m,n} bounds above this are refused (the grammar grows with them)

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

Ranges normalized(Ranges r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [a, b] : r) {
    if (!out.empty() && a <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, b);
    } else {
      out.push_back({a, b});
    }
  }
  return out;
}

Ranges complement(const Ranges& r) {
  Ranges out;
  uint32_t next = 0;
  for (const auto& [a, b] : normalized(r)) {
    if (a > next) out.push_back({next, a - 1});
    next = b + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
}

bool contains(const Ranges& r, uint32_t cp) {
  for (const auto& [a, b] : r) {
    if (a <= cp && cp <= b) return true;
  }
  return false;
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'}, {' ', ' '}, {0xA0, 0xA0}, {0x2028, 0x2029}, {0xFEFF, 0xFEFF}};

std::string hex_escape(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", cp);
  return buf;
}

// The GBNF for one character of the set as it appears inside a JSON string.
std::string json_chars(const Ranges& set) {
  const Ranges s = normalized(set);
  // Written as themselves: everything but '"', '\' and control characters.
  Ranges plain;
  for (auto [a, b] : s) {
    const Ranges cuts = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}};
    uint32_t lo = a;
    for (const auto& [ca, cb] : cuts) {
      if (cb < lo || ca > b) continue;
      if (ca > lo) plain.push_back({lo, ca - 1});
      lo = std::max(lo, cb + 1);
    }
    if (lo <= b) plain.push_back({lo, b});
  }
  std::vector<std::string> alts;
  if (!plain.empty()) {
    std::string cls = "[";
    for (const auto& [a, b] : plain) cls += a == b ? hex_escape(a) : hex_escape(a) + "-" + hex_escape(b);
    alts.push_back(cls + "]");
  }
  const std::pair<uint32_t, const char*> escaped[] = {
      {'"', R"("\\\"")"}, {'\\', R"("\\\\")"}, {'\n', R"("\\n")"}, {'\t', R"("\\t")"}, {'\r', R"("\\r")"}};
  for (const auto& [cp, text] : escaped) {
    if (contains(s, cp)) alts.push_back(text);
  }
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  Result<std::string> run(const std::string& any_char) {
    bool start_anchor = false, end_anchor = false;
    if (!p_.empty() && p_[0] == '^') {
      start_anchor = true;
      pos_ = 1;
    }
    std::string body = alternation(0);
    if (!error_.empty()) return make_error(error_);
    if (pos_ < p_.size() && p_[pos_] == '$' && pos_ + 1 == p_.size()) {
      end_anchor = true;
      ++pos_;
    }
    if (pos_ < p_.size()) return make_error(at("'" + std::string(1, p_[pos_]) + "' is not supported here"));
    std::string out;
    if (!start_anchor) out += any_char + "* ";
    out += body;
    if (!end_anchor) out += " " + any_char + "*";
    return out;
  }

 private:
  std::string at(const std::string& what) const { return "pattern, at character " + std::to_string(pos_ + 1) + ": " + what; }
  std::string fail(const std::string& what) {
    if (error_.empty()) error_ = at(what);
    return "\"\"";
  }

  // Each of these parsing steps leaves in nullable_ whether what it returned can match the empty string.
  std::string alternation(int depth) {
    if (depth > 32) return fail("groups nest more than 32 deep");
    std::vector<std::string> alts{sequence(depth)};
    bool nullable = nullable_;
    while (error_.empty() && pos_ < p_.size() && p_[pos_] == '|') {
      ++pos_;
      alts.push_back(sequence(depth));
      nullable = nullable || nullable_;
    }
    nullable_ = nullable;
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out + ")";
  }

  std::string sequence(int depth) {
    std::string out;
    bool nullable = true;
    while (error_.empty() && pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
      if (p_[pos_] == '$' && pos_ + 1 == p_.size()) break;  // the end anchor
      std::string item = atom(depth);
      item = quantified(std::move(item));
      nullable = nullable && nullable_;
      out += (out.empty() ? "" : " ") + item;
    }
    nullable_ = nullable;
    return out.empty() ? "\"\"" : out;
  }

  std::string quantified(std::string item) {
    if (pos_ >= p_.size()) return item;
    const char c = p_[pos_];
    const bool item_nullable = nullable_;
    const size_t quantifier_at = pos_;
    std::string q;
    bool unbounded = false;  // the grammar repeats the item through a recursive rule
    if (c == '*' || c == '+' || c == '?') {
      q = std::string(1, c);
      unbounded = c != '?';
      nullable_ = c != '+' || item_nullable;
      ++pos_;
    } else if (c == '{') {
      size_t end = p_.find('}', pos_);
      if (end == std::string_view::npos) return fail("'{' without '}'");
      const std::string_view inner = p_.substr(pos_ + 1, end - pos_ - 1);
      uint32_t m = 0, n = 0;
      bool has_n = false, open = false;
      size_t i = 0;
      auto number = [&](uint32_t& v) {
        const size_t start = i;
        while (i < inner.size() && inner[i] >= '0' && inner[i] <= '9' && v <= kMaxRepeat) v = v * 10 + static_cast<uint32_t>(inner[i++] - '0');
        return i > start;
      };
      if (!number(m)) return fail("a repetition needs a count: {m}, {m,} or {m,n}");
      if (i < inner.size() && inner[i] == ',') {
        ++i;
        if (i == inner.size()) {
          open = true;
        } else {
          has_n = number(n);
          if (!has_n) return fail("a repetition needs a count: {m}, {m,} or {m,n}");
        }
      }
      if (i != inner.size()) return fail("a repetition needs a count: {m}, {m,} or {m,n}");
      if (m > kMaxRepeat || n > kMaxRepeat) return fail("repetition counts above " + std::to_string(kMaxRepeat) + " are not supported");
      if (has_n && n < m) return fail("{" + std::to_string(m) + "," + std::to_string(n) + "} is reversed");
      q = "{" + std::to_string(m) + (open ? "," : has_n ? "," + std::to_string(n) : "") + "}";
      unbounded = open;
      nullable_ = m == 0 || item_nullable;
      pos_ = end + 1;
    } else {
      return item;
    }
    // A rule that repeats something that can be empty could begin with itself, which GBNF refuses (as
    // llama.cpp's does): "(a?)*" would have to be written "a*".
    if (unbounded && item_nullable) {
      pos_ = quantifier_at;  // the error points at the quantifier
      return fail("a repeated part that can match nothing ('()*', '(a?)+') is not supported");
    }
    if (pos_ < p_.size() && p_[pos_] == '?') ++pos_;  // lazy: the same strings
    if (pos_ < p_.size() && (p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '{')) return fail("a quantifier after a quantifier");
    return "(" + item + ")" + q;
  }

  // One UTF-8 character of the pattern.
  uint32_t utf8() {
    const auto b = static_cast<unsigned char>(p_[pos_]);
    const int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > p_.size()) {
      fail("invalid UTF-8");
      ++pos_;
      return 0;
    }
    uint32_t cp = len == 1 ? b : b & (0xFF >> (len + 1));
    for (int i = 1; i < len; ++i) {
      const auto c = static_cast<unsigned char>(p_[pos_ + static_cast<size_t>(i)]);
      if ((c & 0xC0) != 0x80) {
        fail("invalid UTF-8");
        ++pos_;
        return 0;
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kSmallest[len] || cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF)) {
      fail("invalid UTF-8");
      ++pos_;
      return 0;
    }
    pos_ += static_cast<size_t>(len);
    return cp;
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      if (pos_ >= p_.size() || !std::isxdigit(static_cast<unsigned char>(p_[pos_]))) {
        fail("\\x needs 2 and \\u 4 hex digits");
        return 0;
      }
      const char c = p_[pos_++];
      v = v * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
  }

  // After a backslash: the set it stands for.
  Ranges escape(bool in_class) {
    if (pos_ >= p_.size()) {
      fail("a pattern cannot end with '\\'");
      return {};
    }
    const char c = p_[pos_++];
    switch (c) {
      case 'd': return kDigit;
      case 'D': return complement(kDigit);
      case 'w': return kWord;
      case 'W': return complement(kWord);
      case 's': return kSpace;
      case 'S': return complement(kSpace);
      case 'n': return {{'\n', '\n'}};
      case 'r': return {{'\r', '\r'}};
      case 't': return {{'\t', '\t'}};
      case 'f': return {{'\f', '\f'}};
      case 'v': return {{'\v', '\v'}};
      case 'x': { const uint32_t v = hex(2); return {{v, v}}; }
      case 'u': { const uint32_t v = hex(4); return {{v, v}}; }
      default: break;
    }
    if (std::string_view("\\/.()[]{}*+?|^$-").find(c) != std::string_view::npos) {
      const auto cp = static_cast<uint32_t>(static_cast<unsigned char>(c));
      return {{cp, cp}};
    }
    pos_ -= 2;  // errors point at the backslash
    if (c == 'b' || c == 'B') fail(in_class ? "'\\b' in a class is not supported" : "word boundaries (\\b, \\B) are not supported");
    else if (c >= '1' && c <= '9') fail("backreferences are not supported");
    else if (c == 'p' || c == 'P') fail("Unicode properties (\\p{...}) are not supported");
    else fail(std::string("the escape '\\") + c + "' is not supported");
    return {};
  }

  Ranges char_class() {
    ++pos_;  // '['
    bool negated = false;
    if (pos_ < p_.size() && p_[pos_] == '^') {
      negated = true;
      ++pos_;
    }
    Ranges set;
    bool first = true;
    while (error_.empty()) {
      if (pos_ >= p_.size()) {
        fail("'[' without ']'");
        break;
      }
      if (p_[pos_] == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      auto one = [&](Ranges& out) -> bool {  // true: a single character (may start a range)
        if (p_[pos_] == '\\') {
          out = escape(true);
          return out.size() == 1 && out[0].first == out[0].second;
        }
        const uint32_t cp = utf8();
        out = {{cp, cp}};
        return true;
      };
      Ranges lo;
      const bool single = one(lo);
      if (single && pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        Ranges hi;
        if (!one(hi) || hi.size() != 1 || hi[0].first != hi[0].second) {
          fail("a range must end with one character");
          break;
        }
        if (hi[0].first < lo[0].first) {
          fail("a range is reversed");
          break;
        }
        set.push_back({lo[0].first, hi[0].first});
      } else {
        set.insert(set.end(), lo.begin(), lo.end());
      }
    }
    return negated ? complement(set) : normalized(set);
  }

  std::string chars(const Ranges& set) {
    std::string g = json_chars(set);
    return g.empty() ? fail("a class that matches no character a JSON string can hold") : g;
  }

  // "(...)" or "(?:...)"; nullable_ as its alternation's.
  std::string group(int depth) {
    ++pos_;
    if (pos_ < p_.size() && p_[pos_] == '?') {
      if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
        pos_ += 2;
      } else {
        return fail("lookaround and named groups are not supported");
      }
    }
    std::string inner = alternation(depth + 1);
    if (pos_ >= p_.size() || p_[pos_] != ')') return fail("'(' without ')'");
    ++pos_;
    return "(" + inner + ")";
  }

  std::string atom(int depth) {
    const char c = p_[pos_];
    if (c == '(') return group(depth);
    nullable_ = false;  // one character
    switch (c) {
      case '[': return chars(char_class());
      case '.': ++pos_; return chars(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
      case '\\': { ++pos_; const Ranges r = escape(false); return error_.empty() ? chars(r) : "\"\""; }
      case '^': case '$': return fail("anchors are supported only at the start (^) and the end ($)");
      case '*': case '+': case '?': case '{': return fail(std::string("'") + c + "' follows nothing to repeat");
      case ']': case '}': return fail(std::string("unmatched '") + c + "'");
      default: { const uint32_t cp = utf8(); return chars({{cp, cp}}); }
    }
  }

  std::string_view p_;
  size_t pos_ = 0;
  std::string error_;
  bool nullable_ = false;
};

}  // namespace

Result<std::string> regex_to_gbnf(std::string_view pattern, const std::string& any_char) {
  return Parser(pattern).run(any_char);
}

}  // namespace cria::grammar
