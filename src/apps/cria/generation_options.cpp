#include "generation_options.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/escapes.h"
#include "grammar/json_schema.h"
#include "llama_cpp_compat.h"

namespace cria::cli {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void add_sampler_flags(CLI::App* cmd, GenerationFlags& f) {
  auto& s = f.sampling;
  cmd->add_option("--typical", s.typical_p, "Locally typical sampling p, 1 off (default 1.0)");
  cmd->add_option("--dynatemp-range", s.dynatemp_range, "Dynamic temperature: temp +- this, by the entropy; 0 off (default 0.0)");
  cmd->add_option("--dynatemp-exp", s.dynatemp_exponent, "Dynamic temperature exponent (default 1.0)");
  cmd->add_option("--mirostat", s.mirostat, "Mirostat: 0 off, 1 mirostat, 2 mirostat 2.0; replaces the chain (default 0)");
  cmd->add_option("--mirostat-lr", s.mirostat_eta, "Mirostat learning rate eta (default 0.1)");
  cmd->add_option("--mirostat-ent", s.mirostat_tau, "Mirostat target entropy tau (default 5.0)");
  cmd->add_option("--xtc-probability", s.xtc_probability, "XTC probability, 0 off (default 0.0)");
  cmd->add_option("--xtc-threshold", s.xtc_threshold, "XTC threshold, above 0.5 off (default 0.1)");
  cmd->add_option("--dry-multiplier", s.dry_multiplier, "DRY multiplier, 0 off (default 0.0)");
  cmd->add_option("--dry-base", s.dry_base, "DRY base (default 1.75)");
  cmd->add_option("--dry-allowed-length", s.dry_allowed_length, "DRY: repeats this long go unpenalised (default 2)");
  cmd->add_option("--dry-penalty-last-n", s.dry_penalty_last_n, "DRY: tokens looked back, -1 the context, 0 off (default -1)");
  cmd->add_option_function<std::vector<std::string>>(
      "--dry-sequence-breaker",
      [&f](const std::vector<std::string>& values) {
        for (const auto& v : values) {
          if (!f.breakers_given) f.sampling.dry_sequence_breakers.clear();
          f.breakers_given = true;
          if (v != "none") f.sampling.dry_sequence_breakers.push_back(process_escapes(v));  // llama.cpp processes escapes in breakers
        }
      },
      "DRY sequence breaker, repeatable; the first replaces the defaults, 'none' clears them (default \\n : \" *)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option_function<std::string>(
      "--samplers",
      [&f](const std::string& v) { f.sampler_error = sampling::parse_stage_names(v, f.sampling.stages); },
      "Sampler order, names separated by ';' (default " + sampling::stage_names(sampling::default_stages()) + ")");
  cmd->add_option_function<std::string>(
      "--sampling-seq,--sampler-seq",
      [&f](const std::string& v) { f.sampler_error = sampling::parse_stage_chars(v, f.sampling.stages); },
      "Sampler order, one letter each (default edkypmxt)");
}

}  // namespace

