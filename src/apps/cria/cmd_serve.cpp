// `cria serve`: the OpenAI-compatible server, with llama-server's flags where it has them. It listens
// first (so /health says 503 "Loading model" while the model loads), then serves; SIGINT or SIGTERM
// stops accepting, gives running requests a grace period and exits 0.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "commands.h"
#include "gguf/gguf_reader.h"
#include "http/http_server.h"
#include "generation_options.h"
#include "model_loading.h"
#include "serve/api_server.h"
#include "model/session.h"
#include "serve/scheduler.h"

namespace cria::cli {

namespace {

struct ServeOptions {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int n_parallel = 4;
  int n_ctx = 0;  // 0: 4096 x ... see run_serve
  int ctx_per_seq = 0;
  int n_batch = 512;
  int n_ubatch = 512;
  int threads = 0;
  int threads_http = 2;
  std::string api_key, api_key_file;
  std::string ssl_cert, ssl_key;
  std::string chat_template;
  std::string alias;
  int timeout = 600;
  int max_queue = 256;
  int prefill_budget = 0;
  int grace = 10;
  bool metrics = false;
  std::string reasoning_format = "auto";
  bool flash_attn = false;
  CacheTypeFlags cache_types;
  bool deterministic = false;
  bool cont_batching = true;
};

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string validate(const ServeOptions& o) {
  if (o.port < 0 || o.port > 65535) return "--port must be 0 to 65535, got " + std::to_string(o.port);
  if (o.n_parallel < 1 || o.n_parallel > 256) return "-np must be 1 to 256, got " + std::to_string(o.n_parallel);
  if (o.n_ctx < 0) return "-c must not be negative, got " + std::to_string(o.n_ctx);
  if (o.n_batch < 1 || o.n_ubatch < 1) return "-b and -ub must be positive";
  if (std::string bad = check_thread_count(o.threads, "-t"); !bad.empty()) return bad;
  if (auto types = cache_types(o.cache_types); !types) return types.error().message;
  if (o.threads_http < 1 || o.threads_http > 64) return "--threads-http must be 1 to 64";
  if (o.timeout < 1) return "--timeout must be at least 1 second";
  if (o.max_queue < 0) return "--max-queue must not be negative";
  if (!o.api_key.empty() && !o.api_key_file.empty()) return "give --api-key or --api-key-file, not both";
  if (o.ssl_cert.empty() != o.ssl_key.empty()) return "--ssl-cert-file and --ssl-key-file go together";
  return "";
}

// The first non-empty line of the key file.
Result<std::string> read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("cannot read the API key file '" + path + "'");
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) return line;
  }
  return make_error("the API key file '" + path + "' holds no key");
}

