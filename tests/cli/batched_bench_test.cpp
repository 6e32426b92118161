// `cria batched-bench` on the bundled model: llama-batched-bench's table and JSON lines, cases that do
// not fit the cache left out, the shared prompt's token count, and bad flags as one-line errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_support.h"

namespace cria::test {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(CliBatchedBench, MarkdownHasLlamaBatchedBenchColumnsAndOneRowPerFittingCase) {
  // -c 100: PP 32 x B 4 (+ TG) does not fit and is left out, as llama-batched-bench does.
  auto r = run_cria("batched-bench -c 100 -b 64 -npp 16,32 -ntg 4 -npl 1,4 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0].rfind("main: n_kv_max = 100, n_batch = 64, n_ubatch = 512, flash_attn = 0, is_pp_shared = 0", 0), 0u)
      << lines[0];
  EXPECT_EQ(lines[2], "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |");
  std::vector<std::string> rows;
  for (size_t i = 4; i < lines.size(); ++i) rows.push_back(lines[i].substr(0, 34));
  EXPECT_EQ(rows, (std::vector<std::string>{"|    16 |      4 |    1 |     20 |", "|    16 |      4 |    4 |     80 |",
                                            "|    32 |      4 |    1 |     36 |"}))
      << r.out;
}

TEST(CliBatchedBench, JsonLinesHaveItsFieldsAndSharedPromptsCountOnce) {
  auto r = run_cria("batched-bench -c 256 -npp 24 -ntg 3 -npl 1,3 -pps -t 2 --output-format jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    for (const char* key : {"n_kv_max", "n_batch", "n_ubatch", "flash_attn", "is_pp_shared", "n_gpu_layers",
                            "n_threads", "n_threads_batch", "pp", "tg", "pl", "n_kv", "t_pp", "speed_pp", "t_tg",
                            "speed_tg", "t", "speed"}) {
      EXPECT_TRUE(j.contains(key)) << key;
    }
    const int pl = j["pl"];
    EXPECT_EQ(j["is_pp_shared"], 1);
    EXPECT_EQ(j["n_kv"], 24 + pl * 3);
    EXPECT_NEAR(j["speed_pp"].get<double>(), 24 / j["t_pp"].get<double>(), 1e-6 * j["speed_pp"].get<double>());
    EXPECT_NEAR(j["speed_tg"].get<double>(), pl * 3 / j["t_tg"].get<double>(), 1e-6 * j["speed_tg"].get<double>());
    EXPECT_NEAR(j["t"].get<double>(), j["t_pp"].get<double>() + j["t_tg"].get<double>(), 1e-9);
  }
}

TEST(CliBatchedBench, BadFlagsFailInOneLine) {
  for (const char* args : {"batched-bench -npl 0", "batched-bench -npp 16 --output-format csv", "batched-bench -c 0",
                           "batched-bench -m /nonexistent.gguf"}) {
    auto r = run_cria(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(r.err.rfind("cria: error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace cria::test
