// Streamed answers: chunks arrive as sent, a client that goes away or stops reading cancels the exchange,
// stop() lets streams finish for its grace period and then cancels them, and many streams at once lose
// nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "http/http_test_client.h"

namespace cria::http::test {
namespace {

// Runs producer threads and joins them at the end of the test, whatever happens.
class Producers {
 public:
  ~Producers() { join(); }
  template <class F>
  void spawn(F&& f) {
    std::lock_guard lock(mu_);
    threads_.emplace_back(std::forward<F>(f));
  }
  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// What a producer saw of its exchange.
struct Observed {
  std::atomic<bool> on_cancel_ran{false};
  std::atomic<bool> send_failed{false};
  std::atomic<int> sent{0};
  std::shared_ptr<Exchange> exchange;
  std::mutex mu;
};

// Starts a stream and sends an event every `period` until send() fails (or `limit` events, then ends it).
Handler streaming_handler(Producers& producers, Observed& seen, milliseconds period, int limit) {
  return [&producers, &seen, period, limit](std::shared_ptr<Exchange> ex) {
    {
      std::lock_guard lock(seen.mu);
      seen.exchange = ex;
    }
    ex->on_cancel([&seen] { seen.on_cancel_ran = true; });
    ex->begin_stream(200, "text/event-stream", {{"X-Stream", "yes"}});
    producers.spawn([ex, &seen, period, limit] {
      for (int i = 0; i < limit; ++i) {
        if (!ex->send("data: " + std::to_string(i) + "\n\n")) {
          seen.send_failed = true;
          return;
        }
        ++seen.sent;
        std::this_thread::sleep_for(period);
      }
      ex->end_stream();
    });
  };
}

TEST(HttpStream, ChunksArriveOneByOneAndTheConnectionIsReused) {
  Observed seen;  // outlives the producers, which use it
  Producers producers;
  auto server = start_server(streaming_handler(producers, seen, 20ms, 5));
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(c.send(post_request("/v1/chat/completions", "{\"stream\":true}")));
    auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("content-type"), "text/event-stream");
    EXPECT_EQ(head->header("transfer-encoding"), "chunked");
    EXPECT_EQ(head->header("cache-control"), "no-cache");
    EXPECT_EQ(head->header("x-accel-buffering"), "no");
    EXPECT_EQ(head->header("x-stream"), "yes");
    EXPECT_EQ(head->header("content-length"), "");
    for (int i = 0; i < 5; ++i) {
      auto chunk = c.read_chunk();
      ASSERT_TRUE(chunk) << i;
      EXPECT_EQ(*chunk, "data: " + std::to_string(i) + "\n\n");
    }
    auto last = c.read_chunk();
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, "");
  }
  EXPECT_FALSE(seen.on_cancel_ran.load());
}

TEST(HttpStream, ClientThatDisconnectsCancelsTheStream) {
  Observed seen;  // outlives the producers, which use it
  Producers producers;
  auto server = start_server(streaming_handler(producers, seen, 10ms, 100000));
  ASSERT_NE(server, nullptr);
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get_request("/stream")));
    ASSERT_TRUE(c.read_head());
    ASSERT_TRUE(c.read_chunk());
    ASSERT_TRUE(c.read_chunk());
  }
  auto closed = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return seen.on_cancel_ran.load() && seen.send_failed.load(); }, 3s));
  EXPECT_LT(seconds_since(closed), 1.5);
  std::lock_guard lock(seen.mu);
  ASSERT_TRUE(seen.exchange);
  EXPECT_TRUE(seen.exchange->cancelled());
  // A callback set after the cancellation runs at once.
  std::atomic<bool> late{false};
  seen.exchange->on_cancel([&late] { late = true; });
  EXPECT_TRUE(eventually([&] { return late.load(); }, 2s));
  EXPECT_TRUE(eventually([&] { return server->open_connections() == 0; }));
}

