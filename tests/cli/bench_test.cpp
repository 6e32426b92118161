// `cria synth` and `cria bench` end to end on the small kjv-like preset: the files load and run, carry
// the types the mix rules choose, and the benchmark reports llama-bench's fields. Bad flags fail in one line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "core/memory_bandwidth.h"
#include "engine/synth_model.h"
#include "model/model.h"
#include "model/session.h"
#include "test_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

class SynthDir : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("cria_synth_" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}())));
    fs::create_directories(*dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }
  // Synthesizes kjv-like TYPE once per suite (extra flags make a distinct file).
  static std::string synth(const std::string& type, const std::string& extra = "") {
    std::string stem = type + extra;
    for (char& c : stem) {
      if (c == ' ' || c == '-') c = '_';
    }
    const fs::path path = *dir_ / ("kjv-like-" + stem + ".gguf");
    if (!fs::exists(path)) {
      auto r = run_cria("synth --preset kjv-like --type " + type + " -o '" + path.string() + "' " + extra);
      EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    return path.string();
  }
  static std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static fs::path* dir_;
};
fs::path* SynthDir::dir_ = nullptr;

bool one_line_error(const CommandResult& r) {
  return r.exit_code != 0 && r.err.rfind("cria: error: ", 0) == 0 && r.err.find('\n') == r.err.size() - 1;
}

// The lines of a command's output.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The trimmed cells of a markdown table row.
std::vector<std::string> cells_of(const std::string& row) {
  std::vector<std::string> cells;
  std::istringstream in(row);
  std::string cell;
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) {
    const auto first = cell.find_first_not_of(' '), last = cell.find_last_not_of(' ');
    cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  return cells;
}

// A markdown table's header and first row, as cells.
std::pair<std::vector<std::string>, std::vector<std::string>> header_and_first_row(const std::string& table) {
  std::istringstream in(table);
  std::string header, rule, row;
  std::getline(in, header);
  std::getline(in, rule);
  std::getline(in, row);
  return {cells_of(header), cells_of(row)};
}

// The type column of a tensor in `cria info`'s text table.
std::string info_type_of(const std::string& info, const std::string& tensor) {
  std::istringstream in(info);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, type;
    if (words >> name >> type && name == tensor) return type;
  }
  return "(absent)";
}

using CliSynth = SynthDir;
using CliBench = SynthDir;

