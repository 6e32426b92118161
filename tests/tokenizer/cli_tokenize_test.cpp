// `cria tokenize`: llama-tokenize's options and output, on the vocab-only fixtures and the KJV model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/cli_support.h"
#include "test_support.h"

namespace cria::test {
namespace {

std::string vocab(const std::string& name) {
  return (shared_dir() / "fixtures" / "vocab" / ("ggml-vocab-" + name + ".gguf")).string();
}

TEST(CliTokenize, IdsWithAndWithoutBos) {
  const std::string m = vocab("llama-spm");
  CRIA_REQUIRE_FIXTURE(m);
  auto r = run_cria("tokenize -m '" + m + "' -p 'Hello world' --ids");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[1, 15043, 3186]\n");
  r = run_cria("tokenize -m '" + m + "' -p 'Hello world' --ids --no-bos");
  EXPECT_EQ(r.out, "[15043, 3186]\n");
  r = run_cria("tokenize -m '" + m + "' -p '' --ids --no-bos");
  EXPECT_EQ(r.out, "[]\n");
}

TEST(CliTokenize, PiecesOnePerLine) {
  const std::string m = vocab("llama-spm");
  CRIA_REQUIRE_FIXTURE(m);
  const auto r = run_cria("tokenize -m '" + m + "' -p 'Hello world' --show-count");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "     1 -> '<s>'\n"
            " 15043 -> ' Hello'\n"
            "  3186 -> ' world'\n"
            "Total number of tokens: 3\n");
}

TEST(CliTokenize, PromptEscapesAndNoEscape) {
  const std::string m = vocab("llama-spm");
  CRIA_REQUIRE_FIXTURE(m);
  // "\n" in -p is a newline: "▁" then <0x0A> (13).
  auto r = run_cria("tokenize -m '" + m + "' -p '\\n' --ids --no-bos");
  EXPECT_EQ(r.out, "[29871, 13]\n");
  r = run_cria("tokenize -m '" + m + "' -p '\\x41' --ids --no-bos");
  EXPECT_EQ(r.out, "[319]\n");  // "▁A"
  r = run_cria("tokenize -m '" + m + "' -p '\\n' --ids --no-bos --no-escape");
  EXPECT_NE(r.out, "[29871, 13]\n");
  EXPECT_EQ(r.exit_code, 0);
}

TEST(CliTokenize, ParseSpecialSwitch) {
  const std::string m = vocab("llama-spm");
  CRIA_REQUIRE_FIXTURE(m);
  auto r = run_cria("tokenize -m '" + m + "' -p 'a</s>' --ids --no-bos");
  EXPECT_EQ(r.out, "[263, 2]\n");
  r = run_cria("tokenize -m '" + m + "' -p 'a</s>' --ids --no-bos --no-parse-special");
  EXPECT_EQ(r.out.find(", 2]"), std::string::npos) << r.out;
}

TEST(CliTokenize, FileAndStdinAreBytesAsTheyAre) {
  const std::string m = vocab("gpt-2");
  CRIA_REQUIRE_FIXTURE(m);
  auto r = run_cria("tokenize -m '" + m + "' --stdin --ids", "Hello world\\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[15496, 995, 59, 77]\n");  // the backslash stays: "\" "n"
  const auto path =
      std::filesystem::temp_directory_path() / ("cria_tok_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(path, std::ios::binary) << "Hello world";
  r = run_cria("tokenize -m '" + m + "' -f '" + path.string() + "' --ids");
  std::filesystem::remove(path);
  EXPECT_EQ(r.out, "[15496, 995]\n");
}

TEST(CliTokenize, WordPieceAddsClsAndSep) {
  const std::string m = vocab("bert-bge");
  CRIA_REQUIRE_FIXTURE(m);
  const auto r = run_cria("tokenize -m '" + m + "' -p 'Hello world' --ids");
  EXPECT_EQ(r.out, "[101, 7592, 2088, 102]\n");
}

TEST(CliTokenize, Errors) {
  const std::string m = vocab("gpt-2");
  CRIA_REQUIRE_FIXTURE(m);
  auto r = run_cria("tokenize -m '" + m + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("-p, -f or --stdin"), std::string::npos) << r.err;
  r = run_cria("tokenize -m '" + m + "' -p a --stdin");
  EXPECT_NE(r.exit_code, 0);
  r = run_cria("tokenize -m /nonexistent.gguf -p a");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
  r = run_cria("tokenize -m '" + m + "' -f /nonexistent.txt");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent.txt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cria::test