TEST(HttpStream, DisconnectWhileTheHandlerWorksCancels) {
  std::mutex mu;
  std::shared_ptr<Exchange> kept;
  std::atomic<bool> cancelled_cb{false};
  auto server = start_server([&](std::shared_ptr<Exchange> ex) {
    ex->on_cancel([&] { cancelled_cb = true; });
    std::lock_guard lock(mu);
    kept = ex;
  });
  ASSERT_NE(server, nullptr);
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get_request("/think")));
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(mu);
      return kept != nullptr;
    }));
  }
  EXPECT_TRUE(eventually([&] { return cancelled_cb.load(); }, 2s));
  std::lock_guard lock(mu);
  EXPECT_TRUE(kept->cancelled());
  kept->respond({200, "text/plain", {}, "too late"});  // ignored, harmless
  kept.reset();
}

TEST(HttpStream, ClientThatStopsReadingIsCancelled) {
  ServerOptions options;
  options.max_pending_bytes = 256u << 10;
  options.write_timeout = 2s;
  std::atomic<bool> send_failed{false}, cancelled_cb{false};
  std::atomic<size_t> sent_bytes{0};
  Producers producers;
  auto server = start_server(
      [&](std::shared_ptr<Exchange> ex) {
        ex->on_cancel([&] { cancelled_cb = true; });
        ex->begin_stream(200, "application/octet-stream");
        producers.spawn([ex, &send_failed, &sent_bytes] {
          std::string block(16384, 'p');
          auto deadline = std::chrono::steady_clock::now() + 20s;
          while (std::chrono::steady_clock::now() < deadline) {
            if (!ex->send(block)) {
              send_failed = true;
              return;
            }
            sent_bytes += block.size();
            std::this_thread::sleep_for(100us);
          }
        });
      },
      options);
  ASSERT_NE(server, nullptr);
  TestClient c(server->port(), 5s, 4096);
  ASSERT_TRUE(c.send(get_request("/firehose")));
  ASSERT_TRUE(c.read_head());
  // Read nothing more; the server must give up on this client by itself.
  EXPECT_TRUE(eventually([&] { return send_failed.load() && cancelled_cb.load(); }, 15s))
      << sent_bytes.load() << " bytes accepted";
  producers.join();
}

TEST(HttpStream, StopLetsStreamsRunForTheGraceThenCancels) {
  Observed seen;  // outlives the producers, which use it
  Producers producers;
  auto server = start_server(streaming_handler(producers, seen, 10ms, 100000));
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/stream")));
  ASSERT_TRUE(c.read_head());
  ASSERT_TRUE(c.read_chunk());
  auto t0 = std::chrono::steady_clock::now();
  server->stop(300ms);
  double took = seconds_since(t0);
  EXPECT_GE(took, 0.25);
  EXPECT_LT(took, 2.0);
  EXPECT_TRUE(seen.on_cancel_ran.load());
  EXPECT_TRUE(eventually([&] { return seen.send_failed.load(); }, 2s));
  EXPECT_EQ(server->open_connections(), 0);
  // Events sent during the grace period arrived, then the connection closed.
  int chunks = 0;
  while (auto chunk = c.read_chunk()) {
    if (chunk->empty()) break;
    ++chunks;
  }
  EXPECT_GE(chunks, 5);
  EXPECT_TRUE(c.closed_by_peer());
  server->stop(1s);  // a second stop is harmless
}

TEST(HttpStream, StopReturnsOnceStreamsFinish) {
  Observed seen;  // outlives the producers, which use it
  Producers producers;
  auto server = start_server(streaming_handler(producers, seen, 20ms, 10));
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/stream")));
  ASSERT_TRUE(c.read_head());
  auto t0 = std::chrono::steady_clock::now();
  server->stop(10s);
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_FALSE(seen.on_cancel_ran.load());
  // The whole stream arrived, and then the server closed instead of keeping the connection alive.
  int chunks = 0;
  for (;;) {
    auto chunk = c.read_chunk();
    ASSERT_TRUE(chunk);
    if (chunk->empty()) break;
    ++chunks;
  }
  EXPECT_EQ(chunks, 10);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpStream, StopWithIdleConnectionsIsPrompt) {
  std::atomic<int> calls{0};
  auto server = start_server([&](std::shared_ptr<Exchange> ex) {
    ++calls;
    ex->respond({200, "text/plain", {}, "hi"});
  });
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    if (i % 2 == 0) {
      ASSERT_TRUE(clients.back()->send(get_request("/")));
      ASSERT_TRUE(clients.back()->read_response());
    } else if (i == 3) {
      ASSERT_TRUE(clients.back()->send("GET /half"));  // half a request
    }
  }
  EXPECT_TRUE(eventually([&] { return server->open_connections() == 6; }));
  auto t0 = std::chrono::steady_clock::now();
  server->stop(10s);
  EXPECT_LT(seconds_since(t0), 0.5);
  EXPECT_EQ(server->open_connections(), 0);
  for (auto& c : clients) EXPECT_TRUE(c->closed_by_peer());
  EXPECT_EQ(calls.load(), 3);
}

