// `cria quant-report -m MODEL -f TEXT [--types LIST] [-o DIR]`: quantizes an unquantized model to each
// type, measures what each costs (size, perplexity, KL divergence from the base, speed) and writes
// DIR/report.md and DIR/report.svg (engine/quant_report.h).
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <map>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "core/thread_pool.h"
#include "engine/kl_divergence.h"
#include "engine/perplexity.h"
#include "engine/quant_report.h"
#include "engine/quantize_model.h"
#include "engine/speed_test.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

namespace fs = std::filesystem;

struct QuantReportOptions {
  std::string model;
  std::string text_file;
  std::string types = "Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0,IQ4_XS,Q3_K_M,Q2_K";
  std::string out_dir = "quant-report";
  int ctx = 0;
  int chunks = 0;
  int threads = 0;
  int n_prompt = 128;
  int n_gen = 32;
  int repetitions = 2;
  bool keep_files = false;
};

Result<std::vector<QuantMix>> parse_types(const std::string& list) {
  std::vector<QuantMix> mixes;
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name.empty()) continue;
    auto mix = find_quant_mix(name);
    if (!mix) return make_error("--types: unknown type '" + name + "' (choose from: " + quant_mix_names() + ")");
    mixes.push_back(*mix);
  }
  if (mixes.empty()) return make_error("--types: no type given");
  return mixes;
}

double bits_per_weight(const gguf::File& file) {
  double bytes = 0, params = 0;
  for (const auto& t : file.tensors()) {
    bytes += static_cast<double>(t.n_bytes);
    params += static_cast<double>(t.n_elements());
  }
  return params > 0 ? 8.0 * bytes / params : 0;
}

// The type holding most of the matrix bytes: what the base model "is" (F32, F16, BF16).
std::string weight_type_name(const gguf::File& file) {
  std::map<TensorType, uint64_t> bytes;
  for (const auto& t : file.tensors()) {
    if (t.n_dims >= 2) bytes[t.type] += t.n_bytes;
  }
  auto most = std::max_element(bytes.begin(), bytes.end(), [](auto& a, auto& b) { return a.second < b.second; });
  return most == bytes.end() ? "base" : std::string(traits(most->first).name);
}

// The measurements every entry shares: perplexity (feeding the KL reference or accumulator), then speed.
class Measurer {
 public:
  Measurer(const QuantReportOptions& opt, std::vector<int32_t> tokens, int ctx, int threads)
      : opt_(opt), tokens_(std::move(tokens)), ctx_(ctx), threads_(threads) {}

  Result<engine::QuantReportEntry> measure(const std::string& path, std::string label, bool is_base,
                                           engine::KlReference* reference) {
    auto loaded = load_model(path);
    if (!loaded) return loaded.error();
    auto file = gguf::File::open(path);
    if (!file) return file.error();
    engine::QuantReportEntry e;
    e.label = std::move(label);
    e.is_base = is_base;
    e.weight_bytes = loaded->model->weight_bytes();
    e.bits_per_weight = bits_per_weight(*file);

    auto session = model::Session::create(loaded->model, {ctx_, std::min(512, ctx_), threads_});
    if (!session) return session.error();
    std::unique_ptr<engine::KlAccumulator> kl;
    if (!is_base) kl = std::make_unique<engine::KlAccumulator>(*reference);
    auto on_scored = [&](const float* logits) {
      if (is_base) reference->record(logits);
      else kl->add(logits);
    };
    auto ppl = engine::perplexity(**session, tokens_, loaded->tokenizer->bos(), {}, on_scored);
    if (!ppl) return ppl.error();
    n_chunks_ = ppl->n_chunks;
    e.ppl = ppl->ppl;
    e.ppl_error = ppl->ppl_error;
    if (kl) e.kl = kl->stats();
    session.value().reset();  // frees the KV cache before the speed tests make their own

    for (bool generation : {false, true}) {
      engine::SpeedTest test;
      test.n_prompt = generation ? 0 : opt_.n_prompt;
      test.n_gen = generation ? opt_.n_gen : 0;
      if ((generation ? test.n_gen : test.n_prompt) <= 0) continue;
      test.n_threads = threads_;
      test.repetitions = opt_.repetitions;
      auto speed = engine::run_speed_test(loaded->model, test);
      if (!speed) return speed.error();
      (generation ? e.tg_ts : e.pp_ts) = speed->avg_ts;
    }
    return e;
  }

  int n_chunks() const { return n_chunks_; }

 private:
  const QuantReportOptions& opt_;
  std::vector<int32_t> tokens_;
  int ctx_, threads_;
  int n_chunks_ = 0;
};

Status write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return make_error("cannot write " + path.string());
  return Ok{};
}

