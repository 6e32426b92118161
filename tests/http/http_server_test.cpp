// The HTTP server on loopback with a blocking client: requests reach the handler whole, answers come back
// framed right, and what the server answers itself (400, 408, 413, 431, 500) is right and bounded in time.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "http/http_test_client.h"

namespace cria::http::test {
namespace {

// Answers with what it received, so that the client can check it.
Handler echo_handler(std::atomic<int>* calls = nullptr) {
  return [calls](std::shared_ptr<Exchange> ex) {
    if (calls) ++*calls;
    const Request& req = ex->request();
    Response r;
    r.content_type = "text/plain";
    r.headers.push_back({"X-Method", req.method});
    r.headers.push_back({"X-Path", req.path});
    r.headers.push_back({"X-Target", req.target});
    r.headers.push_back({"X-Test", std::string(req.header("X-TEST"))});
    r.headers.push_back({"X-Remote", req.remote});
    r.body = req.body;
    ex->respond(std::move(r));
  };
}

std::string marked_error_body(int status, std::string_view message) {
  return "{\"test_status\":" + std::to_string(status) + ",\"test_message\":\"" + std::string(message) + "\"}";
}

TEST(HttpServer, GetAndPostReachTheHandler) {
  std::mutex mu;
  std::vector<Request> seen;
  auto server = start_server([&](std::shared_ptr<Exchange> ex) {
    {
      std::lock_guard lock(mu);
      seen.push_back(ex->request());
    }
    echo_handler()(ex);
  });
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);

  TestClient get(server->port());
  ASSERT_TRUE(get.connected());
  ASSERT_TRUE(get.send(get_request("/v1/models?limit=2&x=%20", "X-Test: Abc\r\n")));
  auto r = get.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_EQ(r->header("content-length"), "0");
  EXPECT_EQ(r->header("connection"), "keep-alive");
  EXPECT_EQ(r->header("x-method"), "GET");
  EXPECT_EQ(r->header("x-path"), "/v1/models");
  EXPECT_EQ(r->header("x-target"), "/v1/models?limit=2&x=%20");
  EXPECT_EQ(r->header("x-test"), "Abc");
  EXPECT_EQ(r->header("x-remote").rfind("127.0.0.1:", 0), 0u) << r->header("x-remote");

  std::string body = "{\"prompt\": \"hello\"}\n\x01\xff";
  TestClient post(server->port());
  ASSERT_TRUE(post.send(post_request("/v1/completions", body, "Content-Type: application/json\r\n")));
  r = post.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-method"), "POST");
  EXPECT_EQ(r->body, body);

  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  // Header names arrive in lower case; lookups ignore case.
  bool found = false;
  for (const Header& h : seen[1].headers)
    found = found || (h.name == "content-type" && h.value == "application/json");
  EXPECT_TRUE(found);
  EXPECT_EQ(seen[1].header("Content-Type"), "application/json");
  EXPECT_EQ(seen[1].header("absent"), "");
}

TEST(HttpServer, ChunkedRequestBodyIsAssembled) {
  auto server = start_server(echo_handler());
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(
      c.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello, world");
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  auto server = start_server(echo_handler(&calls));
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  for (int i = 0; i < 3; ++i) {
    std::string body = "request " + std::to_string(i);
    ASSERT_TRUE(c.send(post_request("/echo", body)));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, body);
    EXPECT_EQ(r->header("connection"), "keep-alive");
  }
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(server->open_connections(), 1);

  // Connection: close is honoured: the answer says so and the server closes.
  ASSERT_TRUE(c.send(get_request("/last", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  // The first request is answered late from another thread: the later ones must wait for it.
  std::vector<std::thread> threads;
  std::mutex mu;
  auto server = start_server([&](std::shared_ptr<Exchange> ex) {
    if (ex->request().path == "/slow") {
      std::lock_guard lock(mu);
      threads.emplace_back([ex] {
        std::this_thread::sleep_for(100ms);
        ex->respond({200, "text/plain", {}, "slow"});
      });
      return;
    }
    ex->respond({200, "text/plain", {}, ex->request().path + ":" + ex->request().body});
  });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/slow") + post_request("/b", "body-b") + get_request("/c") +
                     post_request("/d", std::string(40000, 'd'))));
  std::vector<std::string> expected = {"slow", "/b:body-b", "/c:", "/d:" + std::string(40000, 'd')};
  for (const auto& want : expected) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, want);
  }
  std::lock_guard lock(mu);
  for (auto& t : threads) t.join();
}

