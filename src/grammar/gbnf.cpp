#include "grammar/gbnf.h"

#include <functional>
#include <limits>
#include <map>

namespace cria::grammar {

bool CharSet::contains(uint32_t cp) const {
  for (const auto& [lo, hi] : ranges) {
    if (lo <= cp && cp <= hi) return !negated;
  }
  return negated;
}

int Grammar::find(std::string_view name) const {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

constexpr int kMaxRepeat = 10000;  // {m,n} bounds above this are refused (the rules grow with them)
constexpr int kMaxGroupDepth = 256;   // ( ) nested deeper is refused (the parser recurses per group)
constexpr int kMaxStartDepth = 2000;  // rules that start with a rule that starts with ... (the matcher recurses)
constexpr uint32_t kNoLimit = std::numeric_limits<uint32_t>::max();

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<Grammar> parse() {
    skip_space(true);
    while (pos_ < s_.size() && error_.empty()) {
      parse_rule();
      skip_space(true);
    }
    if (!error_.empty()) return make_error(error_);
    for (size_t r = 0; r < g_.rules.size(); ++r) {
      if (!defined_[r]) {
        return make_error(where(first_use_[r]) + ": rule '" + g_.rules[r].name + "' is used but never defined");
      }
    }
    g_.root = g_.find("root");
    if (g_.root < 0) return make_error("the grammar has no 'root' rule");
    if (auto s = check_left_recursion(); !s) return s.error();
    return std::move(g_);
  }

 private:
  // "line L, column C" of a byte offset (both from 1; columns count bytes).
  std::string where(size_t at) const {
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(at - line_start + 1);
  }
  bool fail(const std::string& message) {
    if (error_.empty()) error_ = where(pos_) + ": " + message;
    return false;
  }
  bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

  // Spaces, tabs and comments; newlines too where the grammar allows them.
  void skip_space(bool newlines) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') ++pos_;
      } else if (newlines && (c == '\n' || c == '\r')) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  int rule_id(const std::string& name) {
    auto [it, added] = ids_.try_emplace(name, static_cast<int>(g_.rules.size()));
    if (added) {
      g_.rules.push_back({name, {}});
      defined_.push_back(false);
      first_use_.push_back(pos_);
    }
    return it->second;
  }
  // A rule the parser makes for a group or a repetition, named after the rule it is in.
  int generated_rule(const std::string& base, std::vector<std::vector<Element>> alternatives) {
    std::string name;
    do {
      name = base + "_" + std::to_string(++generated_);
    } while (ids_.count(name) != 0);
    const int id = rule_id(name);
    g_.rules[static_cast<size_t>(id)].alternatives = std::move(alternatives);
    defined_[static_cast<size_t>(id)] = true;
    return id;
  }

  void parse_rule() {
    const size_t start = pos_;
    std::string name;
    while (pos_ < s_.size() && is_word_char(s_[pos_])) name += s_[pos_++];
    if (name.empty()) {
      fail("expected a rule name");
      return;
    }
    skip_space(false);
    if (s_.substr(pos_, 3) != "::=") {
      fail("expected '::=' after '" + name + "'");
      return;
    }
    pos_ += 3;
    skip_space(true);
    const int id = rule_id(name);
    if (defined_[static_cast<size_t>(id)]) {
      pos_ = start;
      fail("rule '" + name + "' is defined twice");
      return;
    }
    defined_[static_cast<size_t>(id)] = true;
    auto alternatives = parse_alternatives(name, false);
    g_.rules[static_cast<size_t>(id)].alternatives = std::move(alternatives);
    if (!error_.empty()) return;
    skip_space(false);
    if (pos_ < s_.size() && s_[pos_] != '\n' && s_[pos_] != '\r') {
      fail("expected '|', an element or the end of the line in rule '" + name + "'");
    }
  }

  std::vector<std::vector<Element>> parse_alternatives(const std::string& rule, bool nested) {
    std::vector<std::vector<Element>> alternatives;
    while (error_.empty()) {
      alternatives.push_back(parse_sequence(rule, nested));
      if (!at('|')) break;
      ++pos_;
      skip_space(true);
    }
    return alternatives;
  }

