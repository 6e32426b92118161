#include "http/http_message.h"

#include <cstdio>
#include <utility>

namespace cria::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// RFC 9110 token characters.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const Header& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

namespace detail {

std::string_view reason_phrase(int status) {
  // clang-format off
  static constexpr std::pair<int, std::string_view> kPhrases[] = {
      {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"}, {202, "Accepted"},
      {204, "No Content"}, {206, "Partial Content"}, {301, "Moved Permanently"}, {302, "Found"},
      {303, "See Other"}, {304, "Not Modified"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
      {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
      {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Timeout"}, {409, "Conflict"},
      {410, "Gone"}, {411, "Length Required"}, {413, "Content Too Large"}, {414, "URI Too Long"},
      {415, "Unsupported Media Type"}, {422, "Unprocessable Content"}, {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"}, {501, "Not Implemented"},
      {502, "Bad Gateway"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"}};
  // clang-format on
  for (const auto& [code, phrase] : kPhrases)
    if (code == status) return phrase;
  return "Unknown";
}

int sanitize_status(int status) { return status >= 100 && status <= 999 ? status : 500; }

bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

bool header_allowed(const Header& header) {
  if (header.name.empty()) return false;
  for (char c : header.name)
    if (!is_token_char(c)) return false;
  for (char c : header.value)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return !iequals(header.name, "content-length") && !iequals(header.name, "transfer-encoding") &&
         !iequals(header.name, "connection");
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void append_head(std::string& out, const Head& head) {
  int status = sanitize_status(head.status);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  bool has_cache_control = false;
  if (head.extra) {
    for (const Header& h : *head.extra) {
      if (!header_allowed(h)) continue;
      // Content-Type comes from its own field; a second one would contradict it.
      if (iequals(h.name, "content-type") && !head.content_type.empty()) continue;
      has_cache_control = has_cache_control || iequals(h.name, "cache-control");
      out += h.name;
      out += ": ";
      out += h.value;
      out += "\r\n";
    }
  }
  if (!head.content_type.empty()) {
    out += "Content-Type: ";
    out += head.content_type;
    out += "\r\n";
  }
  switch (head.framing) {
    case Head::Framing::kLength:
      if (status_has_body(status)) {
        out += "Content-Length: ";
        out += std::to_string(head.content_length);
        out += "\r\n";
      }
      break;
    case Head::Framing::kChunked:
      out += "Transfer-Encoding: chunked\r\n";
      break;
    case Head::Framing::kUntilClose:
      break;
  }
  if (head.stream) {
    if (!has_cache_control) out += "Cache-Control: no-cache\r\n";
    // Proxies such as nginx would otherwise hold events back to fill their buffers.
    if (head.content_type.substr(0, 17) == "text/event-stream") out += "X-Accel-Buffering: no\r\n";
  }
  out += head.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
}

void append_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<size_t>(n));
  out += data;
  out += "\r\n";
}

std::string default_error_body(int status, std::string_view message) {
  std::string out = "{\"error\":{\"message\":\"";
  for (char c : message) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += esc;
        } else {
          out += c;
        }
    }
  }
  out += "\",\"code\":";
  out += std::to_string(status);
  out += "}}";
  return out;
}

}  // namespace detail
}  // namespace cria::http
