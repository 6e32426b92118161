// The Jinja lexer: template text to a flat token list. It applies Jinja2's whitespace rules exactly,
// because a chat template's output is compared byte for byte: newlines normalized to \n, one trailing
// newline dropped, `-` on a tag strips all whitespace on that side, trim_blocks drops the first newline
// after a block or comment tag, lstrip_blocks drops spaces and tabs before a block or comment tag that
// starts its line, and `+` on a tag turns lstrip_blocks/trim_blocks off for that side.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cria::chat::jinja {

struct LexOptions {
  bool trim_blocks = true;   // Hugging Face's settings
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

enum class TokenType { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End };

struct Token {
  TokenType type;
  std::string text;  // data, name, operator, or the unescaped string literal / number text
  int line = 1;
};

// Throws TemplateError("TemplateSyntaxError", ...) on an unterminated tag, string or comment.
std::vector<Token> lex(std::string_view source, const LexOptions& options);

}  // namespace cria::chat::jinja
