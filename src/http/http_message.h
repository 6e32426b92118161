// The bytes of HTTP/1.1 responses, written by hand: the server only ever sends a status line, a few
// headers and a body or chunks, and keeping this out of Beast keeps it cheap to compile and test.
// Private to src/http.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_server.h"

namespace cria::http::detail {

// "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view reason_phrase(int status);

// A status the server can put on a status line (100-999); anything else becomes 500.
int sanitize_status(int status);

// 1xx, 204 and 304 answers carry no body and no Content-Length.
bool status_has_body(int status);

// Whether an application header may go on the wire: a token name and a value without CR, LF or NUL.
// Framing headers (Content-Length, Transfer-Encoding, Connection) are the server's and are refused too.
bool header_allowed(const Header& header);

std::string to_lower(std::string_view s);

struct Head {
  int status = 200;
  std::string_view content_type;               // empty: no Content-Type
  const std::vector<Header>* extra = nullptr;  // application headers, filtered by header_allowed
  bool keep_alive = true;
  enum class Framing { kLength, kChunked, kUntilClose } framing = Framing::kLength;
  size_t content_length = 0;  // with kLength
  bool stream = false;        // a streamed answer: no-cache, and X-Accel-Buffering for event streams
};

// Appends the status line and headers, through the blank line.
void append_head(std::string& out, const Head& head);

// Appends one chunk of chunked transfer coding; nothing for empty data (a zero-size chunk ends the body).
void append_chunk(std::string& out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// {"error":{"message":...,"code":status}} when the application gave no error_body.
std::string default_error_body(int status, std::string_view message);

}  // namespace cria::http::detail