int run_quant_report(const QuantReportOptions& opt) {
  if (opt.ctx < 0 || opt.chunks < 0 || opt.threads < 0 || opt.n_prompt < 0 || opt.n_gen < 0 || opt.repetitions < 1) {
    return fail("-c, --chunks, -t, -p and -n must not be negative, and -r must be at least 1");
  }
  auto mixes = parse_types(opt.types);
  if (!mixes) return fail(mixes.error().message);
  auto base_file = gguf::File::open(opt.model);
  if (!base_file) return fail(base_file.error().message);
  auto base = load_model(opt.model);
  if (!base) return fail(base.error().message);
  auto text = read_prompt("", opt.text_file, false);
  if (!text) return fail(text.error().message);

  const int ctx = opt.ctx > 0 ? opt.ctx : static_cast<int>(std::min<uint32_t>(512, base->model->hparams().n_ctx_train));
  auto tokens = base->tokenizer->encode(*text, /*add_special=*/true, /*parse_special=*/false);
  if (opt.chunks > 0 && tokens.size() > static_cast<size_t>(opt.chunks) * ctx) {
    tokens.resize(static_cast<size_t>(opt.chunks) * ctx);
  }
  const int threads = opt.threads > 0 ? opt.threads : ThreadPool::physical_cores();
  // Quantizing needs unquantized weights: check every type before the first measurement.
  for (QuantMix mix : *mixes) {
    engine::QuantizeOptions q;
    q.mix = mix;
    if (auto plan = engine::plan_quantization(*base_file, q); !plan) {
      return fail("cannot make " + std::string(quant_mix_info(mix).name) + ": " + plan.error().message);
    }
  }
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec) return fail("cannot create " + opt.out_dir + ": " + ec.message());

  Measurer measurer(opt, std::move(tokens), ctx, threads);
  engine::KlReference reference(base->model->n_vocab());
  std::vector<engine::QuantReportEntry> entries;
  std::fprintf(stderr, "quant-report: measuring the base model %s\n", opt.model.c_str());
  auto base_entry = measurer.measure(opt.model, weight_type_name(*base_file), true, &reference);
  if (!base_entry) return fail(base_entry.error().message);
  entries.push_back(*base_entry);

  const std::string stem = fs::path(opt.model).stem().string();
  for (size_t i = 0; i < mixes->size(); ++i) {
    const std::string name(quant_mix_info((*mixes)[i]).name);
    const fs::path path = fs::path(opt.out_dir) / (stem + "-" + name + ".gguf");
    std::fprintf(stderr, "quant-report: [%zu/%zu] %s: quantizing, then perplexity and speed\n", i + 1, mixes->size(),
                 name.c_str());
    engine::QuantizeOptions q;
    q.mix = (*mixes)[i];
    q.n_threads = threads;
    if (auto s = engine::quantize_model(*base_file, path.string(), q); !s) return fail(s.error().message);
    auto entry = measurer.measure(path.string(), name, false, &reference);
    if (!opt.keep_files) fs::remove(path, ec);
    if (!entry) return fail(entry.error().message);
    entries.push_back(*entry);
  }

  engine::QuantReportInfo info{opt.model, opt.text_file, ctx, measurer.n_chunks(), threads, opt.n_prompt, opt.n_gen};
  const std::string markdown = engine::render_report_markdown(info, entries);
  if (auto s = write_text(fs::path(opt.out_dir) / "report.md", markdown); !s) return fail(s.error().message);
  if (auto s = write_text(fs::path(opt.out_dir) / "report.svg", engine::render_report_svg(info, entries)); !s) {
    return fail(s.error().message);
  }
  std::fputs(markdown.c_str(), stdout);
  std::fprintf(stderr, "quant-report: wrote %s/report.md and %s/report.svg\n", opt.out_dir.c_str(), opt.out_dir.c_str());
  return 0;
}

}  // namespace

void add_quant_report_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<QuantReportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "quant-report",
      "Quantize an F32/F16/BF16 model to several types and report size, perplexity, KL divergence and speed");
  cmd->add_option("-m,--model", opt->model, "Unquantized GGUF model (F32, F16 or BF16)")->required();
  cmd->add_option("-f,--file", opt->text_file, "Text for perplexity and KL divergence")->required();
  cmd->add_option("--types", opt->types, "Comma-separated types or mixes (default " + opt->types + ")");
  cmd->add_option("-o,--output-dir", opt->out_dir, "Directory for report.md and report.svg (default quant-report)");
  cmd->add_option("-c,--ctx-size", opt->ctx, "Tokens per perplexity chunk (default 512, at most the model's context)");
  cmd->add_option("--chunks", opt->chunks, "Use at most this many chunks of the text (default: all)");
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)");
  cmd->add_option("-p,--n-prompt", opt->n_prompt, "Prompt tokens of the speed test (default 128; 0 skips it)");
  cmd->add_option("-n,--n-gen", opt->n_gen, "Generated tokens of the speed test (default 32; 0 skips it)");
  cmd->add_option("-r,--repetitions", opt->repetitions, "Timed runs of each speed test (default 2)");
  cmd->add_flag("--keep-files", opt->keep_files, "Keep the quantized models in the output directory");
  cmd->callback([opt, &run] { run = [opt] { return run_quant_report(*opt); }; });
}

}  // namespace cria::cli
