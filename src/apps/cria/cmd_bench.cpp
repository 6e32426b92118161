// `cria bench -m MODEL`: llama-bench's prompt (pp) and generation (tg) speed tests with its table and
// JSON fields, plus the weight bandwidth each generated token achieves (weight bytes x tokens/s), the
// number to compare with what the memory can deliver. With experts the bytes are those one token reads
// (the shared weights and its experts: Model::active_weight_bytes), which the output says. `cria bench --memory-bandwidth` measures that.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "core/memory_bandwidth.h"
#include "core/thread_pool.h"
#include "engine/speed_test.h"
#include "model/model.h"
#include "generation_options.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

struct BenchOptions {
  std::vector<std::string> models;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> threads;
  int batch = 512;
  std::vector<int> flash_attn{0};
  std::vector<std::string> cache_type_k{"f16"}, cache_type_v{"f16"};
  int repetitions = 5;
  std::string output = "md";
  bool memory_bandwidth = false;
  bool bandwidth = false;
};

int report_error(const std::string& message) {
  std::fprintf(stderr, "cria: error: %s\n", message.c_str());
  return 1;
}

std::string format(const char* fmt, double a, double b = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

std::string size_column(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  return b < 1073741824.0 ? format("%.2f MiB", b / 1048576.0) : format("%.2f GiB", b / 1073741824.0);
}

std::string params_column(uint64_t n) {
  const double p = static_cast<double>(n);
  return p < 1e9 ? format("%.2f M", p / 1e6) : format("%.2f B", p / 1e9);
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "";
}

// A markdown table printed row by row as results arrive; negative widths align left (llama-bench's).
class MarkdownTable {
 public:
  struct Column {
    std::string title;
    int width;
  };
  explicit MarkdownTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void header() const {
    std::string titles = "|", rule = "|";
    for (const auto& c : columns_) {
      titles += " " + pad(c.title, c.width) + " |";
      const int w = c.width < 0 ? -c.width : c.width;
      rule += " " + (c.width < 0 ? std::string(static_cast<size_t>(w), '-')
                                 : std::string(static_cast<size_t>(w - 1), '-') + ":") + " |";
    }
    std::printf("%s\n%s\n", titles.c_str(), rule.c_str());
  }
  void row(const std::vector<std::string>& cells) const {
    std::string line = "|";
    for (size_t i = 0; i < columns_.size(); ++i) line += " " + pad(i < cells.size() ? cells[i] : "", columns_[i].width) + " |";
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

 private:
  static std::string pad(const std::string& s, int width) {
    const size_t w = static_cast<size_t>(width < 0 ? -width : width);
    // Display width: count UTF-8 lead bytes, so that "±" takes one column.
    size_t shown = 0;
    for (unsigned char ch : s) shown += (ch & 0xC0) != 0x80;
    if (shown >= w) return s;
    const std::string fill(w - shown, ' ');
    return width < 0 ? s + fill : fill + s;
  }
  std::vector<Column> columns_;
};

// llama-bench's CSV: a header of the field names, then every value in double quotes (booleans as 0 or 1,
// arrays joined by ',').
std::string csv_cell(const nlohmann::ordered_json& v) {
  std::string text;
  if (v.is_boolean()) {
    text = v.get<bool>() ? "1" : "0";
  } else if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_number_float()) {
    text = std::to_string(v.get<double>());  // six decimals, as llama-bench's CSV
  } else if (!v.is_null()) {
    text = v.dump();
  }
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// The results as -o asks: json (one array), jsonl (an object per line) or csv. md prints as it goes.
void print_results(const nlohmann::ordered_json& results, const std::string& format) {
  if (format == "json") std::printf("%s\n", results.dump(2).c_str());
  if (format == "jsonl") {
    for (const auto& r : results) std::printf("%s\n", r.dump().c_str());
  }
  if (format != "csv" || results.empty()) return;
  std::string header;
  // The per-run samples (arrays) stay out of the CSV, as llama-bench leaves them out.
  for (const auto& item : results.front().items()) {
    if (!item.value().is_array()) header += (header.empty() ? "" : ",") + item.key();
  }
  std::printf("%s\n", header.c_str());
  for (const auto& r : results) {
    std::string row;
    for (const auto& item : r.items()) {
      if (!item.value().is_array()) row += (row.empty() ? "" : ",") + csv_cell(item.value());
    }
    std::printf("%s\n", row.c_str());
  }
}

int run_memory_bandwidth(const BenchOptions& opt) {
  std::vector<int> counts{1};
  for (int t : opt.threads) {
    if (t != 1) counts.push_back(t);
  }
  if (opt.threads.empty() && ThreadPool::physical_cores() > 1) counts.push_back(ThreadPool::physical_cores());
  MarkdownTable table({{"threads", 7}, {"buffer", 10}, {"loads", -7}, {"passes", 6}, {"GB/s", 8}});
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  if (opt.output == "md") table.header();
  for (int threads : counts) {
    ThreadPool pool(threads);
    auto r = measure_read_bandwidth(pool);
    if (!r) return report_error(r.error().message);
    if (opt.output == "md") {
      table.row({std::to_string(r->threads), size_column(r->buffer_bytes), std::string(r->load_width), "8",
                 format("%.2f", r->gb_per_s)});
    } else {
      results.push_back({{"n_threads", r->threads}, {"buffer_bytes", r->buffer_bytes},
                         {"load_width", std::string(r->load_width)}, {"passes", 8}, {"gb_per_s", r->gb_per_s}});
    }
  }
  print_results(results, opt.output);
  return 0;
}

std::string validate(const BenchOptions& opt) {
  if (opt.output != "md" && opt.output != "json" && opt.output != "jsonl" && opt.output != "csv") {
    return "-o must be md, csv, json or jsonl, got '" + opt.output + "'";
  }
  for (int t : opt.threads) {
    if (t < 1) return "-t must be positive, got " + std::to_string(t);
    if (std::string bad = check_thread_count(t, "-t"); !bad.empty()) return bad;
  }
  if (opt.memory_bandwidth) {
    return opt.models.empty() ? "" : "--memory-bandwidth measures the machine, not a model: drop -m";
  }
  if (opt.models.empty()) return "bench needs a model: -m FILE";
  for (int p : opt.n_prompt) {
    if (p < 0) return "-p must be 0 (no prompt test) or positive, got " + std::to_string(p);
  }
  for (int n : opt.n_gen) {
    if (n < 0) return "-n must be 0 (no generation test) or positive, got " + std::to_string(n);
  }
  if (opt.repetitions < 1) return "-r must be at least 1, got " + std::to_string(opt.repetitions);
  if (opt.batch < 1) return "-b must be positive, got " + std::to_string(opt.batch);
  for (int fa : opt.flash_attn) {
    if (fa != 0 && fa != 1) return "-fa takes 0 or 1, got " + std::to_string(fa);
  }
  for (const auto& k : opt.cache_type_k) {
    if (auto t = model::parse_kv_cache_type(k); !t) return "-ctk: " + t.error().message;
  }
  for (const auto& v : opt.cache_type_v) {
    if (auto t = model::parse_kv_cache_type(v); !t) return "-ctv: " + t.error().message;
  }
  bool any = false;
  for (int p : opt.n_prompt) any = any || p > 0;
  for (int n : opt.n_gen) any = any || n > 0;
  if (!any) return "nothing to measure: every -p and -n value is 0";
  return "";
}

// The weight bytes one generated token reads: all of them, or with experts the shared weights and
// n_expert_used experts per layer.
struct TokenBytes {
  uint64_t bytes = 0;
  bool active_only = false;  // experts: only the active weights count
};

TokenBytes token_bytes(const model::Model& model) {
  if (model.hparams().n_expert == 0) return {model.weight_bytes(), false};
  return {model.active_weight_bytes(), true};
}

nlohmann::ordered_json result_json(const std::string& path, const engine::ModelSummary& model,
                           const engine::SpeedResult& r, const TokenBytes& per_token, double weight_gb_per_s,
                           double machine_gb_per_s) {
  // llama-bench's fields in its order (b4748's; those about GPUs and CPU masks at its CPU defaults), then ours.
  nlohmann::ordered_json j = {
      {"build_commit", "unknown"}, {"build_number", 0}, {"cpu_info", cpu_model_name()}, {"gpu_info", ""},
      {"backends", "CPU"}, {"model_filename", path}, {"model_type", model.type}, {"model_size", model.n_bytes},
      {"model_n_params", model.n_params}, {"n_batch", r.test.n_batch}, {"n_ubatch", r.test.n_batch},
      {"n_threads", r.test.n_threads}, {"cpu_mask", "0x0"}, {"cpu_strict", false}, {"poll", 50},
      {"type_k", model::kv_cache_type_name(r.test.cache_types.k)},
      {"type_v", model::kv_cache_type_name(r.test.cache_types.v)}, {"n_gpu_layers", 0}, {"split_mode", "layer"},
      {"main_gpu", 0}, {"no_kv_offload", false}, {"flash_attn", r.test.flash_attn}, {"tensor_split", "0.00"},
      {"use_mmap", true}, {"embeddings", false}, {"n_prompt", r.test.n_prompt},
      {"n_gen", r.test.n_gen}, {"test_time", r.test_time}, {"avg_ns", static_cast<uint64_t>(r.avg_ns)},
      {"stddev_ns", static_cast<uint64_t>(r.stddev_ns)}, {"avg_ts", r.avg_ts}, {"stddev_ts", r.stddev_ts},
      {"samples_ns", r.samples_ns}, {"samples_ts", r.samples_ts}};
  j["gb_per_s"] = r.test.n_prompt == 0 ? nlohmann::ordered_json(weight_gb_per_s) : nlohmann::ordered_json(nullptr);
  // What gb_per_s counts per token: every weight, or with experts only the active ones.
  j["gb_per_s_bytes_per_token"] = per_token.bytes;
  j["gb_per_s_weights"] = per_token.active_only ? "active" : "all";
  if (machine_gb_per_s > 0) {
    j["memory_gb_per_s"] = machine_gb_per_s;
    j["bandwidth_fraction"] =
        r.test.n_prompt == 0 ? nlohmann::ordered_json(weight_gb_per_s / machine_gb_per_s) : nlohmann::ordered_json(nullptr);
  }
  return j;
}

int run_bench(const BenchOptions& opt) {
  if (auto problem = validate(opt); !problem.empty()) return report_error(problem);
  if (opt.memory_bandwidth) return run_memory_bandwidth(opt);

  std::vector<int> thread_counts = opt.threads;
  if (thread_counts.empty()) thread_counts.push_back(ThreadPool::physical_cores());

  // With --bandwidth, what the memory delivers to that many threads, measured right before and right
  // after each generation test: on a shared machine it moves with the neighbours' load.
  auto machine_bandwidth = [](int threads) -> Result<double> {
    ThreadPool pool(threads);
    auto r = measure_read_bandwidth(pool);
    if (!r) return r.error();
    return r->gb_per_s;
  };

  std::vector<MarkdownTable::Column> columns = {{"model", -30}, {"size", 10},   {"params", 10}, {"backend", -10},
                                                {"threads", 7}, {"test", 13},   {"t/s", 20},    {"GB/s", 8}};
  if (opt.bandwidth) columns.push_back({"% bw", 6});
  // As llama-bench does, the fa column appears only when a test turns flash attention on.
  const bool fa_column = std::find(opt.flash_attn.begin(), opt.flash_attn.end(), 1) != opt.flash_attn.end();
  if (fa_column) columns.insert(columns.begin() + 5, {"fa", 2});
  // Likewise type_k and type_v, when a test asks for another type than f16 (before fa, as llama-bench).
  auto not_f16 = [](const std::vector<std::string>& types) {
    return std::any_of(types.begin(), types.end(), [](const std::string& t) { return *model::parse_kv_cache_type(t) != TensorType::F16; });
  };
  const bool type_k_column = not_f16(opt.cache_type_k), type_v_column = not_f16(opt.cache_type_v);
  if (type_v_column) columns.insert(columns.begin() + 5, {"type_v", 6});
  if (type_k_column) columns.insert(columns.begin() + 5, {"type_k", 6});
  MarkdownTable table(columns);
  const bool markdown = opt.output == "md";
  if (markdown) table.header();
  nlohmann::ordered_json results = nlohmann::ordered_json::array();

  for (const auto& path : opt.models) {
    auto model = load_weights(path);
    if (!model) return report_error(model.error().message);
    const engine::ModelSummary summary = engine::summarize_model(**model);
    const TokenBytes per_token = token_bytes(**model);
    std::fprintf(stderr, "bench: %s: %s\n", path.c_str(), model_banner(**model).c_str());
    if (per_token.active_only) {
      const model::ModelHparams& hp = (*model)->hparams();
      std::fprintf(stderr,
                   "bench: %s: tg GB/s counts the %.2f GB one token reads (%u of %u experts per layer), not all "
                   "%.2f GB of weights\n",
                   path.c_str(), static_cast<double>(per_token.bytes) / 1e9, hp.n_expert_used, hp.n_expert,
                   static_cast<double>((*model)->weight_bytes()) / 1e9);
    }
    for (int threads : thread_counts) {
      std::vector<engine::SpeedTest> tests;
      for (const auto& type_k : opt.cache_type_k) {
        for (const auto& type_v : opt.cache_type_v) {
          for (int fa : opt.flash_attn) {
            auto add = [&](int n_prompt, int n_gen) {
              engine::SpeedTest test;
              test.n_prompt = n_prompt;
              test.n_gen = n_gen;
              test.n_threads = threads;
              test.n_batch = opt.batch;
              test.repetitions = opt.repetitions;
              test.flash_attn = fa == 1;
              test.cache_types = {*model::parse_kv_cache_type(type_k), *model::parse_kv_cache_type(type_v)};
              tests.push_back(test);
            };
            for (int p : opt.n_prompt) {
              if (p > 0) add(p, 0);
            }
            for (int n : opt.n_gen) {
              if (n > 0) add(0, n);
            }
          }
        }
      }
      for (const auto& test : tests) {
        const bool is_tg = test.n_prompt == 0;
        const bool measure = opt.bandwidth && is_tg;
        double before = 0;
        if (measure) {
          auto b = machine_bandwidth(threads);
          if (!b) return report_error(b.error().message);
          before = *b;
        }
        auto r = engine::run_speed_test(*model, test);
        if (!r) return report_error(path + ": " + test.name() + ": " + r.error().message);
        // Every generated token reads its weights once; prompt tokens share their reads.
        const double gb_per_s = static_cast<double>(per_token.bytes) * r->avg_ts / 1e9;
        double machine = 0;
        if (measure) {
          auto after = machine_bandwidth(threads);
          if (!after) return report_error(after.error().message);
          machine = (before + *after) / 2;
          std::fprintf(stderr, "bench: %s: memory read bandwidth with %d thread%s: %.2f GB/s before, %.2f after\n",
                       test.name().c_str(), threads, threads == 1 ? "" : "s", before, *after);
        }
        if (markdown) {
          std::vector<std::string> cells = {summary.type, size_column(summary.n_bytes), params_column(summary.n_params),
                                            "CPU", std::to_string(threads), test.name(),
                                            format("%.2f ± %.2f", r->avg_ts, r->stddev_ts),
                                            is_tg ? format("%.2f", gb_per_s) : ""};
          if (opt.bandwidth) cells.push_back(is_tg && machine > 0 ? format("%.0f%%", 100.0 * gb_per_s / machine) : "");
          if (fa_column) cells.insert(cells.begin() + 5, test.flash_attn ? "1" : "0");
          if (type_v_column) cells.insert(cells.begin() + 5, model::kv_cache_type_name(test.cache_types.v));
          if (type_k_column) cells.insert(cells.begin() + 5, model::kv_cache_type_name(test.cache_types.k));
          table.row(cells);
        } else {
          results.push_back(result_json(path, summary, *r, per_token, gb_per_s, machine));
        }
      }
    }
  }
  print_results(results, opt.output);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure prompt (pp) and generation (tg) speed as llama-bench does, or the machine's memory bandwidth");
  cmd->add_option("-m,--model", opt->models, "GGUF model (repeat for several)");
  cmd->add_option("-p,--n-prompt", opt->n_prompt, "Prompt lengths, comma-separated; 0 skips (default 512)")
      ->delimiter(',');
  cmd->add_option("-n,--n-gen", opt->n_gen, "Generation lengths, comma-separated; 0 skips (default 128)")
      ->delimiter(',');
  cmd->add_option("-t,--threads", opt->threads, "Thread counts, comma-separated (default: physical cores)")
      ->delimiter(',');
  cmd->add_option("-b,--batch-size", opt->batch, "Prompt tokens per forward pass (default 512)");
  cmd->add_option("--flash-attn", opt->flash_attn, "Flash attention off/on (-fa), comma-separated 0,1, or on/off (default 0)")
      ->delimiter(',');
  cmd->add_option("--cache-type-k", opt->cache_type_k, "KV cache types of the keys (-ctk), comma-separated (default f16)")
      ->delimiter(',');
  cmd->add_option("--cache-type-v", opt->cache_type_v, "KV cache types of the values (-ctv), comma-separated (default f16)")
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", opt->repetitions, "Timed runs per test, after one warm-up (default 5)");
  cmd->add_option("-o,--output", opt->output, "md (a table), or llama-bench's fields as csv, json or jsonl");
  cmd->add_flag("--memory-bandwidth", opt->memory_bandwidth,
                "Measure memory read bandwidth instead (1 GiB read by 1 and by -t threads, best of 8 passes)");
  cmd->add_flag("--bandwidth", opt->bandwidth,
                "Also show each tg row's weight bandwidth as a percentage of the memory read bandwidth (the mean of measurements just before and after the test)");
  cmd->callback([opt, &run_action] { run_action = [opt] { return run_bench(*opt); }; });
}

}  // namespace cria::cli
