// A small HTTP/1.1 server for many concurrent, long-lived (streaming) exchanges: Boost.Beast on Asio,
// a few I/O threads, no thread per connection. Plain TCP, or TLS (OpenSSL) when a certificate and key
// are given. It knows nothing of OpenAI or models: every request goes to one handler with an Exchange,
// which the handler answers now or later, from any thread, in one piece (respond) or as a stream of
// server-sent events (begin_stream / send / end_stream).
//
// The server itself answers what never reaches the handler: a malformed request (400), a body over the
// limit (413), a request whose headers or body do not arrive in time (408, then the connection closes).
// Those bodies come from ServerOptions::error_body so that they match the application's error format.
//
// While an exchange is open the server keeps reading the connection, so a client that disconnects is
// noticed at once: the exchange is cancelled (cancelled() turns true and the on_cancel callback runs),
// whatever the handler was doing. A client that stops reading a stream is treated the same way once its
// unsent data passes max_pending_bytes or a write stalls for write_timeout.
//
// This header is free of Boost: only src/http/*.cpp include Beast.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace cria::http {

struct Header {
  std::string name;  // lower case
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // target without the query
  std::vector<Header> headers;
  std::string body;
  std::string remote;  // peer address:port

  // The first header of that name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<Header> headers;  // extra headers, e.g. Retry-After
  std::string body;
};

// One request and its answer. Every member is thread-safe. Exactly one of respond() or begin_stream()
// takes effect; later calls are ignored. An exchange that is destroyed unanswered sends a 500.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;

  // The whole answer at once.
  virtual void respond(Response response) = 0;

  // A streamed answer: the status line and headers go out at once (chunked transfer encoding;
  // `content_type` is usually "text/event-stream"), then each send() appends bytes (a whole event,
  // e.g. "data: {...}\n\n"), and end_stream() finishes the response. send() returns false once the
  // exchange is cancelled; the caller should then stop producing.
  virtual void begin_stream(int status, std::string content_type, std::vector<Header> headers = {}) = 0;
  virtual bool send(std::string bytes) = 0;
  virtual void end_stream() = 0;

  // True once the client has gone (or the server is stopping and the grace period has passed).
  virtual bool cancelled() const = 0;
  // Runs f once when the exchange is cancelled (at once if it already is), on an I/O thread; f must not
  // block. A second call replaces the first callback.
  virtual void on_cancel(std::function<void()> f) = 0;
};

using Handler = std::function<void(std::shared_ptr<Exchange>)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see Server::port)
  int io_threads = 1;
  size_t max_body_bytes = 16u << 20;
  size_t max_header_bytes = 64u << 10;
  std::chrono::milliseconds header_timeout{30000};  // from the first byte (or connection) to the end of headers
  std::chrono::milliseconds body_timeout{60000};    // to the end of the body
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{30000};   // one write that makes no progress
  size_t max_pending_bytes = 8u << 20;              // unsent stream data before the client counts as gone
  std::string ssl_cert_file, ssl_key_file;          // both set: HTTPS only
  // Body of the answers the server makes itself (400, 408, 413, 500); the content type is JSON.
  std::function<std::string(int status, std::string_view message)> error_body;
};

class Server {
 public:
  // Binds and listens, then serves on its own I/O threads. Errors name the address ("cannot listen on
  // 127.0.0.1:8080: Address already in use") or the certificate file.
  static Result<std::unique_ptr<Server>> start(ServerOptions options, Handler handler);
  virtual ~Server() = default;  // stop(0) if still running

  virtual int port() const = 0;  // the bound port
  // Stops accepting at once; open exchanges get `grace` to finish, then are cancelled and their
  // connections closed. Returns when every connection is closed and the I/O threads have ended.
  virtual void stop(std::chrono::milliseconds grace) = 0;
  // Open connections and exchanges now (for tests and metrics).
  virtual int open_connections() const = 0;
};

}  // namespace cria::http
