// A load and fault test of the server, in process on the loopback: 64 clients for CRIA_LOAD_SECONDS
// (default 15; scripts/load-test.sh runs 60) send a mix of streamed and whole chat and text completions;
// about 10% leave in the middle of a stream, 5% send malformed bodies and a few send prompts longer
// than the context. Afterwards: nothing crashed, every answer that completed was well-formed (JSON
// with choices, or a stream ending in [DONE], or an OpenAI error object), no request is left running,
// and the process's resident memory is back within 10% of its figure before the load.
// With CRIA_LOAD_TARGET=HOST:PORT the same clients load a server that is already running instead
// (scripts/replicas-test.sh: replicas behind haproxy, one of them killed mid-run); then only the answers
// are checked, and requests cut off by the dying replica are tallied apart as clean errors.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "chat/chat_template.h"
#include "gguf/gguf_reader.h"
#include "http/client.h"
#include "http/http_server.h"
#include "model/model.h"
#include "serve/api_server.h"
#include "serve/scheduler.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::serve {
namespace {

using json = nlohmann::json;

long resident_kib() {
  malloc_trim(0);
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// Where the clients send their requests; `external` when that is a server the test did not start.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 0;
  bool external = false;
};

struct Tally {
  std::atomic<int> ok{0}, errors_well_formed{0}, left{0}, malformed_sent{0}, bad{0}, clean{0};
  std::mutex mu;
  std::string first_bad, first_clean;
  void fail(const std::string& what) {
    ++bad;
    std::lock_guard lock(mu);
    if (first_bad.empty()) first_bad = what;
  }
  void clean_error(const std::string& what) {
    ++clean;
    std::lock_guard lock(mu);
    if (first_clean.empty()) first_clean = what;
  }
};

bool is_error_object(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  return !j.is_discarded() && j.contains("error") && j["error"].contains("message") && j["error"]["message"].is_string();
}

// A replica that dies under a load balancer takes its requests in flight with it: the client sees the
// connection cut (before the headers or inside a stream) or the proxy's 502/503/504 at once. Such an
// error is clean, since the client knows its request failed and may retry; a hang (a timeout), a
// garbled body or a 200 whose stream lacks [DONE] is not.
bool connection_cut(const std::string& message) {
  return message.find("closed") != std::string::npos || message.find("reset") != std::string::npos ||
         message.find("Broken pipe") != std::string::npos;
}

void client_loop(const Endpoint& to, int id, std::chrono::steady_clock::time_point end, Tally& t) {
  std::mt19937 rng(static_cast<uint32_t>(id) * 7919u + 1);
  std::uniform_int_distribution<int> pct(0, 99);
  std::string long_text;
  for (int i = 0; i < 80; ++i) long_text += "And God said, Let there be light: and there was light. ";
  while (std::chrono::steady_clock::now() < end) {
    const int roll = pct(rng);
    const bool chat = pct(rng) < 60;
    const bool stream = pct(rng) < 50;
    const bool leave = stream && roll < 10;
    const bool malformed = roll >= 10 && roll < 15;
    const bool too_long = roll == 15;
    const std::string prompt = too_long ? long_text : test::kKjvPrompts[rng() % 8];
    json body = chat ? json{{"messages", json::array({{{"role", "user"}, {"content", prompt}}})}} : json{{"prompt", prompt}};
    body["max_tokens"] = 8 + static_cast<int>(rng() % 40);
    body["temperature"] = (rng() % 2) ? 0.0 : 0.8;
    body["stream"] = stream;
    http::ClientRequest r;
    r.host = to.host;
    r.port = to.port;
    r.method = "POST";
    r.target = chat ? "/v1/chat/completions" : "/v1/completions";
    r.headers = {{"Content-Type", "application/json"}};
    r.timeout = std::chrono::milliseconds(120000);
    r.body = body.dump();
    if (malformed) {
      const int kind = static_cast<int>(rng() % 3);
      r.body = kind == 0 ? r.body.substr(0, r.body.size() / 2) : kind == 1 ? "[1,2,3]" : R"({"messages": 7})";
      ++t.malformed_sent;
    }
    int pieces = 0;
    std::string pending;
    bool done_seen = false, bad_event = false;
    auto resp = http::fetch(r, [&](std::string_view piece) {
      if (!stream) return true;
      pending.append(piece);
      http::take_sse_events(pending, [&](std::string_view d) {
        if (d == "[DONE]") {
          done_seen = true;
          return;
        }
        auto j = json::parse(d, nullptr, false);
        if (j.is_discarded() || (!j.contains("choices") && !j.contains("error"))) bad_event = true;
      });
      return !(leave && ++pieces >= 3);
    });
    if (!resp) {
      if (to.external && connection_cut(resp.error().message)) {
        t.clean_error("request failed: " + resp.error().message);
      } else {
        t.fail("request failed: " + resp.error().message);
      }
      continue;
    }
    // A 503 with Retry-After is a full queue (the replica's or the proxy's) and checked below as such.
    if (to.external && (resp->status == 502 || resp->status == 504 ||
                        (resp->status == 503 && resp->header("retry-after").empty()))) {
      t.clean_error("HTTP " + std::to_string(resp->status) + ": " + resp->body.substr(0, 200));
      continue;
    }
    if (leave && resp->status == 200) {
      ++t.left;
      continue;
    }
    if (resp->status != 200) {
      if (is_error_object(resp->body) && (malformed || too_long || resp->status == 503)) {
        ++t.errors_well_formed;
        // A full queue says when to come back (Retry-After); a polite client waits a little.
        if (resp->status == 503) {
          if (resp->header("retry-after").empty()) t.fail("503 without Retry-After");
          std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 30));
        }
      } else {
        t.fail("HTTP " + std::to_string(resp->status) + ": " + resp->body.substr(0, 200));
      }
      continue;
    }
    if (malformed || too_long) {
      t.fail("a bad request was answered 200");
      continue;
    }
    if (stream) {
      if (!done_seen || bad_event) {
        t.fail("stream without [DONE] or with a bad event");
        continue;
      }
    } else {
      auto j = json::parse(resp->body, nullptr, false);
      if (j.is_discarded() || !j.contains("choices") || j["choices"].empty() || !j.contains("usage")) {
        t.fail("bad body: " + resp->body.substr(0, 200));
        continue;
      }
    }
    ++t.ok;
  }
}

