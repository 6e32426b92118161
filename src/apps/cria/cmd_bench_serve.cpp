// `cria bench-serve`: a closed-loop serving benchmark against any OpenAI-compatible server (cria serve,
// llama-server, ...). For each concurrency level, that many clients each send streaming
// /v1/completions requests back to back (a distinct random prompt of --prompt-tokens token ids, exactly
// --gen-tokens generated with ignore_eos), and the stream's events are timed as they arrive: time to
// first token, inter-token latency, and aggregate output tokens per second.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "http/client.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct BenchServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<int> concurrency{1, 2, 4, 8, 16};
  int prompt_tokens = 128;
  int gen_tokens = 64;
  int requests = 4;  // per client and level
  int vocab = 0;     // 0: from /v1/models (meta.n_vocab)
  uint32_t seed = 1;
  std::string api_key;
  std::string output = "md";
};

struct RequestTiming {
  double ttft = 0;                 // seconds
  std::vector<double> itl;         // seconds between events after the first
  int tokens = 0;
  bool ok = false;
  std::string error;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

http::ClientRequest base_request(const BenchServeOptions& o) {
  http::ClientRequest r;
  r.host = o.host;
  r.port = o.port;
  r.timeout = std::chrono::milliseconds(300000);
  if (!o.api_key.empty()) r.headers.push_back({"Authorization", "Bearer " + o.api_key});
  return r;
}

RequestTiming one_request(const BenchServeOptions& o, const std::vector<int>& prompt) {
  RequestTiming t;
  http::ClientRequest r = base_request(o);
  r.method = "POST";
  r.target = "/v1/completions";
  r.headers.push_back({"Content-Type", "application/json"});
  r.body = json{{"prompt", prompt}, {"max_tokens", o.gen_tokens}, {"stream", true},
                {"temperature", 0},  {"ignore_eos", true},         {"cache_prompt", false},
                {"stream_options", {{"include_usage", true}}}}
               .dump();
  const auto start = Clock::now();
  auto last = start;
  bool first = true;
  int usage_tokens = -1;  // from the usage chunk, when the server sends one
  std::string pending;
  auto on_data = [&](std::string_view data) {
    if (data == "[DONE]") return;
    auto j = json::parse(data, nullptr, false);
    if (j.is_discarded()) return;
    if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("completion_tokens")) {
      usage_tokens = j["usage"]["completion_tokens"].get<int>();
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
    const auto& c = j["choices"][0];
    if (!c.contains("text") || !c["text"].is_string() || (c["text"].get<std::string>().empty() && !c["finish_reason"].is_null())) {
      return;
    }
    const auto now = Clock::now();
    if (first) {
      t.ttft = std::chrono::duration<double>(now - start).count();
      first = false;
    } else {
      t.itl.push_back(std::chrono::duration<double>(now - last).count());
    }
    last = now;
    ++t.tokens;
  };
  auto resp = http::fetch(r, [&](std::string_view piece) {
    pending.append(piece);
    http::take_sse_events(pending, on_data);
    return true;
  });
  if (!resp) {
    t.error = resp.error().message;
  } else if (resp->status != 200) {
    t.error = "HTTP " + std::to_string(resp->status) + ": " + resp->body.substr(0, 200);
  } else {
    t.ok = true;
    if (usage_tokens >= 0) t.tokens = usage_tokens;
  }
  return t;
}

int run_bench_serve(const BenchServeOptions& o) {
  if (o.prompt_tokens < 1 || o.gen_tokens < 1 || o.requests < 1) return fail("--prompt-tokens, --gen-tokens and --requests must be positive");
  for (int c : o.concurrency) {
    if (c < 1 || c > 1024) return fail("-npl values must be 1 to 1024");
  }
  if (o.output != "md" && o.output != "jsonl") return fail("--output-format must be md or jsonl");
  int vocab = o.vocab;
  json meta;
  {
    http::ClientRequest r = base_request(o);
    r.target = "/v1/models";
    r.timeout = std::chrono::milliseconds(10000);
    auto resp = http::fetch(r);
    if (!resp) return fail(resp.error().message);
    auto j = json::parse(resp->body, nullptr, false);
    if (!j.is_discarded() && j.contains("data") && j["data"].is_array() && !j["data"].empty() && j["data"][0].contains("meta")) {
      meta = j["data"][0]["meta"];
      if (vocab == 0 && meta.contains("n_vocab") && meta["n_vocab"].is_number_integer()) vocab = meta["n_vocab"].get<int>();
    }
  }
  if (vocab < 300) return fail("cannot tell the vocabulary size from /v1/models; give --vocab N");
  const std::string budget = meta.contains("prefill_budget") ? meta["prefill_budget"].dump() : "n/a";

  std::mt19937 rng(o.seed);
  // Ids from 256 up: past the byte and control tokens of the common vocabularies.
  std::uniform_int_distribution<int> id(256, vocab - 1);
  auto make_prompt = [&] {
    std::vector<int> p(static_cast<size_t>(o.prompt_tokens));
    for (int& t : p) t = id(rng);
    return p;
  };
  (void)one_request(o, make_prompt());  // warm-up

  if (o.output == "md") {
    std::printf("bench-serve: %s:%d, prompts of %d tokens, %d generated, %d requests per client, prefill budget %s\n\n",
                o.host.c_str(), o.port, o.prompt_tokens, o.gen_tokens, o.requests, budget.c_str());
    std::printf("| streams | requests | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | output tok/s | errors |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
  }
  for (int level : o.concurrency) {
    std::vector<std::vector<std::vector<int>>> prompts(static_cast<size_t>(level));
    for (auto& client : prompts) {
      for (int i = 0; i < o.requests; ++i) client.push_back(make_prompt());
    }
    std::mutex mu;
    std::vector<RequestTiming> timings;
    const auto start = Clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < level; ++c) {
      clients.emplace_back([&, c] {
        for (const auto& p : prompts[static_cast<size_t>(c)]) {
          RequestTiming t = one_request(o, p);
          std::lock_guard lock(mu);
          timings.push_back(std::move(t));
        }
      });
    }
    for (auto& t : clients) t.join();
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> ttft, itl;
    int tokens = 0, errors = 0;
    std::string first_error;
    for (const auto& t : timings) {
      if (!t.ok) {
        ++errors;
        if (first_error.empty()) first_error = t.error;
        continue;
      }
      ttft.push_back(t.ttft);
      itl.insert(itl.end(), t.itl.begin(), t.itl.end());
      tokens += t.tokens;
    }
    const double tps = static_cast<double>(tokens) / wall;
    if (o.output == "md") {
      std::printf("| %d | %zu | %.0f | %.0f | %.1f | %.1f | %.1f | %d |\n", level, timings.size(),
                  percentile(ttft, 50) * 1e3, percentile(ttft, 99) * 1e3, percentile(itl, 50) * 1e3,
                  percentile(itl, 99) * 1e3, tps, errors);
    } else {
      std::printf("%s\n", json{{"streams", level},
                               {"requests", timings.size()},
                               {"ttft_p50_ms", percentile(ttft, 50) * 1e3},
                               {"ttft_p99_ms", percentile(ttft, 99) * 1e3},
                               {"itl_p50_ms", percentile(itl, 50) * 1e3},
                               {"itl_p99_ms", percentile(itl, 99) * 1e3},
                               {"output_tokens_per_s", tps},
                               {"errors", errors},
                               {"prefill_budget", budget}}
                              .dump()
                              .c_str());
    }
    if (!first_error.empty()) std::fprintf(stderr, "bench-serve: first error at %d streams: %s\n", level, first_error.c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

void add_bench_serve_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<BenchServeOptions>();
  CLI::App* cmd = app.add_subcommand("bench-serve", "Closed-loop serving benchmark of an OpenAI-compatible server (TTFT, ITL, tokens/s)");
  cmd->add_option("--host", opt->host, "Server address (default 127.0.0.1)");
  cmd->add_option("--port", opt->port, "Server port (default 8080)");
  cmd->add_option("--npl", opt->concurrency, "Concurrent streams, comma-separated (-npl, default 1,2,4,8,16)")->delimiter(',');
  cmd->add_option("--prompt-tokens", opt->prompt_tokens, "Prompt length in tokens (default 128)");
  cmd->add_option("--gen-tokens", opt->gen_tokens, "Tokens generated per request (default 64)");
  cmd->add_option("--requests", opt->requests, "Requests per client at each level (default 4)");
  cmd->add_option("--vocab", opt->vocab, "Vocabulary size for random prompts (default: from /v1/models)");
  cmd->add_option("--seed", opt->seed, "Seed of the random prompts (default 1)");
  cmd->add_option("--api-key", opt->api_key, "API key to send");
  cmd->add_option("--output-format", opt->output, "md (a table) or jsonl");
  cmd->callback([opt, &run_action] { run_action = [opt] { return run_bench_serve(*opt); }; });
}

}  // namespace cria::cli
