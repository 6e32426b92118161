// `cria run` / bare `cria -m ...` from the outside: output, flags, reproducibility and every bad input
// ending in a one-line error with a non-zero exit.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/cli_support.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "test_support.h"

namespace cria::test {
namespace {

std::string bundled_model() { return std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf"; }

bool is_one_line_error(const CommandResult& r) {
  return r.exit_code != 0 && r.err.rfind("cria: error: ", 0) == 0 && r.err.find('\n') == r.err.size() - 1;
}

TEST(CliRun, GreedyDefaultModelMatchesLlamaCpp) {
  const auto reference = shared_dir() / "fixtures/models/kjv/reference/llama_cpp_outputs.json";
  CRIA_REQUIRE_FIXTURE(reference);
  std::ifstream in(reference);
  const std::string expected =
      nlohmann::json::parse(in)["kjv-Q8_0.gguf"]["greedy"]["Blessed are the"].get<std::string>();
  // No -m: the bundled model. Bare flags and `run` are the same command.
  for (const std::string prefix : {"", "run "}) {
    auto r = run_cria(prefix + "-p 'Blessed are the' -n 16 --temp 0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(r.out.rfind(" Blessed are the", 0), 0u) << r.out;  // the prompt first, as llama.cpp prints it
    const std::string generated = r.out.substr(std::string(" Blessed are the").size());
    EXPECT_EQ(expected.rfind(generated.substr(0, generated.size() - 1), 0), 0u)
        << "cria: " << generated << "\nllama.cpp: " << expected;
    EXPECT_NE(r.err.find("prompt eval time"), std::string::npos);
    EXPECT_NE(r.err.find("tokens per second"), std::string::npos);
  }
}

TEST(CliRun, SeedMakesSamplingReproducible) {
  const std::string args = "-m '" + bundled_model() + "' -p 'And the LORD said' -n 24 --temp 1.0 --top-k 0 --top-p 1 --min-p 0 ";
  auto a = run_cria(args + "-s 42");
  auto b = run_cria(args + "-s 42");
  auto c = run_cria(args + "-s 43");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST(CliRun, EscapesPromptFileAndNoDisplayPrompt) {
  auto escaped = run_cria("-p 'And\\nthe' -e -n 1 --temp 0");
  ASSERT_EQ(escaped.exit_code, 0) << escaped.err;
  EXPECT_EQ(escaped.out.rfind(" And\nthe", 0), 0u) << escaped.out;

  const auto prompt_file = std::filesystem::temp_directory_path() / "cria_run_prompt.txt";
  std::ofstream(prompt_file) << "Blessed are the";
  auto from_file = run_cria("-f '" + prompt_file.string() + "' -n 4 --temp 0 --no-display-prompt");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out.find("Blessed"), std::string::npos) << from_file.out;
  EXPECT_FALSE(from_file.out.empty());
  std::filesystem::remove(prompt_file);
}

// -ctk/-ctv as llama.cpp spells them: the cache's size line names the types, and a bad type is one line
// naming the flag (run, perplexity and serve share the parsing).
TEST(CliRun, CacheTypes) {
  auto r = run_cria("-p 'In the beginning' -n 4 --temp 0 -ctk q8_0 -ctv q4_0 -fa");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("K (q8_0): "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("V (q4_0): "), std::string::npos) << r.err;
  for (const std::string& cmd : {std::string("run -p x"), std::string("perplexity -f /dev/null"), std::string("serve")}) {
    auto bad = run_cria(cmd + " --cache-type-k q2_k");
    EXPECT_EQ(bad.exit_code, 1) << cmd;
    EXPECT_NE(bad.err.find("-ctk: unknown KV cache type 'q2_k' (one of f32, f16"), std::string::npos) << cmd << ": " << bad.err;
  }
}

// --grammar (llama.cpp's GBNF) constrains the completion: the bundled model, which goes on with
// scripture, answers only " yes" or " no" and stops there; a bad grammar is one line with its line and
// column, exit 1.
TEST(CliRun, GrammarConstrainsTheOutput) {
  for (const char* seed : {"1", "2", "3"}) {
    auto r = run_cria(std::string("-p 'And God said' -n 8 --temp 1 -s ") + seed +
                      " --no-display-prompt --grammar 'root ::= \" yes\" | \" no\"'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out == " yes" || r.out == " no" || r.out == " yes\n" || r.out == " no\n") << "[" << r.out << "]";
  }
  const auto bad = run_cria("-p x --grammar 'root ::= \"a'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--grammar: line 1, column 12: unterminated string"), std::string::npos) << bad.err;
  const auto missing = run_cria("-p x --grammar-file /nonexistent.gbnf");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--grammar-file: cannot read /nonexistent.gbnf"), std::string::npos) << missing.err;
}

// -j/--json-schema: the bundled model, which never writes JSON by itself, writes a document of the
// schema's shape (parsed back here and checked by hand); -j @FILE reads the schema from a file, and an
// unsupported keyword is one line naming it.
TEST(CliRun, JsonSchemaConstrainsTheOutput) {
  const std::string schema =
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":1,"maximum":999},"tribe":{"enum":["Judah","Levi"]}},"required":["name","age","tribe"]})";
  const auto path = std::filesystem::temp_directory_path() / ("cria_schema_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << schema;
  for (const std::string& flag : {"-j '" + schema + "'", "-j @" + path.string(), "--json-schema-file " + path.string()}) {
    for (const char* seed : {"1", "2"}) {
      auto r = run_cria("-p 'And the man said' -n 240 -c 256 --temp 1 -s " + std::string(seed) + " --no-display-prompt " + flag);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto doc = nlohmann::json::parse(r.out, nullptr, false);
      ASSERT_FALSE(doc.is_discarded()) << flag << ": [" << r.out << "]";
      ASSERT_TRUE(doc.is_object()) << r.out;
      EXPECT_EQ(doc.size(), 3u) << r.out;
      ASSERT_TRUE(doc["name"].is_string()) << r.out;
      ASSERT_TRUE(doc["age"].is_number_integer()) << r.out;
      EXPECT_GE(doc["age"].get<int>(), 1) << r.out;
      EXPECT_LE(doc["age"].get<int>(), 999) << r.out;
      EXPECT_TRUE(doc["tribe"] == "Judah" || doc["tribe"] == "Levi") << r.out;
    }
  }
  std::filesystem::remove(path);
  const auto bad = run_cria(R"(-p x -j '{"type":"string","format":"email"}')");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--json-schema: #: unsupported keyword 'format'"), std::string::npos) << bad.err;
}

TEST(CliRun, StopsWithAMessageWhenTheContextFills) {
  auto r = run_cria("-p 'In the beginning' -c 12 -n -1 --temp 0 --ignore-eos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("the context is full (12 tokens)"), std::string::npos) << r.err;
}

// Without -i a reverse prompt ends the completion where it first appears: the greedy continuation of the
// bundled model reaches "LORD" within a few tokens, and stops there instead of at -n 40.
TEST(CliRun, ReversePromptEndsTheCompletion) {
  const auto full = run_cria("-p 'In the beginning' -n 40 --temp 0 -t 1");
  const auto cut = run_cria("-p 'In the beginning' -r LORD -n 40 --temp 0 -t 1");
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  const size_t at = full.out.find("LORD");
  ASSERT_NE(at, std::string::npos) << full.out;
  EXPECT_EQ(cut.out, full.out.substr(0, at + 4) + "\n");
}

// Interactive completion from a pipe: past a full context it keeps the BOS and --keep prompt tokens,
// drops half of the rest and goes on (llama-cli's context shift), so 150 tokens fit in a context of 64;
// -n hands control back every 150 tokens, and end of input ends the program normally.
TEST(CliRun, InteractiveShiftsAFullContextAndEndsAtEndOfInput) {
  const auto r = run_cria("-i -p 'In the beginning' -n 150 -c 64 --keep 4 --temp 0 -t 1 --ignore-eos", "And God said\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("sampling time"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/   300 runs"), std::string::npos) << "two turns of 150 tokens:\n" << r.err;
  EXPECT_EQ(r.out.rfind(" In the beginning", 0), 0u) << r.out;
  // An 8-token prompt kept whole (--keep -1) in a context of 9 leaves nothing to drop: a clear error.
  const auto too_much =
      run_cria("-i -p 'In the beginning God created the heaven' -n 150 -c 9 --keep -1 --temp 0 -t 1 --ignore-eos", "");
  EXPECT_EQ(too_much.exit_code, 1);
  EXPECT_NE(too_much.err.find("is full and --keep keeps"), std::string::npos) << too_much.err;
}

TEST(CliRun, BadInputGetsAOneLineError) {
  EXPECT_TRUE(is_one_line_error(run_cria("-m /nonexistent/model.gguf -p hi")));
  EXPECT_TRUE(is_one_line_error(run_cria("-m '" + std::string(CRIA_SOURCE_DIR) + "/README.md' -p hi")));
  auto too_long = run_cria("-p 'In the beginning God created the heaven and the earth' -c 4");
  EXPECT_TRUE(is_one_line_error(too_long)) << too_long.err;
  EXPECT_NE(too_long.err.find("longer than the context size 4"), std::string::npos) << too_long.err;
  for (const std::string bad : {"-n -5", "-t abc", "--top-p 2", "-c -1", "-b 0", "--frobnicate", "-t -2"}) {
    auto r = run_cria("-p hi " + bad);
    EXPECT_TRUE(is_one_line_error(r)) << bad << ": exit " << r.exit_code << " err: " << r.err;
  }
}

// A GGUF written by the tests with a given architecture and weight type, to check the loader's errors.
std::string tiny_model(const std::string& arch, TensorType weight_type) {
  auto source = gguf::File::open(bundled_model());
  EXPECT_TRUE(source.ok());
  gguf::Writer w;
  for (const auto& [key, value] : source->metadata()) w.set(key, value);
  w.set("general.architecture", gguf::Value(arch));
  static std::vector<std::vector<uint8_t>> keep;
  for (const auto& t : source->tensors()) {
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    TensorType type = t.n_dims == 2 && t.name != "token_embd.weight" ? weight_type : t.type;
    if (type == t.type) {
      EXPECT_TRUE(w.add_tensor(t.name, type, ne, std::span<const uint8_t>(t.data, t.n_bytes)).ok());
    } else {
      keep.emplace_back(row_bytes(traits(type), ne[0]) * static_cast<size_t>(ne[1]), 0);
      EXPECT_TRUE(w.add_tensor(t.name, type, ne, keep.back()).ok());
    }
  }
  const auto path = std::filesystem::temp_directory_path() / ("cria_tiny_" + arch + ".gguf");
  EXPECT_TRUE(w.write(path.string()).ok());
  return path.string();
}

TEST(CliRun, UnknownArchitectureAndUnsupportedTypeAreClearErrors) {
  const auto arch = tiny_model("gpt9", TensorType::Q8_0);
  auto r = run_cria("-m '" + arch + "' -p hi");
  EXPECT_TRUE(is_one_line_error(r)) << r.err;
  EXPECT_NE(r.err.find("unknown architecture 'gpt9'"), std::string::npos) << r.err;

  const auto q8k = tiny_model("llama", TensorType::Q8_K);  // an activation-only type used as weights
  auto u = run_cria("-m '" + q8k + "' -p hi");
  EXPECT_TRUE(is_one_line_error(u)) << u.err;
  EXPECT_NE(u.err.find("tensor type Q8_K is not supported yet"), std::string::npos) << u.err;
  std::filesystem::remove(arch);
  std::filesystem::remove(q8k);
}

TEST(CliPerplexity, PrintsLlamaCppFinalLine) {
  const auto text = shared_dir() / "fixtures/models/kjv/reference/heldout-visible.txt";
  CRIA_REQUIRE_FIXTURE(text);
  // The first 4 KB of the held-out text: enough for several chunks, quick to run.
  std::ifstream in(text, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const auto short_text = std::filesystem::temp_directory_path() / "cria_ppl_text.txt";
  std::ofstream(short_text, std::ios::binary) << head;
  auto r = run_cria("perplexity -f '" + short_text.string() + "' -c 128 -b 64");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[1]"), std::string::npos);
  EXPECT_NE(r.out.find("Final estimate: PPL = "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" +/- "), std::string::npos);
  EXPECT_TRUE(is_one_line_error(run_cria("perplexity -f /nonexistent.txt")));

  // Flash attention (online softmax, f32 probabilities) changes rounding, not the model: the same
  // perplexity to a small fraction of a percent, from the same text.
  auto final_ppl = [](const std::string& out) {
    const std::string key = "Final estimate: PPL = ";
    const size_t at = out.find(key);
    return at == std::string::npos ? -1.0 : std::stod(out.substr(at + key.size()));
  };
  auto fa = run_cria("perplexity -f '" + short_text.string() + "' -c 128 -b 64 -fa");
  ASSERT_EQ(fa.exit_code, 0) << fa.err;
  const double exact = final_ppl(r.out), online = final_ppl(fa.out);
  ASSERT_GT(exact, 1.0) << r.out;
  EXPECT_NE(r.err.find("flash_attn = 0"), std::string::npos) << r.err;
  EXPECT_NE(fa.err.find("flash_attn = 1"), std::string::npos) << fa.err;
  EXPECT_NEAR(online, exact, 1e-3 * exact) << fa.out;

  // --chunks 1 scores the first chunk alone: its line is the full run's first one ([1]...), and it is final.
  auto one = run_cria("perplexity -f '" + short_text.string() + "' -c 128 -b 64 --chunks 1");
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out.find("[2]"), std::string::npos) << one.out;
  const std::string first = r.out.substr(0, r.out.find(','));
  EXPECT_EQ(one.out.rfind(first + ",", 0), 0u) << one.out;
  EXPECT_NE(one.err.find("over 1 chunks"), std::string::npos) << one.err;
  std::filesystem::remove(short_text);
}

TEST(CliRun, FlashAttentionFlagGeneratesTheSameGreedyStart) {
  // -fa is llama.cpp's spelling; on the bundled model the first greedy tokens do not depend on it.
  auto plain = run_cria("-p 'In the beginning God created' -n 8 --temp 0");
  auto fa = run_cria("-p 'In the beginning God created' -n 8 --temp 0 -fa");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(fa.exit_code, 0) << fa.err;
  EXPECT_EQ(fa.out, plain.out);
  EXPECT_NE(fa.err.find("flash_attn = 1"), std::string::npos) << fa.err;
}

}  // namespace
}  // namespace cria::test