  std::vector<Element> parse_sequence(const std::string& rule, bool nested) {
    std::vector<Element> seq;
    size_t item_start = 0;  // where the last item's elements start (a literal is several)
    bool have_item = false;
    while (pos_ < s_.size() && error_.empty()) {
      const char c = s_[pos_];
      const size_t before = seq.size();
      if (c == '"') {
        ++pos_;
        while (!at('"')) {
          uint32_t cp = 0;
          if (!parse_char(cp, "string")) return seq;
          seq.push_back({-1, CharSet{{{cp, cp}}, false}});
        }
        ++pos_;
      } else if (c == '[') {
        ++pos_;
        CharSet set;
        if (at('^')) {
          set.negated = true;
          ++pos_;
        }
        while (!at(']')) {
          uint32_t lo = 0, hi = 0;
          if (!parse_char(lo, "character class")) return seq;
          hi = lo;
          if (at('-') && pos_ + 1 < s_.size() && s_[pos_ + 1] != ']') {
            ++pos_;
            if (!parse_char(hi, "character class")) return seq;
            if (hi < lo) {
              fail("the range in the character class ends below its start");
              return seq;
            }
          }
          set.ranges.emplace_back(lo, hi);
        }
        ++pos_;
        seq.push_back({-1, std::move(set)});
      } else if (c == '.') {
        ++pos_;
        seq.push_back({-1, CharSet{{}, true}});
      } else if (is_word_char(c)) {
        std::string name;
        const size_t start = pos_;
        while (pos_ < s_.size() && is_word_char(s_[pos_])) name += s_[pos_++];
        const size_t saved = pos_;
        pos_ = start;  // a new rule's first use is where its name starts
        const int id = rule_id(name);
        pos_ = saved;
        seq.push_back({id, {}});
      } else if (c == '(') {
        if (depth_ == kMaxGroupDepth) {
          fail("groups nest more than " + std::to_string(kMaxGroupDepth) + " deep");
          return seq;
        }
        ++pos_;
        skip_space(true);
        ++depth_;
        auto alternatives = parse_alternatives(rule, true);
        --depth_;
        if (!error_.empty()) return seq;
        if (!at(')')) {
          fail("expected ')'");
          return seq;
        }
        ++pos_;
        seq.push_back({generated_rule(rule, std::move(alternatives)), {}});
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (!have_item) {
          fail(std::string("'") + c + "' follows nothing to repeat");
          return seq;
        }
        uint32_t min = 0, max = kNoLimit;
        if (c == '{') {
          if (!parse_bounds(min, max)) return seq;
        } else {
          ++pos_;
          if (c == '+') min = 1;
          if (c == '?') max = 1;
        }
        std::vector<Element> item(seq.begin() + static_cast<std::ptrdiff_t>(item_start), seq.end());
        seq.resize(item_start);
        repeat(rule, std::move(item), min, max, seq);
        have_item = false;  // "a**" repeats nothing new
        skip_space(nested);
        continue;
      } else {
        break;
      }
      item_start = before;
      have_item = true;
      skip_space(nested);
    }
    return seq;
  }

  // {m}, {m,}, {m,n}
  bool parse_bounds(uint32_t& min, uint32_t& max) {
    ++pos_;
    skip_space(true);
    auto number = [&](uint32_t& out) {
      const size_t start = pos_;
      uint64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9' && v <= kMaxRepeat) v = v * 10 + static_cast<uint64_t>(s_[pos_++] - '0');
      if (pos_ == start) return fail("expected a number in '{...}'");
      if (v > kMaxRepeat) return fail("repetition bound above " + std::to_string(kMaxRepeat));
      out = static_cast<uint32_t>(v);
      return true;
    };
    if (!number(min)) return false;
    skip_space(true);
    max = min;
    if (at(',')) {
      ++pos_;
      skip_space(true);
      max = kNoLimit;
      if (!at('}') && !number(max)) return false;
      skip_space(true);
    }
    if (!at('}')) return fail("expected '}'");
    ++pos_;
    if (max < min) return fail("repetition bounds {" + std::to_string(min) + "," + std::to_string(max) + "} are reversed");
    return true;
  }

  // Appends `item` repeated min to max times (max kNoLimit: any number) to seq.
  void repeat(const std::string& rule, std::vector<Element> item, uint32_t min, uint32_t max, std::vector<Element>& seq) {
    // A single rule reference repeats as itself; anything else becomes a rule of its own first.
    const Element one = item.size() == 1 ? item[0] : Element{generated_rule(rule, {item}), {}};
    for (uint32_t i = 0; i < min; ++i) seq.push_back(one);
    if (max == kNoLimit) {
      // star ::= one star | (empty)
      const int star = generated_rule(rule, {});
      g_.rules[static_cast<size_t>(star)].alternatives = {{one, Element{star, {}}}, {}};
      seq.push_back({star, {}});
      return;
    }
    // Up to max - min more, nested: opt_k ::= one opt_(k+1) | (empty); the last is one | (empty).
    int next = -1;
    for (uint32_t k = min; k < max; ++k) {
      std::vector<Element> first{one};
      if (next >= 0) first.push_back({next, {}});
      next = generated_rule(rule, {first, {}});
    }
    if (next >= 0) seq.push_back({next, {}});
  }