TEST(HttpServer, OversizedBodyGets413WithTheApplicationsErrorBody) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  options.error_body = marked_error_body;
  std::atomic<int> calls{0};
  auto server = start_server(echo_handler(&calls), options);
  ASSERT_NE(server, nullptr);

  // Declared too large: refused from the header alone, before the body is sent.
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("content-type"), "application/json");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_EQ(r->body.rfind("{\"test_status\":413,", 0), 0u) << r->body;
    EXPECT_TRUE(c.closed_by_peer());
  }
  // Sent whole anyway: the answer still arrives (no reset from unread input).
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send(post_request("/big", std::string(200000, 'x'))));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  // Chunked, growing past the limit.
  {
    TestClient c(server->port());
    std::string chunk = "320\r\n" + std::string(800, 'y') + "\r\n";
    ASSERT_TRUE(
        c.send("POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  // At the limit: fine.
  {
    TestClient c(server->port());
    ASSERT_TRUE(c.send(post_request("/ok", std::string(1000, 'z'))));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), 1000u);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, MalformedRequestsGet400) {
  ServerOptions options;
  options.error_body = marked_error_body;
  std::atomic<int> calls{0};
  auto server = start_server(echo_handler(&calls), options);
  ASSERT_NE(server, nullptr);
  for (std::string garbage :
       {std::string("\x01\x02\x03 garbage\r\n\r\n"), std::string("GET / HTTP/1.1\r\nno colon\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    TestClient c(server->port());
    ASSERT_TRUE(c.send(garbage));
    auto r = c.read_response();
    ASSERT_TRUE(r) << garbage;
    EXPECT_EQ(r->status, 400) << garbage;
    EXPECT_EQ(r->body.rfind("{\"test_status\":400,", 0), 0u) << r->body;
    EXPECT_TRUE(c.closed_by_peer());
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServer, OversizedHeaderIsRefused) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  auto server = start_server(echo_handler(), options);
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/", "X-Big: " + std::string(4096, 'b') + "\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServer, SlowHeaderGets408AndTheConnectionCloses) {
  ServerOptions options;
  options.header_timeout = 200ms;
  auto server = start_server(echo_handler(), options);
  ASSERT_NE(server, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  TestClient c(server->port(), 3s);
  ASSERT_TRUE(c.send("GET /slow HTTP/1.1\r\nHost: t\r\nX-Half: "));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed_by_peer());
  double waited = seconds_since(t0);
  EXPECT_GE(waited, 0.15);
  EXPECT_LT(waited, 1.5);
}

TEST(HttpServer, SlowBodyTimesOut) {
  ServerOptions options;
  options.body_timeout = 200ms;
  auto server = start_server(echo_handler(), options);
  ASSERT_NE(server, nullptr);
  TestClient c(server->port(), 3s);
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(HttpServer, SilentAndIdleConnectionsAreClosed) {
  ServerOptions options;
  options.header_timeout = 200ms;
  options.idle_timeout = 300ms;
  auto server = start_server(echo_handler(), options);
  ASSERT_NE(server, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  TestClient silent(server->port(), 3s);
  TestClient idle(server->port(), 3s);
  ASSERT_TRUE(idle.send(get_request("/")));
  ASSERT_TRUE(idle.read_response());
  EXPECT_TRUE(silent.closed_by_peer());
  EXPECT_TRUE(silent.buffered().empty());
  EXPECT_TRUE(idle.closed_by_peer());
  EXPECT_LT(seconds_since(t0), 2.0);
  EXPECT_TRUE(eventually([&] { return server->open_connections() == 0; }));
}

TEST(HttpServer, ExpectContinueGetsAnInterimAnswer) {
  auto server = start_server(echo_handler());
  ASSERT_NE(server, nullptr);
  TestClient c(server->port(), 2s);
  ASSERT_TRUE(c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("0123456789"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "0123456789");
}

TEST(HttpServer, CurlPostsALargeBodyWithoutStalling) {
  if (std::system("curl --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  auto server = start_server(echo_handler());
  ASSERT_NE(server, nullptr);
  auto dir = std::filesystem::temp_directory_path() / ("cria_http_curl_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string body(300000, 'q');
  std::ofstream(dir / "body.txt", std::ios::binary) << body;
  std::string cmd = "curl -s -m 10 --data-binary @" + (dir / "body.txt").string() +
                    " http://127.0.0.1:" + std::to_string(server->port()) + "/echo";
  auto t0 = std::chrono::steady_clock::now();
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  int rc = ::pclose(pipe);
  double took = seconds_since(t0);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, body);
  EXPECT_LT(took, 0.9) << "curl waited for 100 Continue";
}

TEST(HttpServer, AnswerFromAnotherThreadLater) {
  std::mutex mu;
  std::vector<std::thread> threads;
  auto server = start_server([&](std::shared_ptr<Exchange> ex) {
    std::lock_guard lock(mu);
    threads.emplace_back([ex] {
      std::this_thread::sleep_for(150ms);
      ex->respond({202, "application/json", {{"Retry-After", "3"}}, "{\"later\":true}"});
    });
  });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/later")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->header("retry-after"), "3");
  EXPECT_EQ(r->body, "{\"later\":true}");
  std::lock_guard lock(mu);
  for (auto& t : threads) t.join();
}

TEST(HttpServer, DroppedExchangeGets500) {
  ServerOptions options;
  options.error_body = marked_error_body;
  auto server = start_server([](std::shared_ptr<Exchange>) {}, options);
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/dropped")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.rfind("{\"test_status\":500,", 0), 0u) << r->body;
  // The connection stays usable.
  ASSERT_TRUE(c.send(get_request("/again")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
}

TEST(HttpServer, HandlerThatThrowsGets500) {
  auto server = start_server([](std::shared_ptr<Exchange>) { throw std::runtime_error("boom"); });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/throw")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("\"code\":500"), std::string::npos) << r->body;
}

TEST(HttpServer, OnlyTheFirstAnswerCounts) {
  auto server = start_server([](std::shared_ptr<Exchange> ex) {
    ex->respond({201, "text/plain", {}, "first"});
    ex->respond({202, "text/plain", {}, "second"});
    ex->begin_stream(200, "text/event-stream");
    EXPECT_FALSE(ex->send("data: no\n\n"));
    ex->end_stream();
  });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send(get_request("/twice")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "first");
  }
}

TEST(HttpServer, HeaderInjectionAndHeadRequests) {
  auto server = start_server([](std::shared_ptr<Exchange> ex) {
    ex->respond(
        {200,
         "text/plain",
         {{"X-Ok", "fine"}, {"X-Bad", "a\r\nX-Injected: 1"}, {"Bad Name", "v"}, {"Content-Length", "99"}},
         "body"});
  });
  ASSERT_NE(server, nullptr);
  TestClient c(server->port());
  ASSERT_TRUE(c.send(get_request("/")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-ok"), "fine");
  EXPECT_EQ(r->header("x-injected"), "");
  EXPECT_EQ(r->header("x-bad"), "");
  EXPECT_EQ(r->header("content-length"), "4");
  EXPECT_EQ(r->body, "body");
  ASSERT_TRUE(c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("content-length"), "4");
  // No body follows: the next answer starts right away.
  ASSERT_TRUE(c.send(get_request("/")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "body");
}

TEST(HttpServer, RandomBytesNeverBreakTheServer) {
  ServerOptions options;
  options.header_timeout = 300ms;
  options.body_timeout = 300ms;
  options.max_body_bytes = 4096;
  options.io_threads = 2;
  auto server = start_server(echo_handler(), options);
  ASSERT_NE(server, nullptr);
  std::mt19937 rng(1234);
  std::vector<std::string> seeds = {
      get_request("/a?b=c", "X-Test: 1\r\n"), post_request("/p", "payload"),
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"};
  for (int i = 0; i < 150; ++i) {
    std::string bytes = seeds[static_cast<size_t>(i) % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (bytes.size() + 1);
      switch (rng() % 3) {
        case 0:
          if (pos < bytes.size()) bytes[pos] = static_cast<char>(rng());
          break;
        case 1:
          bytes.insert(pos, 1 + rng() % 16, static_cast<char>(rng()));
          break;
        case 2:
          bytes.erase(pos, rng() % 8);
          break;
      }
    }
    if (i % 10 == 0) bytes = std::string(1 + rng() % 3000, '\0');
    TestClient c(server->port(), 3s);
    ASSERT_TRUE(c.connected());
    c.send(bytes);
    c.shutdown_write();
    EXPECT_TRUE(c.closed_by_peer()) << i;
  }
  TestClient c(server->port());
  ASSERT_TRUE(c.send(post_request("/still", "alive")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "alive");
  EXPECT_TRUE(eventually([&] { return server->open_connections() == 1; }));
}

}  // namespace
}  // namespace cria::http::test
