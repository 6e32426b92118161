// `cria tokenize -m MODEL (-p TEXT | -f FILE | --stdin) [--ids] [--no-bos] [--no-parse-special]
// [--no-escape] [--show-count]`: the same options and output as llama.cpp's llama-tokenize.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "commands.h"
#include "core/escapes.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace cria::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool from_stdin = false;
  bool ids = false;
  bool no_bos = false;
  bool no_parse_special = false;
  bool no_escape = false;
  bool show_count = false;
  bool log_disable = false;
};


bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

int run_tokenize(const TokenizeOptions& o) {
  std::string text;
  if (!o.file.empty()) {
    if (!read_file(o.file, text)) {
      std::fprintf(stderr, "cria: error: cannot read '%s': %s\n", o.file.c_str(), std::strerror(errno));
      return 1;
    }
  } else if (!o.from_stdin) {
    text = o.no_escape ? o.prompt : process_escapes(o.prompt);
  }

  auto file = gguf::File::open(o.model);
  if (!file) {
    std::fprintf(stderr, "cria: error: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tok = tokenizer::Tokenizer::load(*file);
  if (!tok) {
    std::fprintf(stderr, "cria: error: %s\n", tok.error().message.c_str());
    return 1;
  }
  if (o.from_stdin) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
      std::fprintf(stderr, "cria: error: could not read the standard input\n");
      return 1;
    }
  }

  const bool add_special = tok->add_bos() && !o.no_bos;
  const auto ids = tok->encode(text, add_special, !o.no_parse_special);
  std::string out;
  out.reserve(ids.size() * 16);
  if (o.ids) {
    out += "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out += ", ";
      out += std::to_string(ids[i]);
    }
    out += "]\n";
  } else {
    char num[32];
    for (int32_t id : ids) {
      std::snprintf(num, sizeof num, "%6d -> '", id);
      out += num;
      // llama-tokenize prints the piece as a C string, so it ends at the first NUL byte.
      const std::string piece = tok->token_to_piece(id, true);
      out.append(piece.c_str());
      out += "'\n";
    }
  }
  if (o.show_count) out += "Total number of tokens: " + std::to_string(ids.size()) + "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the tokens of a text, as llama-tokenize does");
  cmd->add_option("-m,--model", opt->model, "GGUF file with a tokenizer (a vocab-only file will do)")
      ->required();
  auto* p =
      cmd->add_option("-p,--prompt", opt->prompt, "Text to tokenize (escapes such as \\n are processed)");
  auto* f = cmd->add_option("-f,--file", opt->file, "Read the text from a file, bytes as they are");
  auto* s = cmd->add_flag("--stdin", opt->from_stdin, "Read the text from standard input, bytes as they are");
  p->excludes(f)->excludes(s);
  f->excludes(s);
  cmd->add_flag("--ids", opt->ids, "Print only the ids, as [1, 2, 3]");
  cmd->add_flag("--no-bos", opt->no_bos, "Do not add BOS (or other special tokens the model adds)");
  cmd->add_flag("--no-parse-special", opt->no_parse_special,
                "Do not turn control-token texts into their ids");
  cmd->add_flag("--no-escape", opt->no_escape, "Do not process escapes in -p");
  cmd->add_flag("--show-count", opt->show_count, "Also print the number of tokens");
  cmd->add_flag("--log-disable", opt->log_disable, "Accepted for compatibility (cria logs nothing here)");
  cmd->callback([opt, p, f, s, &run] {
    run = [opt, p, f, s]() -> int {
      if (p->count() + f->count() + s->count() == 0) {
        std::fprintf(stderr, "cria: error: give the text with one of -p, -f or --stdin\n");
        return 1;
      }
      return run_tokenize(*opt);
    };
  });
}

}  // namespace cria::cli