  // One character of a string or class: an escape or a UTF-8 sequence.
  bool parse_char(uint32_t& cp, const char* in) {
    if (pos_ >= s_.size()) return fail(std::string("unterminated ") + in);
    const auto byte = static_cast<unsigned char>(s_[pos_]);
    if (byte == '\\') {
      ++pos_;
      if (pos_ >= s_.size()) return fail(std::string("unterminated ") + in);
      const char e = s_[pos_++];
      switch (e) {
        case 'n': cp = '\n'; return true;
        case 'r': cp = '\r'; return true;
        case 't': cp = '\t'; return true;
        case '\\': case '"': case '[': case ']': cp = static_cast<uint32_t>(e); return true;
        case 'x': return hex(2, cp);
        case 'u': return hex(4, cp);
        case 'U': return hex(8, cp);
        default:
          pos_ -= 2;  // the error points at the backslash
          return fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    if (byte == '\n' || byte == '\r') return fail(std::string("newline in a ") + in);
    int len = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || pos_ + static_cast<size_t>(len) > s_.size()) return fail("invalid UTF-8");
    cp = len == 1 ? byte : byte & (0xFF >> (len + 1));
    for (int i = 1; i < len; ++i) {
      const auto cont = static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(i)]);
      if ((cont & 0xC0) != 0x80) return fail("invalid UTF-8");
      cp = (cp << 6) | (cont & 0x3F);
    }
    pos_ += static_cast<size_t>(len);
    return true;
  }

  bool hex(int digits, uint32_t& cp) {
    cp = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      const char c = pos_ < s_.size() ? s_[pos_] : '\0';
      const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) return fail("expected " + std::to_string(digits) + " hexadecimal digits");
      cp = cp * 16 + static_cast<uint32_t>(v);
    }
    if (cp > 0x10FFFF) return fail("code point above U+10FFFF");
    return true;
  }

  // A pushdown matcher expands a rule's first elements before consuming anything: a rule that can reach
  // itself there without consuming a character would expand forever.
  Status check_left_recursion() const {
    const size_t n = g_.rules.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const auto& alt : g_.rules[r].alternatives) {
          bool all = true;
          for (const Element& e : alt) all = all && e.rule >= 0 && nullable[static_cast<size_t>(e.rule)];
          if (all) {
            nullable[r] = changed = true;
            break;
          }
        }
      }
    }
    // 0 unvisited, 1 on the current path, 2 done.
    std::vector<int> state(n, 0);
    std::string cycle;
    bool too_deep = false;
    std::function<bool(size_t, int)> visit = [&](size_t r, int depth) {
      if (depth > kMaxStartDepth) {
        too_deep = true;
        cycle = g_.rules[r].name;
        return false;
      }
      state[r] = 1;
      for (const auto& alt : g_.rules[r].alternatives) {
        for (const Element& e : alt) {
          if (e.rule < 0) break;
          const auto next = static_cast<size_t>(e.rule);
          if (state[next] == 1) {
            cycle = g_.rules[next].name;
            return false;
          }
          if (state[next] == 0 && !visit(next, depth + 1)) return false;
          if (!nullable[next]) break;
        }
      }
      state[r] = 2;
      return true;
    };
    for (size_t r = 0; r < n; ++r) {
      if (state[r] == 0 && !visit(r, 0)) {
        if (too_deep) {
          return make_error("rule '" + cycle + "' is reached through more than " + std::to_string(kMaxStartDepth) +
                            " rules that each begin with the next");
        }
        return make_error("rule '" + cycle + "' is left-recursive (it can begin with itself)");
      }
    }
    return Ok{};
  }

  std::string_view s_;
  size_t pos_ = 0;
  Grammar g_;
  std::map<std::string, int, std::less<>> ids_;
  std::vector<bool> defined_;
  std::vector<size_t> first_use_;
  int generated_ = 0;
  int depth_ = 0;  // groups open
  std::string error_;
};

}  // namespace

Result<Grammar> parse_gbnf(std::string_view text) { return Parser(text).parse(); }

}  // namespace cria::grammar
