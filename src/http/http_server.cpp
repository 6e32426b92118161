// Server: the acceptor, the I/O threads and stop(). The connections themselves are in http_session.h,
// the pieces they share with their exchanges in http_connection.h; this is the only translation unit that
// includes Asio and Beast.
#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "http/http_session.h"

namespace cria::http {
namespace {

using namespace detail;

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions options, Handler handler)
      : ioc_(std::max(1, options.io_threads)),
        acceptor_(asio::make_strand(ioc_)),
        retry_timer_(acceptor_.get_executor()),
        core_(std::make_shared<Core>(std::move(options), std::move(handler), ioc_.get_executor())) {}

  ~ServerImpl() override { stop(milliseconds(0)); }

  Status listen();

  int port() const override { return port_; }
  void stop(milliseconds grace) override;
  int open_connections() const override {
    std::lock_guard lock(core_->mu);
    return static_cast<int>(core_->conns.size());
  }

 private:
  Status setup_tls();
  void accept();
  void on_accept(error_code ec, Socket socket);
  void run_io();

  std::optional<ssl::context> tls_;  // before ioc_: sessions still queued in ioc_ may hold TLS streams
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::shared_ptr<Core> core_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

Result<asio::ip::address> parse_host(const std::string& host) {
  if (host == "localhost") return asio::ip::address(asio::ip::address_v4::loopback());
  std::string literal = host;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']')
    literal = literal.substr(1, literal.size() - 2);
  error_code ec;
  asio::ip::address address = asio::ip::make_address(literal, ec);
  if (ec) return make_error("invalid host '" + host + "': expected an IPv4 or IPv6 address or \"localhost\"");
  return address;
}

// OpenSSL's messages for a missing file are cryptic ("system lib"); say plainly what is wrong first.
Status check_readable(const std::string& path, const char* what) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error(std::string("cannot read ") + what + " '" + path + "': " + std::strerror(errno));
  std::fclose(f);
  return Ok{};
}

Status ServerImpl::setup_tls() {
  const ServerOptions& o = core_->options;
  if (o.ssl_cert_file.empty() && o.ssl_key_file.empty()) return Ok{};
  if (o.ssl_cert_file.empty() || o.ssl_key_file.empty())
    return make_error("TLS needs both a certificate file and a key file (only " +
                      std::string(o.ssl_cert_file.empty() ? "the key" : "the certificate") + " was given)");
  if (Status s = check_readable(o.ssl_cert_file, "certificate file"); !s) return s;
  if (Status s = check_readable(o.ssl_key_file, "key file"); !s) return s;
  tls_.emplace(ssl::context::tls_server);
  tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_options(tls_->native_handle(), SSL_OP_NO_RENEGOTIATION);
  error_code ec;
  tls_->use_certificate_chain_file(o.ssl_cert_file, ec);
  if (ec) return make_error("invalid certificate file '" + o.ssl_cert_file + "': " + ec.message());
  tls_->use_private_key_file(o.ssl_key_file, ssl::context::pem, ec);
  if (ec) return make_error("invalid key file '" + o.ssl_key_file + "': " + ec.message());
  if (SSL_CTX_check_private_key(tls_->native_handle()) != 1)
    return make_error("key file '" + o.ssl_key_file + "' does not match certificate file '" +
                      o.ssl_cert_file + "'");
  return Ok{};
}

Status ServerImpl::listen() {
  const ServerOptions& o = core_->options;
  if (!core_->handler) return make_error("the HTTP server needs a request handler");
  if (o.port < 0 || o.port > 65535) return make_error("invalid port " + std::to_string(o.port));
  auto address = parse_host(o.host);
  if (!address) return address.error();
  if (Status s = setup_tls(); !s) return s;

  tcp::endpoint endpoint(*address, static_cast<unsigned short>(o.port));
  auto fail = [&](const error_code& ec) {
    return make_error("cannot listen on " + endpoint_string(endpoint) + ": " + ec.message());
  };
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail(ec);
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail(ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return fail(ec);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec);
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return fail(ec);

  work_.emplace(ioc_.get_executor());
  accept();
  int n = std::clamp(o.io_threads, 1, 256);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { run_io(); });
  return Ok{};
}

void ServerImpl::run_io() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (...) {
      // A handler threw past its own guards; the other connections keep being served.
    }
  }
}

void ServerImpl::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                         [this](error_code ec, Socket socket) { on_accept(ec, std::move(socket)); });
}

void ServerImpl::on_accept(error_code ec, Socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors or similar: wait a little rather than spin on the error.
    retry_timer_.expires_after(milliseconds(100));
    retry_timer_.async_wait([this](error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) accept();
    });
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // events must leave at once, not wait for Nagle
  std::string remote = endpoint_string(socket.remote_endpoint(ignored));
  std::shared_ptr<ConnBase> conn;
  if (tls_)
    conn = std::make_shared<Session<TlsSocket>>(core_, std::move(socket), &*tls_, std::move(remote));
  else
    conn = std::make_shared<Session<Socket>>(core_, std::move(socket), nullptr, std::move(remote));
  if (core_->add(conn)) asio::post(conn->strand(), [conn] { conn->start(); });
  accept();
}

void ServerImpl::stop(milliseconds grace) {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  auto snapshot = [this] {
    std::vector<std::shared_ptr<ConnBase>> all;
    for (auto& entry : core_->conns) all.push_back(entry.second);
    return all;
  };
  std::vector<std::shared_ptr<ConnBase>> conns;
  {
    std::lock_guard lock(core_->mu);
    core_->stopping = true;
    conns = snapshot();
  }
  asio::post(acceptor_.get_executor(), [this] {
    error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
  });
  for (auto& c : conns) asio::post(c->strand(), [c] { c->soft_stop(); });
  conns.clear();
  {
    std::unique_lock lock(core_->mu);
    auto deadline = std::chrono::steady_clock::now() + std::max(grace, milliseconds(0));
    core_->cv.wait_until(lock, deadline, [this] { return core_->conns.empty(); });
    conns = snapshot();
  }
  for (auto& c : conns) asio::post(c->strand(), [c] { c->hard_stop(); });
  conns.clear();
  {
    std::unique_lock lock(core_->mu);
    core_->cv.wait(lock, [this] { return core_->conns.empty(); });
    core_->io_running = false;
  }
  work_.reset();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Handler handler) {
  try {
    auto server = std::make_unique<ServerImpl>(std::move(options), std::move(handler));
    if (Status s = server->listen(); !s) return s.error();
    return std::unique_ptr<Server>(std::move(server));
  } catch (const std::exception& e) {
    return make_error(std::string("cannot start the HTTP server: ") + e.what());
  }
}

}  // namespace cria::http