void run_clients(const Endpoint& to, int seconds, Tally& t) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) clients.emplace_back(client_loop, std::cref(to), i, end, std::ref(t));
  for (auto& c : clients) c.join();
}

// The load on a server elsewhere (CRIA_LOAD_TARGET): its memory and scheduler are out of reach, so
// only the answers are checked.
void load_external(const std::string& target, int seconds) {
  Endpoint to;
  to.external = true;
  const size_t colon = target.rfind(':');
  ASSERT_NE(colon, std::string::npos) << "CRIA_LOAD_TARGET is HOST:PORT, not '" << target << "'";
  to.host = target.substr(0, colon);
  to.port = std::atoi(target.c_str() + colon + 1);
  ASSERT_GT(to.port, 0) << "CRIA_LOAD_TARGET is HOST:PORT, not '" << target << "'";
  Tally t;
  run_clients(to, seconds, t);
  std::printf("load via %s: %d s, %d answers, %d well-formed errors, %d left mid-stream, %d clean errors, %d bad\n",
              target.c_str(), seconds, t.ok.load(), t.errors_well_formed.load(), t.left.load(), t.clean.load(),
              t.bad.load());
  if (!t.first_clean.empty()) std::printf("first clean error: %s\n", t.first_clean.c_str());
  EXPECT_EQ(t.bad.load(), 0) << t.first_bad;
  EXPECT_GT(t.ok.load(), 64);
  EXPECT_GT(t.left.load(), 0);
  EXPECT_GT(t.malformed_sent.load(), 0);
}

TEST(ServeLoad, SixtyFourClientsWithFaultsLeaveTheServerAsTheyFoundIt) {
  const char* env = std::getenv("CRIA_LOAD_SECONDS");
  const int seconds = env != nullptr ? std::max(1, std::atoi(env)) : 15;
  if (const char* target = std::getenv("CRIA_LOAD_TARGET"); target != nullptr && *target != '\0') {
    load_external(target, seconds);
    return;
  }
  auto file = gguf::File::open(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf");
  ASSERT_TRUE(file.ok());
  auto tmpl = chat::select_template(&*file, "chatml");
  auto tok = tokenizer::Tokenizer::load(*file);
  auto model = model::Model::from_file(std::move(*file));
  ASSERT_TRUE(model.ok() && tok.ok() && tmpl.ok());
  auto shared_tok = std::make_shared<tokenizer::Tokenizer>(std::move(*tok));
  SchedulerOptions so;
  so.n_parallel = 16;
  so.n_ctx = 2048;
  so.max_queue = 32;  // 64 clients: some get 503 with Retry-After, which counts as a well-formed answer
  so.runner.n_threads = 2;
  auto scheduler = Scheduler::create(*model, shared_tok, so);
  ASSERT_TRUE(scheduler.ok());
  ApiOptions ao;
  ao.model_id = "kjv";
  auto api = std::make_shared<ApiServer>(ao);
  api->set_ready(*model, shared_tok, *tmpl, scheduler->get());
  http::ServerOptions ho;
  ho.port = 0;
  ho.io_threads = 2;
  ho.error_body = &ApiServer::error_body;
  auto server = http::Server::start(ho, [api](std::shared_ptr<http::Exchange> ex) { api->handle(ex); });
  ASSERT_TRUE(server.ok());
  Endpoint to;
  to.port = (*server)->port();

  // Warm up (allocations that stay: thread stacks, the first buffers), then the idle figure.
  Tally warm;
  client_loop(to, 999, std::chrono::steady_clock::now() + std::chrono::milliseconds(500), warm);
  const long idle = resident_kib();

  Tally t;
  run_clients(to, seconds, t);

  for (int i = 0; i < 3000 && (*scheduler)->metrics().requests_running != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ((*scheduler)->metrics().requests_running, 0);
  EXPECT_EQ((*scheduler)->metrics().requests_waiting, 0);
  EXPECT_EQ(t.bad.load(), 0) << t.first_bad;
  // The server kept answering: more answers than it has slots. Not a speed figure (that is the serving
  // benchmark's): under ASan on a 2-core AVX2 host 10 s gave 48 answers, where a release build gives
  // hundreds.
  EXPECT_GT(t.ok.load(), so.n_parallel);
  EXPECT_GT(t.left.load(), 0);
  EXPECT_GT(t.malformed_sent.load(), 0);
  // Memory back near idle: what grew under load (queues, buffers of gone clients) was given back.
  const long after = resident_kib();
  EXPECT_LT(after, idle + idle / 10 + 2048) << "idle " << idle << " KiB, after the load " << after << " KiB";
  std::printf("load: %d s, %d answers, %d well-formed errors, %d left mid-stream; RSS %ld -> %ld KiB\n", seconds,
              t.ok.load(), t.errors_well_formed.load(), t.left.load(), idle, after);
  (*server)->stop(std::chrono::milliseconds(0));
  (*scheduler)->stop();
}

}  // namespace
}  // namespace cria::serve
