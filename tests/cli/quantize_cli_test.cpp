// `cria quantize` and `cria quant-report` end to end: llama-quantize's argument forms, clear one-line
// errors that leave no file behind, and a report whose numbers order the types as quantization should.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "gguf/gguf_reader.h"
#include "test_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

class QuantizeCli : public testing::Test {
 protected:
  void SetUp() override {
    f32_ = kjv_gguf_dir() / "kjv-F32.gguf";
    CRIA_REQUIRE_FIXTURE(f32_);
    dir_ = fs::temp_directory_path() /
           ("cria_quantize_cli_" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path f32_, dir_;
};

TEST_F(QuantizeCli, WritesTheMixWithThreads) {
  const fs::path out = dir_ / "q4km.gguf";
  auto r = run_cria("quantize " + f32_.string() + " " + out.string() + " Q4_K_M 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("quant size"), std::string::npos) << r.err;
  auto file = gguf::File::open(out.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(*file->get_u32("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(file->find_tensor("blk.0.ffn_gate.weight")->type, TensorType::Q4_K);
  EXPECT_EQ(file->find_tensor("output.weight")->type, TensorType::Q6_K);
}

TEST_F(QuantizeCli, WithoutOutputNamesTheFileAsLlamaQuantize) {
  fs::copy_file(f32_, dir_ / "model-f32.gguf");
  auto r = run_cria("quantize " + (dir_ / "model-f32.gguf").string() + " q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto file = gguf::File::open((dir_ / "ggml-model-Q8_0.gguf").string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->find_tensor("blk.0.attn_q.weight")->type, TensorType::Q8_0);
}

TEST_F(QuantizeCli, FlagsOverrideTypes) {
  const fs::path out = dir_ / "pure.gguf";
  auto r = run_cria("quantize --pure --output-tensor-type q8_0 --token-embedding-type f16 " + f32_.string() + " " +
                    out.string() + " 2");  // 2 is llama_ftype Q4_0
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto file = gguf::File::open(out.string());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->find_tensor("output.weight")->type, TensorType::Q8_0);
  EXPECT_EQ(file->find_tensor("token_embd.weight")->type, TensorType::F16);
  EXPECT_EQ(file->find_tensor("blk.3.attn_v.weight")->type, TensorType::Q4_0);
}

TEST_F(QuantizeCli, BadInputsFailInOneLineAndWriteNothing) {
  const fs::path out = dir_ / "out.gguf";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"quantize " + f32_.string() + " " + out.string() + " Q9_9", "unknown type 'Q9_9'"},
      {"quantize " + f32_.string() + " " + out.string() + " Q4_0 zero", "THREADS"},
      {"quantize " + (dir_ / "missing.gguf").string() + " " + out.string() + " Q4_0", "missing.gguf"},
      {"quantize --output-tensor-type Q7 " + f32_.string() + " " + out.string() + " Q4_0", "--output-tensor-type"},
      {"quantize " + (kjv_gguf_dir() / "kjv-Q4_0.gguf").string() + " " + out.string() + " Q8_0", "--allow-requantize"},
      {"quantize --output-tensor-type iq2_xxs " + f32_.string() + " " + out.string() + " Q4_0", "IQ2_XXS"},
  };
  for (const auto& [args, needle] : cases) {
    auto r = run_cria(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
    EXPECT_FALSE(fs::exists(out.string() + ".tmp")) << args;
  }
}

// One row of report.md's table, split on '|'.
std::vector<std::string> table_row(const std::string& markdown, const std::string& first_cell) {
  std::istringstream in(markdown);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("| " + first_cell + " ")) continue;
    std::vector<std::string> cells;
    std::istringstream cols(line.substr(1));
    for (std::string cell; std::getline(cols, cell, '|');) cells.push_back(cell);
    return cells;
  }
  return {};
}

TEST_F(QuantizeCli, QuantReportOrdersTypesByQuality) {
  const fs::path text = shared_dir() / "fixtures/models/kjv/reference/heldout-visible.txt";
  CRIA_REQUIRE_FIXTURE(text);
  const fs::path out = dir_ / "report";
  auto r = run_cria("quant-report -m " + f32_.string() + " -f " + text.string() +
                    " --types Q8_0,Q2_K -c 256 --chunks 3 -p 16 -n 4 -r 1 -t 1 -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = read_file(out / "report.md");
  const std::string svg = read_file(out / "report.svg");
  ASSERT_FALSE(md.empty());
  EXPECT_EQ(r.out, md);  // the table is also printed
  const auto base = table_row(md, "F32 (base)"), q8 = table_row(md, "Q8_0"), q2 = table_row(md, "Q2_K");
  ASSERT_EQ(base.size(), 9u) << md;
  ASSERT_EQ(q8.size(), 9u) << md;
  ASSERT_EQ(q2.size(), 9u) << md;
  // Size column, then KL divergence: Q2_K is smaller and further from the base than Q8_0.
  EXPECT_GT(std::stod(base[1]), std::stod(q8[1]));
  EXPECT_GT(std::stod(q8[1]), std::stod(q2[1]));
  // The size counts the weights, as bench and quantize do (not the file with its vocabulary): the Q8_0
  // made here is byte-identical to the bundled one, so its weights are the bundled file's tensor bytes.
  auto bundled = gguf::File::open(std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf");
  ASSERT_TRUE(bundled.ok());
  uint64_t weight_bytes = 0;
  for (const auto& t : bundled->tensors()) weight_bytes += t.n_bytes;
  char expected[32];
  std::snprintf(expected, sizeof expected, "%.2f", static_cast<double>(weight_bytes) / 1048576.0);
  EXPECT_EQ(std::stod(q8[1]), std::stod(expected)) << q8[1];
  const double kl_q8 = std::stod(q8[5]), kl_q2 = std::stod(q2[5]);
  EXPECT_GE(kl_q8, 0.0);
  EXPECT_LT(kl_q8, kl_q2);
  EXPECT_LT(std::abs(std::stod(q8[3]) / std::stod(base[3]) - 1.0), 0.01) << "Q8_0 perplexity moved more than 1%";
  // The picture: one labelled point per type, valid enough to start and end as SVG.
  EXPECT_TRUE(svg.starts_with("<svg")) << svg.substr(0, 80);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '<') - std::count(svg.begin(), svg.end(), '>'), 0);
  for (const char* label : {">Q8_0<", ">Q2_K<", ">F32 (base)<"}) EXPECT_NE(svg.find(label), std::string::npos) << label;
  EXPECT_FALSE(fs::exists(out / "kjv-F32-Q8_0.gguf")) << "quantized files are removed without --keep-files";
}

}  // namespace
}  // namespace cria::test