namespace {

Result<std::string> read_text_file(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) return make_error(std::string(flag) + ": cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

Result<std::shared_ptr<const grammar::Grammar>> grammar_of(const GenerationFlags& f) {
  const int given = !f.grammar.empty() + !f.grammar_file.empty() + !f.json_schema.empty() + !f.json_schema_file.empty();
  if (given == 0) return std::shared_ptr<const grammar::Grammar>();
  if (given > 1) return make_error("give one of --grammar, --grammar-file, --json-schema and --json-schema-file");
  std::string text = f.grammar;
  const char* flag = "--grammar";
  if (!f.grammar_file.empty()) {
    flag = "--grammar-file";
    auto file = read_text_file(f.grammar_file, flag);
    if (!file) return file.error();
    text = std::move(*file);
  }
  if (!f.json_schema.empty() || !f.json_schema_file.empty()) {
    flag = f.json_schema.empty() ? "--json-schema-file" : "--json-schema";
    std::string schema_text = f.json_schema;
    if (!f.json_schema_file.empty() || schema_text.starts_with("@")) {  // -j @FILE reads the file
      auto file = read_text_file(f.json_schema_file.empty() ? schema_text.substr(1) : f.json_schema_file, flag);
      if (!file) return file.error();
      schema_text = std::move(*file);
    }
    const auto schema = nlohmann::ordered_json::parse(schema_text, nullptr, false);
    if (schema.is_discarded()) return make_error(std::string(flag) + ": the schema is not valid JSON");
    auto converted = grammar::json_schema_to_gbnf(schema);
    if (!converted) return make_error(std::string(flag) + ": " + converted.error().message);
    text = std::move(*converted);
  }
  auto g = grammar::parse_gbnf(text);
  if (!g) return make_error(std::string(flag) + ": " + g.error().message);
  return std::shared_ptr<const grammar::Grammar>(std::make_shared<grammar::Grammar>(std::move(*g)));
}

void constrain(sampling::Sampler& sampler, const std::shared_ptr<const grammar::Grammar>& g, const tokenizer::Tokenizer& tok) {
  if (!g) return;
  auto pieces = std::make_shared<std::vector<std::string>>(static_cast<size_t>(tok.n_vocab()));
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < tok.n_vocab(); ++id) {
    if (tok.is_eog(id)) eog.push_back(id);
    (*pieces)[static_cast<size_t>(id)] = tok.token_to_piece(id, /*special=*/false);
  }
  sampler.set_grammar(g, std::move(pieces), eog);
}

void add_cache_type_flags(CLI::App* cmd, CacheTypeFlags& f) {
  cmd->add_option("--cache-type-k", f.k, "KV cache type of the keys (-ctk): f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1 (default f16)");
  cmd->add_option("--cache-type-v", f.v, "KV cache type of the values (-ctv), as -ctk (default f16)");
}

Result<model::KvCacheTypes> cache_types(const CacheTypeFlags& f) {
  auto k = model::parse_kv_cache_type(f.k);
  if (!k) return make_error("-ctk: " + k.error().message);
  auto v = model::parse_kv_cache_type(f.v);
  if (!v) return make_error("-ctv: " + v.error().message);
  return model::KvCacheTypes{*k, *v};
}

void print_kv_cache_size(const char* who, const model::KvCache& cache) {
  if (logs_disabled()) return;
  constexpr double kMiB = 1024.0 * 1024.0;
  // A pipeline stage's cache holds its own layers: say so, since the other ranks hold the rest.
  const std::string share = cache.journaling() ? " (rank 0's layers " + cache.layers().text() + ")" : "";
  std::fprintf(stderr, "%s: KV self size = %.2f MiB, K (%s): %.2f MiB, V (%s): %.2f MiB%s\n", who,
               static_cast<double>(cache.k_bytes() + cache.v_bytes()) / kMiB,
               model::kv_cache_type_name(cache.types().k).c_str(), static_cast<double>(cache.k_bytes()) / kMiB,
               model::kv_cache_type_name(cache.types().v).c_str(), static_cast<double>(cache.v_bytes()) / kMiB,
               share.c_str());
}

void add_generation_flags(CLI::App* cmd, GenerationFlags& f) {
  cmd->add_option("-t,--threads", f.threads, "Threads (default: physical cores)");
  cmd->add_option("-c,--ctx-size", f.ctx, "Context size (default: the model's, capped at 4096)");
  cmd->add_option("-b,--batch-size", f.batch, "Prompt tokens per forward pass (default 512)");
  cmd->add_flag("--flash-attn", f.flash_attn,
                "Flash attention (-fa, -fa on|off|auto): online softmax, f32 probabilities (default and auto: llama.cpp's exact softmax)");
  add_cache_type_flags(cmd, f.cache_types);
  cmd->add_option("-s,--seed", f.seed, "Random seed (default: random)");
  cmd->add_option("--temp", f.sampling.temp, "Temperature; 0 is greedy (default 0.8)");
  cmd->add_option("--top-k", f.sampling.top_k, "Top-k, 0 off (default 40)");
  cmd->add_option("--top-p", f.sampling.top_p, "Top-p, 1 off (default 0.95)");
  cmd->add_option("--min-p", f.sampling.min_p, "Min-p, 0 off (default 0.05)");
  cmd->add_option("--repeat-penalty", f.sampling.repeat_penalty, "Repetition penalty, 1 off (default 1.0)");
  cmd->add_option("--repeat-last-n", f.sampling.repeat_last_n, "Tokens the penalties look back, -1 the context (default 64)");
  cmd->add_option("--presence-penalty", f.sampling.presence_penalty, "Presence penalty (default 0)");
  cmd->add_option("--frequency-penalty", f.sampling.frequency_penalty, "Frequency penalty (default 0)");
  add_sampler_flags(cmd, f);
  cmd->add_option("--grammar", f.grammar, "GBNF grammar the output must follow (llama.cpp's format)");
  cmd->add_option("--grammar-file", f.grammar_file, "File with a GBNF grammar the output must follow");
  cmd->add_option("-j,--json-schema", f.json_schema, "JSON Schema the output must follow (TEXT, or @FILE)");
  cmd->add_option("--json-schema-file", f.json_schema_file, "File with a JSON Schema the output must follow (-jf)");
}

std::string check_generation_flags(const GenerationFlags& f) {
  if (f.ctx < 0) return "-c must be 0 (the model's context) or positive, got " + std::to_string(f.ctx);
  if (f.batch < 1) return "-b must be positive, got " + std::to_string(f.batch);
  if (std::string bad = check_thread_count(f.threads, "-t"); !bad.empty()) return bad;
  if (f.sampling.repeat_penalty <= 0) return "--repeat-penalty must be positive (1 is off), got " + number(f.sampling.repeat_penalty);
  if (f.sampling.top_p < 0 || f.sampling.top_p > 1) return "--top-p must be in [0, 1]";
  if (f.sampling.min_p < 0 || f.sampling.min_p > 1) return "--min-p must be in [0, 1]";
  if (f.sampling.repeat_last_n < -1) return "--repeat-last-n must be -1, 0 or positive";
  if (!f.sampler_error.empty()) return f.sampler_error;
  if (auto types = cache_types(f.cache_types); !types) return types.error().message;
  if (auto g = grammar_of(f); !g) return g.error().message;
  if (f.sampling.mirostat < 0 || f.sampling.mirostat > 2) return "--mirostat must be 0, 1 or 2, got " + std::to_string(f.sampling.mirostat);
  if (f.sampling.typical_p <= 0 || f.sampling.typical_p > 1) return "--typical must be in (0, 1]";
  if (f.sampling.xtc_probability < 0 || f.sampling.xtc_probability > 1) return "--xtc-probability must be in [0, 1]";
  if (f.sampling.dry_penalty_last_n < -1) return "--dry-penalty-last-n must be -1, 0 or positive";
  if (f.sampling.dry_allowed_length < 0) return "--dry-allowed-length must be 0 or positive";
  return "";
}

int thread_cap() {
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(kMinThreadCap, 4 * cpus);
}

std::string check_thread_count(int threads, const char* flag) {
  if (threads < 0) return std::string(flag) + " must be positive, got " + std::to_string(threads);
  if (threads > thread_cap()) {
    return std::string(flag) + " " + std::to_string(threads) + " is more threads than cria allows: at most " +
           std::to_string(thread_cap()) + " here (4 per CPU, never fewer than " + std::to_string(kMinThreadCap) + ")";
  }
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (cpus > 0 && threads > cpus) {
    std::fprintf(stderr, "cria: warning: %s %d is more threads than the %d CPUs: they will take turns, slower than %d\n",
                 flag, threads, cpus, cpus);
  }
  return "";
}

sampling::SamplingParams seeded_sampling(const GenerationFlags& f) {
  sampling::SamplingParams sp = f.sampling;
  sp.seed = f.seed < 0 ? 0xFFFFFFFF : static_cast<uint32_t>(f.seed);
  return sp;
}

}  // namespace cria::cli
