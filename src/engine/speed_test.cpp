#include "engine/speed_test.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <numeric>
#include <random>

#include "model/session.h"
#include "quant/quant_mix.h"

namespace cria::engine {

namespace {

using Clock = std::chrono::steady_clock;

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

template <class V>
double mean_of(const std::vector<V>& v) {
  if (v.empty()) return 0;
  double sum = 0;
  for (V x : v) sum += static_cast<double>(x);
  return sum / static_cast<double>(v.size());
}

// Sample standard deviation (n - 1), as llama-bench; 0 for a single sample.
template <class V>
double stddev_of(const std::vector<V>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double sq = 0;
  for (V x : v) sq += (static_cast<double>(x) - m) * (static_cast<double>(x) - m);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));
}

// llama-bench starts prompts with BOS when the vocabulary adds one; every other id is random.
struct TokenSource {
  std::mt19937 rng;
  int64_t n_vocab;
  int32_t bos = -1;

  int32_t random() { return static_cast<int32_t>(rng() % static_cast<uint64_t>(n_vocab)); }
  int32_t first() { return bos >= 0 ? bos : random(); }
};

int32_t bos_to_add(const gguf::File& file, int64_t n_vocab) {
  auto add = file.get_bool("tokenizer.ggml.add_bos_token");
  auto bos = file.get_u32("tokenizer.ggml.bos_token_id");
  // SPM vocabularies add BOS unless told otherwise.
  const bool adds = add ? *add : file.find("tokenizer.ggml.model") != nullptr;
  if (!adds || !bos || *bos >= n_vocab) return -1;
  return static_cast<int32_t>(*bos);
}

Status run_prompt(model::Session& session, TokenSource& tokens, int n_prompt) {
  std::vector<int32_t> ids(static_cast<size_t>(n_prompt));
  ids[0] = tokens.first();
  for (size_t i = 1; i < ids.size(); ++i) ids[i] = tokens.random();
  return session.decode(ids);
}

Status run_generation(model::Session& session, TokenSource& tokens, int n_gen) {
  int32_t id = tokens.first();
  for (int i = 0; i < n_gen; ++i) {
    if (auto s = session.decode(std::span<const int32_t>(&id, 1)); !s) return s;
    id = tokens.random();
  }
  return Ok{};
}

// llama.cpp's size class of a Llama model, from its layer count (llm_load_hparams), and Mixtral's with 8
// experts. Other architectures and sizes llama.cpp does not know take the converter's label ("?B" without
// one).
std::string llama_size_class(const model::Model& model) {
  const auto& hp = model.hparams();
  const bool llama = hp.arch == "llama";
  if (llama && hp.n_expert == 8 && hp.n_layer == 32) return "8x7B";
  if (llama && hp.n_expert == 8 && hp.n_layer == 56) return "8x22B";
  if (llama && hp.n_expert == 0) {
    switch (hp.n_layer) {
      case 16:
      case 22: return "1B";
      case 26:
      case 28: return "3B";
      case 32: return model.n_vocab() == 49152 ? "3B" : model.n_vocab() < 40000 ? "7B" : "8B";
      case 36: return "8B";
      case 40: return "13B";
      case 48: return "34B";
      case 60: return "30B";
      case 80: return hp.n_head[0] == hp.n_head_kv[0] ? "65B" : "70B";
      default: break;
    }
  }
  if (auto label = model.file().get_string("general.size_label")) return *label;
  return "?B";
}

// general.file_type, or (as llama.cpp does for files without it) the most common matrix type, "guessed".
std::string file_type_label(const gguf::File& file) {
  if (auto ftype = file.get_u32("general.file_type")) return std::string(file_type_description(*ftype));
  std::map<std::string_view, int> counts;
  for (const auto& t : file.tensors()) {
    if (t.n_dims >= 2) ++counts[t.traits().name];
  }
  std::string_view most = "unknown";
  int best = 0;
  for (const auto& [name, n] : counts) {
    if (n > best) most = name, best = n;
  }
  return std::string(most) + " (guessed)";
}

}  // namespace

std::string SpeedTest::name() const {
  if (n_prompt > 0 && n_gen > 0) return "pp" + std::to_string(n_prompt) + "+tg" + std::to_string(n_gen);
  if (n_prompt > 0) return "pp" + std::to_string(n_prompt);
  return "tg" + std::to_string(n_gen);
}

Result<SpeedResult> run_speed_test(const std::shared_ptr<const model::Model>& model, const SpeedTest& test) {
  if (test.n_prompt < 0 || test.n_gen < 0 || test.n_prompt + test.n_gen == 0) {
    return make_error("a speed test needs a positive prompt or generation length");
  }
  if (test.repetitions < 1) return make_error("repetitions must be at least 1");
  model::SessionOptions options;
  options.n_ctx = test.n_prompt + test.n_gen;
  options.n_batch = test.n_batch;
  options.n_threads = test.n_threads;
  options.flash_attn = test.flash_attn;
  auto session_or = model::Session::create(model, options, test.cache_types);
  if (!session_or) return session_or.error();
  model::Session& session = **session_or;
  TokenSource tokens{std::mt19937(test.seed), model->n_vocab(), bos_to_add(model->file(), model->n_vocab())};

  SpeedResult result;
  result.test = test;
  result.test_time = utc_now();
  // Warm-up, as llama-bench: the whole prompt, and one generated token (page faults, caches, clocks).
  if (test.n_prompt > 0) {
    if (auto s = run_prompt(session, tokens, test.n_prompt); !s) return s.error();
  }
  if (test.n_gen > 0) {
    session.truncate(0);
    if (auto s = run_generation(session, tokens, 1); !s) return s.error();
  }
  for (int rep = 0; rep < test.repetitions; ++rep) {
    session.truncate(0);
    const auto start = Clock::now();
    if (test.n_prompt > 0) {
      if (auto s = run_prompt(session, tokens, test.n_prompt); !s) return s.error();
    }
    if (test.n_gen > 0) {
      if (auto s = run_generation(session, tokens, test.n_gen); !s) return s.error();
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    result.samples_ns.push_back(static_cast<uint64_t>(std::max<int64_t>(ns, 1)));
    result.samples_ts.push_back(1e9 * (test.n_prompt + test.n_gen) / static_cast<double>(result.samples_ns.back()));
  }
  result.avg_ns = mean_of(result.samples_ns);
  result.stddev_ns = stddev_of(result.samples_ns);
  result.avg_ts = mean_of(result.samples_ts);
  result.stddev_ts = stddev_of(result.samples_ts);
  return result;
}

ModelSummary summarize_model(const model::Model& model) {
  ModelSummary s;
  for (const auto& t : model.file().tensors()) {
    s.n_params += static_cast<uint64_t>(t.n_elements());
    s.n_bytes += t.n_bytes;
  }
  s.type = model.hparams().arch + " " + llama_size_class(model) + " " + file_type_label(model.file());
  return s;
}

}  // namespace cria::engine
