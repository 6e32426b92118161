// Starting the server: HTTPS with a throwaway self-signed certificate, and the errors start() reports
// for a bad address, a busy port or missing and invalid certificate files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "http/http_test_client.h"
#include "test_support.h"

namespace cria::http::test {
namespace {

namespace fs = std::filesystem;
using cria::test::TempDir;

bool make_certificate(const fs::path& dir) {
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + (dir / "k.pem").string() +
                    "' -out '" + (dir / "c.pem").string() + "' -days 1 -subj /CN=localhost >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

bool have_openssl_command() { return std::system("openssl version >/dev/null 2>&1") == 0; }

Handler hello_handler() {
  return [](std::shared_ptr<Exchange> ex) {
    if (ex->request().path == "/stream") {
      ex->begin_stream(200, "text/event-stream");
      for (int i = 0; i < 3; ++i) ex->send("data: " + std::to_string(i) + "\n\n");
      ex->end_stream();
      return;
    }
    ex->respond({200, "text/plain", {}, "secure " + ex->request().body});
  };
}

TEST(HttpTls, ServesHttpsWithAGeneratedCertificate) {
  if (!have_openssl_command()) GTEST_SKIP() << "the openssl command is not installed";
  TempDir dir("cria_http_tls");
  ASSERT_TRUE(make_certificate(dir.path));
  ServerOptions options;
  options.ssl_cert_file = (dir.path / "c.pem").string();
  options.ssl_key_file = (dir.path / "k.pem").string();
  options.header_timeout = 2s;
  auto server = start_server(hello_handler(), options);
  ASSERT_NE(server, nullptr);

  TestClient c(server->port());
  ASSERT_TRUE(c.start_tls());
  ASSERT_TRUE(c.send(post_request("/hello", std::string(50000, 's'))));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "secure " + std::string(50000, 's'));
  // Keep-alive and a stream over the same TLS connection.
  ASSERT_TRUE(c.send(get_request("/stream")));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  EXPECT_EQ(r->body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");

  // Plain HTTP on the HTTPS port gets no HTTP answer, only a closed connection.
  TestClient plain(server->port());
  ASSERT_TRUE(plain.send(get_request("/")));
  EXPECT_TRUE(plain.closed_by_peer());
  EXPECT_EQ(plain.buffered().find("HTTP/1.1 200"), std::string::npos);

  server->stop(1s);
  EXPECT_EQ(server->open_connections(), 0);
}

TEST(HttpTls, HandshakeThatNeverComesTimesOut) {
  if (!have_openssl_command()) GTEST_SKIP() << "the openssl command is not installed";
  TempDir dir("cria_http_tls_timeout");
  ASSERT_TRUE(make_certificate(dir.path));
  ServerOptions options;
  options.ssl_cert_file = (dir.path / "c.pem").string();
  options.ssl_key_file = (dir.path / "k.pem").string();
  options.header_timeout = 200ms;
  auto server = start_server(hello_handler(), options);
  ASSERT_NE(server, nullptr);
  auto t0 = std::chrono::steady_clock::now();
  TestClient c(server->port(), 3s);
  ASSERT_TRUE(c.send("\x16\x03\x01"));  // the first bytes of a ClientHello, then nothing
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(seconds_since(t0), 1.5);
}

TEST(HttpTls, MissingOrInvalidCertificateFailsToStart) {
  TempDir dir("cria_http_tls_bad");
  ServerOptions options;
  options.port = 0;
  options.ssl_cert_file = (dir.path / "missing-cert.pem").string();
  options.ssl_key_file = (dir.path / "missing-key.pem").string();
  auto r = Server::start(options, hello_handler());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("missing-cert.pem"), std::string::npos) << r.error().message;

  std::ofstream(dir.path / "garbage.pem") << "not a certificate\n";
  options.ssl_cert_file = (dir.path / "garbage.pem").string();
  options.ssl_key_file = (dir.path / "garbage.pem").string();
  r = Server::start(options, hello_handler());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("garbage.pem"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("certificate"), std::string::npos) << r.error().message;

  options.ssl_key_file.clear();
  r = Server::start(options, hello_handler());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("key"), std::string::npos) << r.error().message;

  if (have_openssl_command()) {
    ASSERT_TRUE(make_certificate(dir.path));
    options.ssl_cert_file = (dir.path / "c.pem").string();
    options.ssl_key_file = (dir.path / "missing-key.pem").string();
    r = Server::start(options, hello_handler());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("missing-key.pem"), std::string::npos) << r.error().message;
  }
}

TEST(HttpStart, ErrorsNameTheAddress) {
  auto first = start_server(hello_handler());
  ASSERT_NE(first, nullptr);
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = first->port();
  auto r = Server::start(options, hello_handler());
  ASSERT_FALSE(r.ok());
  std::string want = "cannot listen on 127.0.0.1:" + std::to_string(first->port()) + ": ";
  EXPECT_EQ(r.error().message.rfind(want, 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("in use"), std::string::npos) << r.error().message;

  for (std::string host : {"nonsense", "256.1.1.1", "", "example.com"}) {
    options.host = host;
    options.port = 0;
    r = Server::start(options, hello_handler());
    ASSERT_FALSE(r.ok()) << host;
    EXPECT_NE(r.error().message.find("'" + host + "'"), std::string::npos) << r.error().message;
  }
  options.host = "127.0.0.1";
  options.port = 70000;
  r = Server::start(options, hello_handler());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("70000"), std::string::npos) << r.error().message;

  options.port = 0;
  r = Server::start(options, nullptr);
  EXPECT_FALSE(r.ok());
}

TEST(HttpStart, LocalhostAndIpv6) {
  ServerOptions options;
  options.host = "localhost";
  options.port = 0;
  auto r = Server::start(options, hello_handler());
  ASSERT_TRUE(r.ok()) << r.error().message;
  {
    TestClient c((*r)->port());
    ASSERT_TRUE(c.send(get_request("/")));
    auto response = c.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
  }
  (*r)->stop(0ms);

  options.host = "::1";
  auto v6 = Server::start(options, hello_handler());
  if (!v6.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << v6.error().message;
  EXPECT_GT((*v6)->port(), 0);
}

TEST(HttpStart, DestructorStopsARunningServer) {
  auto server = start_server(hello_handler());
  ASSERT_NE(server, nullptr);
  TestClient idle(server->port());
  ASSERT_TRUE(idle.send(get_request("/")));
  ASSERT_TRUE(idle.read_response());
  auto t0 = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(seconds_since(t0), 0.5);
  EXPECT_TRUE(idle.closed_by_peer());
}

}  // namespace
}  // namespace cria::http::test
