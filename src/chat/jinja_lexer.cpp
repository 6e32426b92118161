#include "chat/jinja_lexer.h"

#include <cstdint>

#include "chat/jinja_value.h"
#include "tokenizer/unicode.h"

namespace cria::chat::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Jinja2 splits the source on \r\n, \r and \n, drops a final empty line (one trailing newline) and joins
// with \n, so template text never carries \r into the output.
std::string normalize_newlines(std::string_view src, bool keep_trailing_newline) {
  std::string out;
  out.reserve(src.size());
  for (size_t k = 0; k < src.size(); ++k) {
    if (src[k] == '\r') {
      out += '\n';
      if (k + 1 < src.size() && src[k + 1] == '\n') ++k;
    } else {
      out += src[k];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

[[noreturn]] void syntax_error(int line, const std::string& what) {
  throw_error("TemplateSyntaxError", what + " (line " + std::to_string(line) + ")");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python string-literal escapes; an unknown escape keeps its backslash, as Python does.
std::string unescape(std::string_view body) {
  std::string out;
  for (size_t k = 0; k < body.size(); ++k) {
    if (body[k] != '\\' || k + 1 >= body.size()) {
      out += body[k];
      continue;
    }
    const char c = body[++k];
    switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': out += '\0'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case '\n': break;  // line continuation
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        bool ok = k + digits < body.size();
        for (size_t d = 1; ok && d <= digits; ++d) {
          const int h = k + d < body.size() ? hex_value(body[k + d]) : -1;
          if (h < 0) ok = false;
          cp = cp * 16 + static_cast<uint32_t>(h < 0 ? 0 : h);
        }
        if (!ok || cp > 0x10FFFF) {
          out += '\\';
          out += c;
          break;
        }
        tokenizer::append_utf8(out, cp);
        k += digits;
        break;
      }
      default:
        out += '\\';
        out += c;
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& options) : src_(std::move(src)), opt_(options) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, (tag == std::string::npos ? src_.size() : tag) - pos_);
      if (tag == std::string::npos) {
        emit(TokenType::Data, text);
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        size_t end = text.size();
        while (end > 0 && is_space(text[end - 1])) --end;
        text.resize(end);
      } else if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size()) {
          bool blank = true;
          for (size_t k = l_pos; k < text.size(); ++k) blank = blank && is_space(text[k]);
          if (blank) text.resize(l_pos);
        }
      }
      emit(TokenType::Data, text);
      pos_ = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      count_lines(tag, pos_);
      if (kind == '#') {
        line_starting = skip_comment();
      } else if (kind == '%' && try_raw()) {
        line_starting = last_consumed_newline_;
      } else {
        line_starting = tag_body(kind == '%');
      }
    }
    tokens_.push_back({TokenType::End, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t k = from; k + 1 < src_.size(); ++k) {
      if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
    }
    return std::string::npos;
  }

  void emit(TokenType type, std::string text) {
    if (type == TokenType::Data && text.empty()) return;
    tokens_.push_back({type, std::move(text), line_});
  }

  void count_lines(size_t from, size_t to) {
    for (size_t k = from; k < to && k < src_.size(); ++k) line_ += src_[k] == '\n';
  }

  // After a closing delimiter: `-` eats all following whitespace; a plain block/comment end eats one
  // newline under trim_blocks. Returns whether what was consumed ends with a newline (Jinja2's
  // "line starting" state, which lets lstrip_blocks apply to a tag with no newline before it).
  bool after_close(char sign, bool is_block_or_comment) {
    bool ends_newline = false;
    if (sign == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        ends_newline = src_[pos_] == '\n';
        line_ += ends_newline;
        ++pos_;
      }
    } else if (sign != '+' && is_block_or_comment && opt_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      ++line_;
      ends_newline = true;
    }
    return ends_newline;
  }

  bool skip_comment() {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) syntax_error(line_, "unclosed comment");
    const char sign = end > pos_ ? src_[end - 1] : '\0';
    count_lines(pos_, end + 2);
    pos_ = end + 2;
    return after_close(sign, true);
  }

  // {% raw %}...{% endraw %}: the text between is data, tags and all.
  bool try_raw() {
    size_t p = pos_;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0 || (p + 3 < src_.size() && is_name_char(src_[p + 3]))) return false;
    p += 3;
    while (p < src_.size() && is_space(src_[p])) ++p;
    char sign = '\0';
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return false;
    count_lines(pos_, p + 2);
    pos_ = p + 2;
    after_close(sign, true);
    for (size_t k = pos_; (k = src_.find("{%", k)) != std::string::npos; k += 2) {
      size_t q = k + 2;
      const char open_sign = q < src_.size() ? src_[q] : '\0';
      if (open_sign == '-' || open_sign == '+') ++q;
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < src_.size() && is_space(src_[q])) ++q;
      char close_sign = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) close_sign = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) continue;
      std::string body = src_.substr(pos_, k - pos_);
      if (open_sign == '-') {
        while (!body.empty() && is_space(body.back())) body.pop_back();
      }
      emit(TokenType::Data, body);
      count_lines(pos_, q + 2);
      pos_ = q + 2;
      last_consumed_newline_ = after_close(close_sign, true);
      return true;
    }
    syntax_error(line_, "missing {% endraw %}");
  }

  // The expression tokens of a {{ }} or {% %} tag, through its closing delimiter.
  bool tag_body(bool block) {
    tokens_.push_back({block ? TokenType::BlockBegin : TokenType::VarBegin, "", line_});
    const char close = block ? '%' : '}';
    int depth = 0;  // open brackets: `}}` inside a dict literal does not close the tag
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= src_.size()) syntax_error(line_, block ? "unclosed block tag {% ... %}" : "unclosed {{ ... }}");
      if (depth == 0) {
        char sign = '\0';
        size_t p = pos_;
        if (src_[p] == '-' || src_[p] == '+') sign = src_[p++];
        if (src_.compare(p, 2, std::string{close, '}'}) == 0 && (sign != '+' || block)) {
          pos_ = p + 2;
          tokens_.push_back({block ? TokenType::BlockEnd : TokenType::VarEnd, "", line_});
          return after_close(sign, block);
        }
      }
      const char c = src_[pos_];
      if (is_name_start(c)) {
        size_t end = pos_;
        while (end < src_.size() && is_name_char(src_[end])) ++end;
        tokens_.push_back({TokenType::Name, src_.substr(pos_, end - pos_), line_});
        pos_ = end;
      } else if (is_digit(c)) {
        lex_number();
      } else if (c == '\'' || c == '"') {
        lex_string(c);
      } else {
        static const char* kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* two : kTwoChar) {
          if (src_.compare(pos_, 2, two) == 0) op = two;
        }
        if (op.size() == 1 && std::string_view("+-*/%~<>=()[]{},.:|;!").find(c) == std::string_view::npos) {
          syntax_error(line_, std::string("unexpected character '") + c + "' in a tag");
        }
        if (op == "!") syntax_error(line_, "unexpected character '!' in a tag");
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        tokens_.push_back({TokenType::Operator, op, line_});
        pos_ += op.size();
      }
    }
  }

  void lex_number() {
    size_t end = pos_;
    bool is_float = false;
    while (end < src_.size() && (is_digit(src_[end]) || src_[end] == '_')) ++end;
    if (end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
      is_float = true;
      ++end;
      while (end < src_.size() && (is_digit(src_[end]) || src_[end] == '_')) ++end;
    }
    if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t e = end + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && is_digit(src_[e])) {
        is_float = true;
        end = e;
        while (end < src_.size() && is_digit(src_[end])) ++end;
      }
    }
    std::string text;
    for (size_t k = pos_; k < end; ++k) {
      if (src_[k] != '_') text += src_[k];
    }
    tokens_.push_back({is_float ? TokenType::Float : TokenType::Integer, text, line_});
    pos_ = end;
  }

  void lex_string(char quote) {
    const int start_line = line_;
    size_t k = pos_ + 1;
    while (k < src_.size() && src_[k] != quote) {
      if (src_[k] == '\\') ++k;
      if (k < src_.size() && src_[k] == '\n') ++line_;
      ++k;
    }
    if (k >= src_.size()) syntax_error(start_line, "unterminated string literal");
    tokens_.push_back({TokenType::String, unescape(std::string_view(src_).substr(pos_ + 1, k - pos_ - 1)), start_line});
    pos_ = k + 1;
  }

  std::string src_;
  LexOptions opt_;
  size_t pos_ = 0;
  int line_ = 1;
  bool last_consumed_newline_ = false;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const LexOptions& options) {
  return Lexer(normalize_newlines(source, options.keep_trailing_newline), options).run();
}

}  // namespace cria::chat::jinja
