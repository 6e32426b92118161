// A small blocking HTTP/1.1 client over plain TCP, for the serving benchmark and the server's tests: one
// request per connection (Connection: close), the body read as it arrives (Content-Length, chunked or
// until close) and handed to a callback piece by piece, so a stream's events can be timed as they come.
// No TLS, no redirects: it talks to servers it was pointed at on a known address.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/http_server.h"

namespace cria::http {

struct ClientRequest {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string method = "GET";
  std::string target = "/";
  std::vector<Header> headers;  // Host, Content-Length and Connection are added
  std::string body;
  std::chrono::milliseconds timeout{60000};  // for connecting and for each wait for data
};

struct ClientResponse {
  int status = 0;
  std::vector<Header> headers;
  std::string body;  // whole, also when on_body saw it in pieces
  std::string_view header(std::string_view name) const;
};

// Sends the request and reads the response. `on_body` (if set) gets each piece of the decoded body as it
// arrives; returning false from it closes the connection at once (a client that goes away).
Result<ClientResponse> fetch(const ClientRequest& request,
                             const std::function<bool(std::string_view piece)>& on_body = nullptr);

// Splits server-sent events out of a growing buffer: calls on_data(payload) for each complete
// "data: ..." line and removes what it consumed.
void take_sse_events(std::string& buffer, const std::function<void(std::string_view data)>& on_data);

}  // namespace cria::http
