// `cria serve` as a process: it says where it listens, answers /health once the model is in, refuses
// bad flags, and on SIGTERM or SIGINT lets a running stream finish and exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "cli/cli_support.h"
#include "http/client.h"

namespace cria::test {
namespace {

TEST(CliServe, SigtermLetsARunningStreamFinishAndExitsZero) {
  ServeProcess p("--grace 20");
  const int port = p.wait_ready();
  ASSERT_GT(port, 0) << p.log();
  http::ClientRequest health;
  health.port = port;
  health.target = "/health";
  auto h = http::fetch(health);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 200);

  // A stream of 200 tokens is running when the signal comes; it must end with [DONE].
  http::ClientRequest r;
  r.port = port;
  r.method = "POST";
  r.target = "/v1/completions";
  r.body = R"({"prompt": "In the beginning", "max_tokens": 200, "ignore_eos": true, "stream": true})";
  bool signalled = false, done = false;
  std::string pending;
  auto resp = http::fetch(r, [&](std::string_view piece) {
    pending.append(piece);
    http::take_sse_events(pending, [&](std::string_view d) { done = done || d == "[DONE]"; });
    if (!signalled) {
      ::kill(p.pid(), SIGTERM);
      signalled = true;
    }
    return true;
  });
  ASSERT_TRUE(resp.ok()) << resp.error().message;
  EXPECT_TRUE(done) << "the stream was cut short";
  EXPECT_EQ(p.wait_exit(30), 0) << p.log();
  EXPECT_NE(p.log().find("SIGTERM"), std::string::npos) << p.log();
}

TEST(CliServe, SigintWhileIdleExitsZero) {
  ServeProcess p("");
  ASSERT_GT(p.wait_ready(), 0) << p.log();
  ::kill(p.pid(), SIGINT);
  EXPECT_EQ(p.wait_exit(15), 0) << p.log();
}

TEST(CliServe, BadFlagsAreRefusedWithTheirNames) {
  auto r = run_cria("serve --port 70000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--port"), std::string::npos) << r.err;
  r = run_cria("serve -np 0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-np"), std::string::npos) << r.err;
  r = run_cria("serve --ssl-cert-file /nonexistent.pem");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--ssl-key-file"), std::string::npos) << r.err;
  r = run_cria("serve --port 0 -m /nonexistent.gguf");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent.gguf"), std::string::npos) << r.err;
  // llama-server's spellings parse (the port is what is refused), with a note for -ngl.
  r = run_cria("serve --port 70000 -fa on -cb -nocb -ngl 99 -np 2 -to 30 -ub 256 --jinja --no-warmup");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cria: note: -ngl 99 ignored"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cria: error: --port must be"), std::string::npos) << r.err;
  r = run_cria("serve --frobnicate");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown flag --frobnicate for `cria serve`"), std::string::npos) << r.err;
}

TEST(CliServe, NonLoopbackHostWithoutAKeyWarns) {
  ServeProcess p("--host 0.0.0.0");
  ASSERT_GT(p.wait_ready(), 0) << p.log();
  EXPECT_NE(p.log().find("without an API key"), std::string::npos) << p.log();
  ::kill(p.pid(), SIGTERM);
  EXPECT_EQ(p.wait_exit(15), 0);
}

}  // namespace
}  // namespace cria::test