TEST(HttpStream, DroppedStreamClosesTheConnection) {
  auto server = start_server([](std::shared_ptr<Exchange> ex) {
    ex->begin_stream(200, "text/event-stream");
    ex->send("data: 1\n\n");
    // Dropped without end_stream.
  });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/")));
  ASSERT_TRUE(c.read_head());
  auto chunk = c.read_chunk();
  ASSERT_TRUE(chunk);
  EXPECT_EQ(*chunk, "data: 1\n\n");
  EXPECT_FALSE(c.read_chunk());  // cut short: no last chunk, the connection closes
}

TEST(HttpStream, CallbackThatHoldsItsExchangeIsReleasedWithTheAnswer) {
  std::mutex mu;
  std::vector<std::weak_ptr<Exchange>> exchanges;
  auto server = start_server([&](std::shared_ptr<Exchange> ex) {
    ex->on_cancel([ex] {});  // a cycle until the answer is complete
    {
      std::lock_guard lock(mu);
      exchanges.push_back(ex);
    }
    if (ex->request().path == "/stream") {
      ex->begin_stream(200, "text/event-stream");
      ex->send("data: x\n\n");
      ex->end_stream();
    } else {
      ex->respond({200, "text/plain", {}, "ok"});
    }
  });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  for (const char* path : {"/plain", "/stream"}) {
    ASSERT_TRUE(c.send(get_request(path)));
    ASSERT_TRUE(c.read_response());
  }
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    for (auto& w : exchanges)
      if (!w.expired()) return false;
    return exchanges.size() == 2;
  }));
}

TEST(HttpStream, ManyConcurrentStreamsLoseNothing) {
  constexpr int kClients = 64, kEvents = 50;
  ServerOptions options;
  options.io_threads = 4;
  Producers producers;
  auto server = start_server(
      [&producers](std::shared_ptr<Exchange> ex) {
        ex->begin_stream(200, "text/event-stream");
        producers.spawn([ex] {
          std::string id = ex->request().path;
          for (int i = 0; i < kEvents; ++i) {
            if (!ex->send("data: " + id + " " + std::to_string(i) + "\n\n")) return;
            if (i % 10 == 0) std::this_thread::sleep_for(1ms);
          }
          ex->end_stream();
        });
      },
      options);
  ASSERT_NE(server, nullptr);
  std::atomic<int> complete{0};
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> clients;
  for (int k = 0; k < kClients; ++k) {
    clients.emplace_back([&, k] {
      TestClient c(server->port(), 10s);
      std::string id = "/client" + std::to_string(k);
      if (!c.send(get_request(id))) return void(errors[k] = "send failed");
      auto head = c.read_head();
      if (!head || head->status != 200) return void(errors[k] = "no head");
      std::string body;
      for (;;) {
        auto chunk = c.read_chunk();
        if (!chunk) return void(errors[k] = "stream cut after: " + body);
        if (chunk->empty()) break;
        body += *chunk;
      }
      std::string want;
      for (int i = 0; i < kEvents; ++i) want += "data: " + id + " " + std::to_string(i) + "\n\n";
      if (body != want) return void(errors[k] = "wrong events: " + body);
      ++complete;
    });
  }
  for (auto& t : clients) t.join();
  for (int k = 0; k < kClients; ++k) EXPECT_EQ(errors[k], "") << "client " << k;
  EXPECT_EQ(complete.load(), kClients);
  producers.join();
  server->stop(1s);
}

}  // namespace
}  // namespace cria::http::test
