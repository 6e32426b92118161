// A stand-in for the Hugging Face Hub on the loopback, for the pull tests: the tree listing API, file
// downloads through a redirect to another host name (localhost instead of 127.0.0.1, as the Hub sends
// files from its CDN) with Range requests, a gated repository wanting a token, and switches for faults
// (the connection dropped part-way, a corrupted byte, a slow or stalled transfer). It counts requests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace cria::test {

class FakeHub {
 public:
  struct File {
    std::string bytes;
    std::string sha256;  // as listed
  };
  struct Repo {
    std::map<std::string, File> files;  // path -> file
    bool gated = false;                 // wants "Authorization: Bearer good-token"
  };

  // Faults for the next file transfers (each applies once, to the first transfer that reaches it).
  std::atomic<double> drop_at{-1};    // close the connection after this fraction of the body
  std::atomic<bool> corrupt{false};   // flip one byte of the body (every time)
  std::atomic<int> slow_ms{0};        // pause between 64 KiB pieces
  std::atomic<bool> stall{false};     // send the headers, then nothing, then close after 2.5 s

  std::atomic<int> listing_requests{0}, file_requests{0}, range_requests{0};

  FakeHub() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeHub() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void add(const std::string& repo, Repo r) {
    std::lock_guard lock(mu_);
    repos_[repo] = std::move(r);
  }

 private:
  static void send_all(int fd, const std::string& s) {
    size_t sent = 0;
    while (sent < s.size()) {
      const ssize_t n = ::send(fd, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }
  static std::string reply(int status, const std::string& reason, const std::string& body,
                           const std::string& extra = "") {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n" + extra + "\r\n" + body;
  }

  void serve() {
    while (!stopping_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }

  void handle(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
    }
    const std::string line = req.substr(0, req.find("\r\n"));
    const std::string target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
    auto header = [&](const std::string& name) {
      std::string lower = req;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const size_t at = lower.find("\r\n" + name + ":");
      if (at == std::string::npos) return std::string();
      const size_t start = at + 3 + name.size();
      std::string v = req.substr(start, req.find("\r\n", start) - start);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      return v;
    };
    std::lock_guard lock(mu_);
    const std::string api = "/api/models/", tree = "/tree/main?recursive=true", resolve = "/resolve/main/", cdn = "/cdn/";
    if (target.rfind(api, 0) == 0 && target.size() > api.size() + tree.size() &&
        target.compare(target.size() - tree.size(), tree.size(), tree) == 0) {
      ++listing_requests;
      const std::string repo = target.substr(api.size(), target.size() - api.size() - tree.size());
      auto it = repos_.find(repo);
      if (it == repos_.end()) return send_all(c, reply(404, "Not Found", R"({"error":"Repository not found"})"));
      if (it->second.gated && header("authorization") != "Bearer good-token") {
        return send_all(c, reply(401, "Unauthorized", R"({"error":"Access to this repository is restricted"})"));
      }
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [path, f] : it->second.files) {
        list.push_back({{"type", "file"}, {"path", path}, {"size", 134}, {"oid", "0"},
                        {"lfs", {{"oid", f.sha256}, {"size", f.bytes.size()}, {"pointerSize", 134}}}});
      }
      return send_all(c, reply(200, "OK", list.dump(), "Content-Type: application/json\r\n"));
    }
    for (const auto& [name, r] : repos_) {
      const std::string prefix = "/" + name + resolve;
      if (target.rfind(prefix, 0) == 0) {
        if (r.gated && header("authorization") != "Bearer good-token") return send_all(c, reply(401, "Unauthorized", ""));
        const std::string location = "http://localhost:" + std::to_string(port_) + cdn + name + "/" + target.substr(prefix.size());
        return send_all(c, reply(302, "Found", "", "Location: " + location + "\r\n"));
      }
      const std::string cdn_prefix = cdn + name + "/";
      if (target.rfind(cdn_prefix, 0) == 0) {
        auto f = r.files.find(target.substr(cdn_prefix.size()));
        if (f == r.files.end()) return send_all(c, reply(404, "Not Found", ""));
        if (!header("authorization").empty()) return send_all(c, reply(400, "Bad Request", "the token must not reach the CDN"));
        ++file_requests;
        return send_file(c, f->second.bytes, header("range"));
      }
    }
    send_all(c, reply(404, "Not Found", ""));
  }

  void send_file(int c, std::string body, const std::string& range) {
    if (corrupt) body[body.size() / 2] ^= 0x55;
    size_t from = 0;
    int status = 200;
    if (range.rfind("bytes=", 0) == 0) {
      ++range_requests;
      from = std::stoull(range.substr(6));
      if (from >= body.size()) return send_all(c, reply(416, "Range Not Satisfiable", ""));
      status = 206;
    }
    const std::string part = body.substr(from);
    std::string head = "HTTP/1.1 " + std::to_string(status) + (status == 206 ? " Partial Content" : " OK") +
                       "\r\nContent-Length: " + std::to_string(part.size()) + "\r\nConnection: close\r\n" +
                       (status == 206 ? "Content-Range: bytes " + std::to_string(from) + "-" + std::to_string(body.size() - 1) +
                                            "/" + std::to_string(body.size()) + "\r\n"
                                      : "") +
                       "\r\n";
    send_all(c, head);
    if (stall.exchange(false)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
      return;
    }
    const double drop = drop_at.exchange(-1);
    const size_t limit = drop >= 0 ? static_cast<size_t>(static_cast<double>(body.size()) * drop) - std::min(from, static_cast<size_t>(static_cast<double>(body.size()) * drop)) : part.size();
    for (size_t at = 0; at < std::min(limit, part.size()); at += 65536) {
      send_all(c, part.substr(at, std::min<size_t>(65536, std::min(limit, part.size()) - at)));
      if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    }
  }

  int fd_ = -1, port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, Repo> repos_;
};

}  // namespace cria::test
