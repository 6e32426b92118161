// A small blocking HTTP/1.1 client for the server's tests: POSIX sockets with receive and send timeouts
// (so no test can hang on the server), optionally TLS through OpenSSL, and a response reader that
// decodes Content-Length and chunked bodies. Also helpers to start a server on an ephemeral port.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "http/http_server.h"

namespace cria::http::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

struct TestResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                            // decoded

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class TestClient {
 public:
  // Connects to 127.0.0.1:port. rcvbuf > 0 shrinks the receive buffer (set before connecting).
  explicit TestClient(int port, milliseconds timeout = 5s, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    set_timeout(timeout);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;
  ~TestClient() { close(); }

  bool connected() const { return fd_ >= 0; }

  void set_timeout(milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  bool start_tls() {
    std::signal(SIGPIPE, SIG_IGN);  // SSL_write to a closed socket must fail, not kill the test binary
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return false;
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) return false;
    return SSL_connect(ssl_) == 1;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n;
      if (ssl_) {
        n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      } else {
        n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
      }
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  void close() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::optional<std::string> read_line() {
    for (;;) {
      size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        std::string line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return line;
      }
      if (fill() <= 0) return std::nullopt;
    }
  }

  std::optional<std::string> read_exact(size_t n) {
    while (buf_.size() < n)
      if (fill() <= 0) return std::nullopt;
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  // The status line and headers.
  std::optional<TestResponse> read_head() {
    auto status_line = read_line();
    if (!status_line || status_line->size() < 12 || status_line->compare(0, 5, "HTTP/") != 0)
      return std::nullopt;
    TestResponse r;
    r.status = std::atoi(status_line->c_str() + 9);
    for (;;) {
      auto line = read_line();
      if (!line) return std::nullopt;
      if (line->empty()) return r;
      size_t colon = line->find(':');
      if (colon == std::string::npos) return std::nullopt;
      std::string name = line->substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t start = line->find_first_not_of(' ', colon + 1);
      r.headers[name] = start == std::string::npos ? "" : line->substr(start);
    }
  }

  // The data of the next chunk; "" for the last chunk (whose trailer is consumed too).
  std::optional<std::string> read_chunk() {
    auto size_line = read_line();
    if (!size_line || size_line->empty()) return std::nullopt;
    size_t size = std::stoul(*size_line, nullptr, 16);
    if (size == 0) {
      for (;;) {
        auto trailer = read_line();
        if (!trailer) return std::nullopt;
        if (trailer->empty()) return std::string();
      }
    }
    auto data = read_exact(size);
    auto crlf = read_line();
    if (!data || !crlf || !crlf->empty()) return std::nullopt;
    return data;
  }

  // One whole response; 1xx interim responses are returned like any other.
  std::optional<TestResponse> read_response() {
    auto r = read_head();
    if (!r) return std::nullopt;
    if (r->status < 200 || r->status == 204 || r->status == 304) return r;
    if (r->header("transfer-encoding").find("chunked") != std::string::npos) {
      for (;;) {
        auto chunk = read_chunk();
        if (!chunk) return std::nullopt;
        if (chunk->empty()) return r;
        r->body += *chunk;
      }
    }
    std::string length = r->header("content-length");
    if (!length.empty()) {
      auto body = read_exact(std::stoul(length));
      if (!body) return std::nullopt;
      r->body = *body;
      return r;
    }
    r->body = read_all();
    return r;
  }

  // Everything until the server closes (or the timeout).
  std::string read_all() {
    while (fill() > 0) {
    }
    return std::exchange(buf_, {});
  }

  // True when the server closes the connection (EOF or reset) before the timeout; data is dropped.
  bool closed_by_peer() {
    for (;;) {
      ssize_t n = fill();
      if (n == 0) return true;
      if (n < 0) return false;
      buf_.clear();
    }
  }

  // Bytes received and not yet consumed.
  const std::string& buffered() const { return buf_; }

 private:
  // Reads more into buf_: the byte count, 0 when the connection is closed, -1 on timeout.
  ssize_t fill() {
    if (fd_ < 0) return 0;
    char tmp[16384];
    for (;;) {
      errno = 0;
      ssize_t n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return n;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
      if (ssl_) ERR_clear_error();
      return 0;
    }
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

inline std::string get_request(const std::string& target, const std::string& extra_headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

inline std::string post_request(const std::string& target, const std::string& body,
                                const std::string& extra_headers = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "\r\n" + body;
}

// A server on 127.0.0.1 and a free port; null (with a test failure) if it cannot start.
inline std::unique_ptr<Server> start_server(Handler handler, ServerOptions options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = Server::start(std::move(options), std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << server.error().message;
    return nullptr;
  }
  return std::move(server).value();
}

// Polls until pred holds or the timeout passes; returns pred's last value.
inline bool eventually(const std::function<bool()>& pred, milliseconds timeout = 3s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace cria::http::test