TEST_F(CliSynth, ModelsOfSeveralTypesLoadAndRun) {
  for (const std::string type : {"Q8_0", "Q4_0", "Q4_K_M", "F16", "IQ4_XS"}) {
    SCOPED_TRACE(type);
    const std::string path = synth(type);
    auto model = model::Model::load(path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    EXPECT_EQ((*model)->n_vocab(), 4096);
    EXPECT_EQ((*model)->hparams().n_layer, 2u);
    auto session = model::Session::create(*model, {64, 16, 2});
    ASSERT_TRUE(session.ok()) << session.error().message;
    const std::vector<int32_t> tokens = {1, 450, 3303, 2871, 1000};
    ASSERT_TRUE((*session)->decode(tokens).ok());
    const float* logits = (*session)->logits();
    double sum_sq = 0;
    for (int64_t i = 0; i < (*model)->n_vocab(); ++i) {
      ASSERT_TRUE(std::isfinite(logits[i])) << i;
      sum_sq += static_cast<double>(logits[i]) * logits[i];
    }
    EXPECT_GT(sum_sq, 0.0);  // random weights give non-trivial logits
  }
}

TEST_F(CliSynth, InfoShowsTheMixTypesAndConverterMetadata) {
  const std::string path = synth("Q4_K_M");
  auto r = run_cria("info --json '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  const auto plan = engine::plan_synth_tensors(*engine::find_synth_preset("kjv-like"), QuantMix::Q4_K_M, false);
  ASSERT_EQ(doc["tensors"].size(), plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(doc["tensors"][i]["name"], plan[i].name);
    EXPECT_EQ(doc["tensors"][i]["type"], std::string(traits(plan[i].type).name)) << plan[i].name;
  }
  std::map<std::string, std::string> types;
  for (const auto& t : doc["tensors"]) types[t["name"]] = t["type"];
  EXPECT_EQ(types["output.weight"], "Q6_K");
  EXPECT_EQ(types["token_embd.weight"], "Q4_K");
  EXPECT_EQ(types["blk.1.attn_v.weight"], "Q6_K");  // use_more_bits(1, 2): the last eighth
  EXPECT_EQ(types["blk.0.attn_v.weight"], "Q4_K");
  EXPECT_EQ(types["blk.0.attn_norm.weight"], "F32");
  std::map<std::string, std::pair<std::string, nlohmann::json>> meta;
  for (const auto& kv : doc["metadata"]) meta[kv["key"]] = {kv["type"], kv["value"]};
  EXPECT_EQ(meta["general.architecture"].second, "llama");
  EXPECT_EQ(meta["general.file_type"], std::make_pair(std::string("UINT32"), nlohmann::json(15)));
  EXPECT_EQ(meta["general.quantization_version"], std::make_pair(std::string("UINT32"), nlohmann::json(2)));
  EXPECT_EQ(meta["llama.block_count"].first, "UINT32");
  EXPECT_EQ(meta["llama.attention.layer_norm_rms_epsilon"].first, "FLOAT32");
  EXPECT_EQ(meta["llama.rope.freq_base"].first, "FLOAT32");
  EXPECT_EQ(meta["tokenizer.ggml.model"].second, "llama");
  EXPECT_EQ(meta["tokenizer.ggml.tokens"].second["length"], 4096);

  auto q8 = run_cria("info '" + synth("Q8_0") + "'");
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  EXPECT_EQ(info_type_of(q8.out, "blk.0.ffn_down.weight"), "Q8_0");
  EXPECT_EQ(info_type_of(q8.out, "output.weight"), "Q8_0");  // Q8_0 files keep a Q8_0 output head
}

TEST_F(CliSynth, PureWritesEveryMatrixInOneType) {
  auto file = gguf::File::open(synth("Q4_0", "--pure"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  for (const auto& t : file->tensors()) {
    EXPECT_EQ(t.type, t.n_dims == 1 ? TensorType::F32 : TensorType::Q4_0) << t.name;
  }
}

TEST_F(CliSynth, SameSeedSameBytesWhateverTheThreads) {
  const std::string a = synth("Q4_0", "--seed 7 -t 1");
  const std::string b = synth("Q4_0", "--seed 7 -t 2");
  const std::string c = synth("Q4_0", "--seed 8 -t 2");
  EXPECT_EQ(read_bytes(a), read_bytes(b));
  EXPECT_NE(read_bytes(a), read_bytes(c));
}

TEST_F(CliSynth, PadsOrTruncatesTheVocabularyToTheShape) {
  // A tiny custom shape whose vocabulary is longer than llama-spm's 32000 tokens, as llama-3-8b's is.
  engine::SynthShape shape{"test", 64, 1, 2, 1, 256, 32010, 128, 10000.0f, 1e-5f};
  engine::SynthOptions options;
  options.shape = shape;
  options.mix = QuantMix::Q8_0;
  options.n_threads = 2;
  options.vocab_path = (fs::path(CRIA_SOURCE_DIR) / "models" / "vocab" / "ggml-vocab-llama-spm.gguf").string();
  const std::string path = (*dir_ / "padded.gguf").string();
  auto status = engine::write_synth_model(options, path);
  ASSERT_TRUE(status.ok()) << status.error().message;
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tokens = file->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING);
  auto scores = file->get_array("tokenizer.ggml.scores", gguf::ValueType::FLOAT32);
  auto types = file->get_array("tokenizer.ggml.token_type", gguf::ValueType::INT32);
  ASSERT_TRUE(tokens.ok() && scores.ok() && types.ok());
  const auto& t = std::get<std::vector<std::string>>((*tokens)->items);
  ASSERT_EQ(t.size(), 32010u);
  EXPECT_EQ(t[1], "<s>");
  EXPECT_EQ(t[32000], "[PAD32000]");
  EXPECT_EQ(t[32009], "[PAD32009]");
  EXPECT_EQ(std::get<std::vector<float>>((*scores)->items)[32005], -10000.0f);
  EXPECT_EQ(std::get<std::vector<int32_t>>((*types)->items)[32005], 5);  // UNUSED
  auto model = model::Model::from_file(std::move(*file));
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->n_vocab(), 32010);
}

TEST_F(CliSynth, BadFlagsFailInOneLine) {
  const std::string out = "'" + (*dir_ / "bad.gguf").string() + "'";
  for (const std::string& args : std::vector<std::string>{"synth --preset gpt-5 --type Q4_0 -o " + out,
                                 "synth --preset kjv-like --type IQ2_XXS -o " + out,
                                 "synth --preset kjv-like --type Q4_0",
                                 "synth --preset kjv-like --type Q4_0 -t -1 -o " + out,
                                 "synth --preset kjv-like --type Q4_0 --vocab /nonexistent.gguf -o " + out,
                                 "synth --preset kjv-like --type Q4_0 --bogus -o " + out}) {
    SCOPED_TRACE(args);
    auto r = run_cria(args);
    EXPECT_TRUE(one_line_error(r)) << r.exit_code << " " << r.err;
  }
  EXPECT_FALSE(fs::exists(*dir_ / "bad.gguf"));
  EXPECT_FALSE(fs::exists(*dir_ / "bad.gguf.tmp"));
}

TEST_F(CliBench, JsonHasLlamaBenchFields) {
  const std::string path = synth("Q8_0");
  auto r = run_cria("bench -m '" + path + "' -p 16 -n 4 -r 1 -t 2 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 2u);
  for (const char* field : {"model_filename", "model_type", "model_size", "model_n_params", "n_batch", "n_threads",
                            "n_prompt", "n_gen", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts",
                            "samples_ns", "samples_ts", "gb_per_s", "backends", "cpu_info"}) {
    EXPECT_TRUE(doc[0].contains(field)) << field;
    EXPECT_TRUE(doc[1].contains(field)) << field;
  }
  EXPECT_EQ(doc[0]["n_prompt"], 16);
  EXPECT_EQ(doc[0]["n_gen"], 0);
  EXPECT_TRUE(doc[0]["gb_per_s"].is_null());
  EXPECT_EQ(doc[1]["n_prompt"], 0);
  EXPECT_EQ(doc[1]["n_gen"], 4);
  EXPECT_GT(doc[1]["gb_per_s"].get<double>(), 0.0);
  EXPECT_EQ(doc[0]["n_threads"], 2);
  EXPECT_EQ(doc[0]["model_filename"], path);
  EXPECT_EQ(doc[0]["model_type"], "llama 3.7M Q8_0");
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok());
  uint64_t bytes = 0;
  for (const auto& t : file->tensors()) bytes += t.n_bytes;
  EXPECT_EQ(doc[0]["model_size"], bytes);
  EXPECT_EQ(doc[0]["samples_ns"].size(), 1u);
  EXPECT_GT(doc[0]["avg_ts"].get<double>(), 0.0);
  // avg_ts is tokens per second of the run.
  EXPECT_NEAR(doc[1]["avg_ts"].get<double>(), 4e9 / doc[1]["avg_ns"].get<double>(), 1e-3 * doc[1]["avg_ts"].get<double>());
}

TEST_F(CliBench, FlashAttentionValuesGiveOneSetOfTestsEach) {
  const std::string model = "-m '" + synth("Q8_0") + "'";
  auto json = run_cria("bench " + model + " -p 16 -n 2 -r 1 -t 1 -fa 0,1 -o json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  ASSERT_EQ(doc.size(), 4u);
  EXPECT_EQ(doc[0]["flash_attn"], false);
  EXPECT_EQ(doc[1]["flash_attn"], false);
  EXPECT_EQ(doc[2]["flash_attn"], true);
  EXPECT_EQ(doc[3]["flash_attn"], true);
  EXPECT_EQ(doc[2]["n_prompt"], 16);
  EXPECT_EQ(doc[3]["n_gen"], 2);
  // Markdown: an fa column, as llama-bench adds one when flash attention is asked for.
  auto md = run_cria("bench " + model + " -p 16 -n 0 -r 1 -t 1 -fa 1");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  const auto [header, row] = header_and_first_row(md.out);
  EXPECT_EQ(header,
            (std::vector<std::string>{"model", "size", "params", "backend", "threads", "fa", "test", "t/s", "GB/s"}));
  EXPECT_EQ(row[5], "1");
}

// -o csv: llama-bench's (b4748) columns first and in its order, quoted, floats with six decimals; cria's
// own columns after them; no per-run samples.
TEST_F(CliBench, CsvStartsWithLlamaBenchColumns) {
  auto r = run_cria("bench -m '" + synth("Q8_0") + "' -p 0 -n 2 -r 2 -t 1 -o csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string header, row, extra;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_FALSE(std::getline(in, extra)) << "one test, one row";
  const std::string llama_bench =
      "build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,model_n_params,"
      "n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,split_mode,main_gpu,"
      "no_kv_offload,flash_attn,tensor_split,use_mmap,embeddings,n_prompt,n_gen,test_time,avg_ns,stddev_ns,avg_ts,"
      "stddev_ts";
  EXPECT_EQ(header.substr(0, llama_bench.size() + 1), llama_bench + ",") << header;
  EXPECT_EQ(header.find("samples"), std::string::npos) << header;
  EXPECT_TRUE(std::regex_search(row, std::regex(R"(,"\d+\.\d{6}","\d+\.\d{6}",)"))) << row;  // avg_ts, stddev_ts
  EXPECT_EQ(std::count(row.begin(), row.end(), '"'), 2 * (std::count(header.begin(), header.end(), ',') + 1)) << row;
}

// -ctk/-ctv lists multiply the tests as llama-bench's do; the type_k/type_v fields and columns name them.
TEST_F(CliBench, CacheTypesGiveOneSetOfTestsEach) {
  const std::string model = "-m '" + synth("Q8_0") + "'";
  auto json = run_cria("bench " + model + " -p 0 -n 2 -r 1 -t 1 -ctk f16,q8_0 -ctv q4_0 -fa 1 -o json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  ASSERT_EQ(doc.size(), 2u);
  EXPECT_EQ(doc[0]["type_k"], "f16");
  EXPECT_EQ(doc[1]["type_k"], "q8_0");
  EXPECT_EQ(doc[1]["type_v"], "q4_0");
  auto md = run_cria("bench " + model + " -p 0 -n 2 -r 1 -t 1 -ctk q8_0");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  const auto [header, row] = header_and_first_row(md.out);
  EXPECT_EQ(header,
            (std::vector<std::string>{"model", "size", "params", "backend", "threads", "type_k", "test", "t/s", "GB/s"}));
  EXPECT_EQ(row[5], "q8_0");
  auto bad = run_cria("bench " + model + " -p 0 -n 2 -r 1 -ctv q3_k");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("-ctv: unknown KV cache type 'q3_k'"), std::string::npos) << bad.err;
}

TEST_F(CliBench, MarkdownHasLlamaBenchColumnsAndOneRowPerTest) {
  auto r = run_cria("bench -m '" + synth("Q4_K_M") + "' -p 8,16 -n 2 -r 2 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0].rfind("| model ", 0), 0u);
  EXPECT_EQ(cells_of(lines[0]),
            (std::vector<std::string>{"model", "size", "params", "backend", "threads", "test", "t/s", "GB/s"}));
  EXPECT_TRUE(cells_of(lines[2]).back().empty());  // no weight bandwidth for prompt rows
  EXPECT_FALSE(cells_of(lines[4]).back().empty());
  EXPECT_NE(lines[2].find("llama 3.7M Q4_K - Medium"), std::string::npos);
  EXPECT_NE(lines[2].find(" pp8 |"), std::string::npos);
  EXPECT_NE(lines[3].find(" pp16 |"), std::string::npos);
  EXPECT_NE(lines[4].find(" tg2 |"), std::string::npos);
  EXPECT_NE(lines[2].find(" ± "), std::string::npos);
  EXPECT_NE(lines[2].find("MiB"), std::string::npos);
}

TEST_F(CliBench, BandwidthColumnDividesByTheMeasurementsAroundEachGenerationTest) {
  auto r = run_cria("bench -m '" + synth("Q8_0") + "' -p 4 -n 2 -r 1 -t 1 --bandwidth");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(cells_of(lines[0]).back(), "% bw");
  EXPECT_TRUE(cells_of(lines[2]).back().empty());  // the prompt row has none
  // Only the generation test is bracketed by bandwidth measurements, and its percentage uses their mean.
  EXPECT_EQ(r.err.find("pp4: memory read bandwidth"), std::string::npos) << r.err;
  const std::string key = "tg2: memory read bandwidth with 1 thread: ";
  const size_t at = r.err.find(key);
  ASSERT_NE(at, std::string::npos) << r.err;
  double before = 0, after = 0;
  ASSERT_EQ(std::sscanf(r.err.c_str() + at + key.size(), "%lf GB/s before, %lf after", &before, &after), 2) << r.err;
  EXPECT_GT(before, 0.1);
  EXPECT_GT(after, 0.1);
  const auto cells = cells_of(lines[3]);
  const double gb_per_s = std::stod(cells[cells.size() - 2]);
  const double percent = std::stod(cells.back());
  EXPECT_EQ(cells.back().back(), '%');
  EXPECT_NEAR(percent, 100.0 * gb_per_s / ((before + after) / 2), 1.0) << r.err << r.out;
}

// With experts a generated token reads the shared weights and n_expert_used experts per layer: the GB/s
// of tg rows counts those bytes (Model::active_weight_bytes), and the output says so; dense models count all.
TEST_F(CliBench, ExpertModelsCountTheWeightsOneTokenReads) {
  const fs::path moe = shared_dir() / "fixtures/models/arch/kjv-llama-moe-Q8_0.gguf";
  CRIA_REQUIRE_FIXTURE(moe);
  auto model = model::Model::load(moe.string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  const uint64_t active = (*model)->active_weight_bytes();
  ASSERT_LT(active, (*model)->weight_bytes());
  auto r = run_cria("bench -m '" + moe.string() + "' -p 0 -n 2 -r 1 -t 1 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["gb_per_s_weights"], "active");
  EXPECT_EQ(doc[0]["gb_per_s_bytes_per_token"], active);
  EXPECT_NEAR(doc[0]["gb_per_s"].get<double>(), static_cast<double>(active) * doc[0]["avg_ts"].get<double>() / 1e9,
              1e-6 * doc[0]["gb_per_s"].get<double>());
  EXPECT_NE(r.err.find("architecture: llama (4 experts, 2 active)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tg GB/s counts the"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(2 of 4 experts per layer)"), std::string::npos) << r.err;

  auto dense = run_cria("bench -m '" + synth("Q8_0") + "' -p 0 -n 2 -r 1 -t 1 -o json");
  ASSERT_EQ(dense.exit_code, 0) << dense.err;
  const auto dense_doc = nlohmann::json::parse(dense.out);
  EXPECT_EQ(dense_doc[0]["gb_per_s_weights"], "all");
  EXPECT_EQ(dense.err.find("tg GB/s counts the"), std::string::npos) << dense.err;
}

TEST_F(CliBench, BadFlagsFailInOneLine) {
  const std::string model = "-m '" + synth("Q8_0") + "'";
  for (const std::string& args : std::vector<std::string>{"bench", "bench " + model + " -o xml", "bench " + model + " -r 0",
                                 "bench " + model + " -p -1", "bench " + model + " -t 0", "bench " + model + " -p 0 -n 0",
                                 "bench " + model + " --memory-bandwidth", "bench -m /nonexistent.gguf",
                                 "bench " + model + " -p abc", "bench " + model + " --frobnicate",
                                 "bench " + model + " -fa 2"}) {
    SCOPED_TRACE(args);
    auto r = run_cria(args);
    EXPECT_TRUE(one_line_error(r)) << r.exit_code << " " << r.err;
  }
}

TEST_F(CliBench, MemoryBandwidthMeasuresAPositiveRate) {
  ThreadPool pool(2);
  BandwidthOptions small;
  small.buffer_bytes = size_t{64} << 20;
  small.passes = 2;
  auto r = measure_read_bandwidth(pool, small);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(r->gb_per_s, 0.1);
  EXPECT_EQ(r->threads, 2);
  EXPECT_EQ(r->buffer_bytes, small.buffer_bytes);
  EXPECT_FALSE(r->load_width.empty());
}

}  // namespace
}  // namespace cria::test
