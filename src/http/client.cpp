#include "http/client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace cria::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

Result<int> connect_to(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return make_error("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0 && (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
        errno = err;
        rc = -1;
      } else if (rc != 0) {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return make_error("cannot connect to " + host + ":" + service + ": " + last);
}

Status send_all(int fd, std::string_view data, std::chrono::milliseconds timeout) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return make_error("timed out sending the request");
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return make_error(std::string("sending the request failed: ") + std::strerror(errno));
  }
  return Ok{};
}

// Reads what is there (waiting up to the timeout); 0 bytes means the peer closed.
Result<size_t> receive(int fd, std::string& into, std::chrono::milliseconds timeout) {
  char buf[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r == 0) return make_error("timed out waiting for the response");
    if (r < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("waiting for the response failed: ") + std::strerror(errno));
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n >= 0) {
      into.append(buf, static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return make_error(std::string("reading the response failed: ") + std::strerror(errno));
  }
}

}  // namespace

std::string_view ClientResponse::header(std::string_view name) const {
  const std::string key = lower(name);
  for (const Header& h : headers) {
    if (h.name == key) return h.value;
  }
  return {};
}

Result<ClientResponse> fetch(const ClientRequest& request, const std::function<bool(std::string_view)>& on_body) {
  auto fd = connect_to(request.host, request.port, request.timeout);
  if (!fd) return fd.error();
  Socket sock(*fd);
  std::string head = request.method + " " + request.target + " HTTP/1.1\r\nHost: " + request.host + ":" +
                     std::to_string(request.port) + "\r\nConnection: close\r\n";
  for (const Header& h : request.headers) head += h.name + ": " + h.value + "\r\n";
  if (!request.body.empty() || request.method == "POST") head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  head += "\r\n";
  if (auto s = send_all(sock.fd(), head + request.body, request.timeout); !s) return s.error();

  ClientResponse response;
  std::string buf;
  // The status line and headers.
  size_t header_end = std::string::npos;
  while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
    auto n = receive(sock.fd(), buf, request.timeout);
    if (!n) return n.error();
    if (*n == 0) return make_error("the connection closed before the response headers (" + std::to_string(buf.size()) + " bytes)");
    if (buf.size() > (1u << 20)) return make_error("response headers over 1 MiB");
  }
  {
    const std::string_view head_view(buf.data(), header_end);
    const size_t line_end = head_view.find("\r\n");
    const std::string_view status_line = head_view.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
      return make_error("not an HTTP response: '" + std::string(status_line.substr(0, 40)) + "'");
    }
    response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    size_t pos = line_end == std::string_view::npos ? head_view.size() : line_end + 2;
    while (pos < head_view.size()) {
      size_t end = head_view.find("\r\n", pos);
      if (end == std::string_view::npos) end = head_view.size();
      const std::string_view line = head_view.substr(pos, end - pos);
      const size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        response.headers.push_back({lower(line.substr(0, colon)), std::string(value)});
      }
      pos = end + 2;
    }
  }
  buf.erase(0, header_end + 4);

  const bool chunked = lower(response.header("transfer-encoding")).find("chunked") != std::string::npos;
  const std::string_view length_text = response.header("content-length");
  const long long length = length_text.empty() ? -1 : std::atoll(std::string(length_text).c_str());
  auto deliver = [&](std::string_view piece) {
    response.body.append(piece);
    return !on_body || piece.empty() || on_body(piece);
  };
  auto more = [&]() -> Result<bool> {  // false: the peer closed
    auto n = receive(sock.fd(), buf, request.timeout);
    if (!n) return n.error();
    return *n > 0;
  };
  if (chunked) {
    for (;;) {
      size_t line_end;
      while ((line_end = buf.find("\r\n")) == std::string::npos) {
        auto m = more();
        if (!m) return m.error();
        if (!*m) return make_error("the connection closed inside a chunked body");
      }
      const unsigned long size = std::strtoul(buf.substr(0, line_end).c_str(), nullptr, 16);
      if (size == 0) break;
      while (buf.size() < line_end + 2 + size + 2) {
        auto m = more();
        if (!m) return m.error();
        if (!*m) return make_error("the connection closed inside a chunk");
      }
      if (!deliver(std::string_view(buf).substr(line_end + 2, size))) return response;
      buf.erase(0, line_end + 2 + size + 2);
    }
  } else if (length >= 0) {
    size_t have = 0;
    for (;;) {
      const size_t take = std::min(buf.size(), static_cast<size_t>(length) - have);
      if (take > 0 && !deliver(std::string_view(buf).substr(0, take))) return response;
      have += take;
      buf.erase(0, take);
      if (have == static_cast<size_t>(length)) break;
      auto m = more();
      if (!m) return m.error();
      if (!*m) return make_error("the connection closed before the end of the body");
    }
  } else {
    for (;;) {
      if (!buf.empty() && !deliver(buf)) return response;
      buf.clear();
      auto m = more();
      if (!m) return m.error();
      if (!*m) break;
    }
  }
  return response;
}

void take_sse_events(std::string& buffer, const std::function<void(std::string_view)>& on_data) {
  size_t start = 0;
  for (;;) {
    const size_t end = buffer.find('\n', start);
    if (end == std::string::npos) break;
    std::string_view line(buffer.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) == "data:") {
      std::string_view data = line.substr(5);
      if (!data.empty() && data.front() == ' ') data.remove_prefix(1);
      on_data(data);
    }
    start = end + 1;
  }
  buffer.erase(0, start);
}

}  // namespace cria::http