int run_serve(const ServeOptions& o) {
  if (auto problem = validate(o); !problem.empty()) return fail(problem);
  std::string api_key = o.api_key;
  if (!o.api_key_file.empty()) {
    auto key = read_key_file(o.api_key_file);
    if (!key) return fail(key.error().message);
    api_key = *key;
  }
  if (!is_loopback(o.host) && api_key.empty()) {
    std::fprintf(stderr, "cria serve: warning: listening on %s without an API key: anyone who can reach it can use "
                         "it (--api-key or --api-key-file)\n", o.host.c_str());
  }
  const std::string model_path = o.model.empty() ? default_model_path() : o.model;

  // SIGINT and SIGTERM are taken by this thread alone (sigwait), so every thread started below blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serve::ApiOptions api;
  api.model_id = o.alias.empty() ? std::filesystem::path(model_path).filename().string() : o.alias;
  api.api_key = api_key;
  api.metrics = o.metrics;
  api.split_reasoning = o.reasoning_format != "none";
  api.created = static_cast<int64_t>(std::time(nullptr));
  auto server_api = std::make_shared<serve::ApiServer>(api);

  http::ServerOptions http_options;
  http_options.host = o.host;
  http_options.port = o.port;
  http_options.io_threads = o.threads_http;
  http_options.body_timeout = std::chrono::seconds(o.timeout);
  http_options.write_timeout = std::chrono::seconds(o.timeout);
  http_options.ssl_cert_file = o.ssl_cert;
  http_options.ssl_key_file = o.ssl_key;
  http_options.error_body = &serve::ApiServer::error_body;
  auto server = http::Server::start(http_options,
                                    [server_api](std::shared_ptr<http::Exchange> ex) { server_api->handle(ex); });
  if (!server) return fail(server.error().message);
  std::fprintf(stderr, "cria serve: listening on %s://%s:%d (loading %s)\n", o.ssl_cert.empty() ? "http" : "https",
               o.host.c_str(), (*server)->port(), model_path.c_str());

  auto loaded = load_model(model_path);
  if (!loaded) {
    (*server)->stop(std::chrono::milliseconds(0));
    return fail(loaded.error().message);
  }
  std::string template_text;
  {
    auto file = gguf::File::open(model_path);
    auto chosen = chat::select_template(file ? &*file : nullptr, o.chat_template);
    if (!chosen && o.chat_template.empty()) {
      // As llama-server: a model without a template is served with ChatML, and says so.
      std::fprintf(stderr, "cria serve: note: the model has no chat template; using chatml (--chat-template to choose)\n");
      chosen = chat::select_template(nullptr, "chatml");
    }
    if (!chosen) {
      (*server)->stop(std::chrono::milliseconds(0));
      return fail(chosen.error().message);
    }
    template_text = *chosen;
  }
  serve::SchedulerOptions so;
  so.n_parallel = o.n_parallel;
  // -c is the whole cache; by default each of the -np sequences gets the model's default context.
  so.n_ctx = o.n_ctx > 0 ? o.n_ctx : model::default_context_size(loaded->model->hparams()) * o.n_parallel;
  so.ctx_per_seq = o.ctx_per_seq;
  so.prefill_budget = o.prefill_budget;
  so.max_queue = o.max_queue;
  so.runner.n_batch = std::min(o.n_batch, o.n_ubatch);
  so.runner.n_threads = o.threads;
  so.runner.flash_attn = o.flash_attn;
  so.cache_types = cache_types(o.cache_types).value();
  so.runner.batch_invariant = o.deterministic;
  auto scheduler = serve::Scheduler::create(loaded->model, loaded->tokenizer, so);
  if (!scheduler) {
    (*server)->stop(std::chrono::milliseconds(0));
    return fail(scheduler.error().message);
  }
  server_api->set_ready(loaded->model, loaded->tokenizer, template_text, scheduler->get());
  const std::string budget = (*scheduler)->prefill_budget() > 0 ? std::to_string((*scheduler)->prefill_budget())
                                                                 : std::string("adaptive");
  std::fprintf(stderr, "cria serve: ready: model %s, %d sequences, %d cells (%d per sequence), prefill budget %s, "
                       "%d threads\n", api.model_id.c_str(), so.n_parallel, so.n_ctx, (*scheduler)->ctx_per_seq(),
               budget.c_str(), (*scheduler)->runner().n_threads());

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "cria serve: %s: finishing running requests (up to %d s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
               o.grace);
  (*server)->stop(std::chrono::seconds(o.grace));
  (*scheduler)->stop();
  std::fprintf(stderr, "cria serve: stopped\n");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "An OpenAI-compatible HTTP server with continuous batching (as llama-server)");
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: the bundled KJV model)");
  cmd->add_option("--host", opt->host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", opt->port, "Port (default 8080; 0: any free port)");
  cmd->add_option("--parallel", opt->n_parallel, "Sequences decoded together (-np, default 4)");
  cmd->add_option("-c,--ctx-size", opt->n_ctx, "KV cache cells for all sequences together (default: -np x the model's context, at most 4096 each)");
  cmd->add_option("--ctx-per-seq", opt->ctx_per_seq, "Most tokens one request may hold (default: the model's training context, capped by -c)");
  cmd->add_option("-b,--batch-size", opt->n_batch, "Most tokens per decode (default 512)");
  cmd->add_option("--ubatch-size", opt->n_ubatch, "Most tokens per forward pass (-ub, default 512)");
  cmd->add_option("-t,--threads", opt->threads, "Threads for the model (default: physical cores)");
  cmd->add_option("--threads-http", opt->threads_http, "Threads for HTTP connections (default 2)");
  cmd->add_option("--api-key", opt->api_key, "Require this key (Authorization: Bearer KEY)");
  cmd->add_option("--api-key-file", opt->api_key_file, "Read the key from this file");
  cmd->add_option("--ssl-cert-file", opt->ssl_cert, "PEM certificate: serve HTTPS");
  cmd->add_option("--ssl-key-file", opt->ssl_key, "PEM private key for --ssl-cert-file");
  cmd->add_option("--chat-template", opt->chat_template, "Built-in template name or Jinja file (default: the model's)");
  cmd->add_option("-a,--alias", opt->alias, "Model name in responses and /v1/models (default: the file name)");
  cmd->add_option("--timeout", opt->timeout, "Seconds a client may take to send a request or read a response (-to, default 600)");
  cmd->add_option("--max-queue", opt->max_queue, "Requests that may wait for a sequence; more get 503 (default 256)");
  cmd->add_option("--prefill-budget", opt->prefill_budget,
                  "Prompt tokens a step may carry while others generate (default: twice the generating sequences, at "
                  "least 16): lower keeps streams smoother, higher answers new requests sooner");
  cmd->add_option("--grace", opt->grace, "Seconds running requests get to finish on SIGINT/SIGTERM (default 10)");
  cmd->add_flag("--metrics", opt->metrics, "Serve Prometheus metrics at /metrics");
  cmd->add_option("--reasoning-format", opt->reasoning_format,
                  "auto or deepseek: <think>...</think> goes to message.reasoning_content; none: it stays in the "
                  "content (default auto)")
      ->check(CLI::IsMember({"auto", "deepseek", "none"}));
  cmd->add_flag("--flash-attn", opt->flash_attn, "Flash attention's online softmax (-fa)");
  add_cache_type_flags(cmd, opt->cache_types);
  cmd->add_flag("--cont-batching", opt->cont_batching, "Continuous batching (-cb; always on)");
  cmd->add_flag("--deterministic", opt->deterministic,
                "Batch-invariant decoding: a request's tokens do not depend on what else runs (slower prompts on "
                "models with fewer than 4 query heads per KV head)");
  cmd->callback([opt, &run_action] { run_action = [opt] { return run_serve(*opt); }; });
}

}  // namespace cria::cli
