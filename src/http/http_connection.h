// The pieces the server and its sessions share: the state of one exchange, the interface through which an
// exchange reaches its connection, the server-wide Core, and the Exchange handed to the handler.
// Private to src/http and included only by http_server.cpp (through http_session.h), which keeps
// Asio in one translation unit.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "http/http_message.h"
#include "http/http_server.h"

namespace cria::http::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

// The part of an exchange both sides touch: the handler's threads and the session's strand.
struct ExchangeState {
  std::atomic<bool> answered{false};   // respond() or begin_stream() was called
  std::atomic<bool> streaming{false};  // begin_stream() was called
  std::atomic<bool> done{false};       // respond() or end_stream() was called
  std::atomic<bool> cancelled{false};
  std::atomic<size_t> queued{0};  // bytes passed to send() that have not reached the strand yet
  std::atomic<size_t> unsent{0};  // bytes on the strand not yet written to the socket
  std::mutex mu;                  // guards on_cancel, and cancelled's change
  std::function<void()> on_cancel;
};
using StatePtr = std::shared_ptr<ExchangeState>;

// What an exchange may ask of its connection; each runs on the connection's strand.
class ConnBase : public std::enable_shared_from_this<ConnBase> {
 public:
  explicit ConnBase(Strand strand) : strand_(std::move(strand)) {}
  virtual ~ConnBase() = default;
  const Strand& strand() const { return strand_; }

  virtual void start() = 0;
  virtual void respond(const StatePtr& st, Response response) = 0;
  virtual void begin_stream(const StatePtr& st, int status, std::string content_type,
                            std::vector<Header> headers) = 0;
  virtual void send(const StatePtr& st, std::string bytes) = 0;
  virtual void end_stream(const StatePtr& st) = 0;
  virtual void abandon(const StatePtr& st) = 0;   // the handler dropped the exchange before finishing
  virtual void overflow(const StatePtr& st) = 0;  // the client reads too slowly
  virtual void soft_stop() = 0;                   // the server is stopping: close unless an exchange is open
  virtual void hard_stop() = 0;                   // close now, cancelling any exchange

 protected:
  Strand strand_;
};

// What the server and its sessions share; sessions hold it, so it outlives the Server object if needed.
struct Core {
  ServerOptions options;
  Handler handler;
  asio::io_context::executor_type io;  // only used while io_running

  std::mutex mu;
  std::condition_variable cv;  // signalled when `conns` becomes empty
  std::unordered_map<const ConnBase*, std::shared_ptr<ConnBase>> conns;
  bool stopping = false;
  bool io_running = true;

  Core(ServerOptions o, Handler h, asio::io_context::executor_type e)
      : options(std::move(o)), handler(std::move(h)), io(std::move(e)) {}

  std::string error_body(int status, std::string_view message) const {
    if (options.error_body) {
      try {
        return options.error_body(status, message);
      } catch (...) {
      }
    }
    return detail::default_error_body(status, message);
  }

  // Runs f on an I/O thread, or on this one once the I/O threads have ended.
  void run_soon(std::function<void()> f) {
    auto guarded = [f = std::move(f)] {
      try {
        f();
      } catch (...) {
      }
    };
    {
      std::lock_guard lock(mu);
      if (io_running) {
        asio::post(io, std::move(guarded));
        return;
      }
    }
    guarded();
  }

  bool add(std::shared_ptr<ConnBase> conn) {
    std::lock_guard lock(mu);
    if (stopping) return false;
    const ConnBase* key = conn.get();
    conns.emplace(key, std::move(conn));
    return true;
  }

  void remove(const ConnBase* conn) {
    std::shared_ptr<ConnBase> keep;  // released after the lock
    std::lock_guard lock(mu);
    auto it = conns.find(conn);
    if (it == conns.end()) return;
    keep = std::move(it->second);
    conns.erase(it);
    if (conns.empty()) cv.notify_all();
  }
};

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(std::shared_ptr<Core> core, std::weak_ptr<ConnBase> conn, StatePtr st, Request request)
      : core_(std::move(core)), conn_(std::move(conn)), st_(std::move(st)), request_(std::move(request)) {}

  ~ExchangeImpl() override {
    if (!st_->cancelled.load() && !st_->done.load()) post([st = st_](ConnBase& c) { c.abandon(st); });
  }

  const Request& request() const override { return request_; }

  void respond(Response response) override {
    if (st_->answered.exchange(true)) return;
    st_->done = true;
    if (st_->cancelled.load()) return;
    post([st = st_, r = std::move(response)](ConnBase& c) mutable { c.respond(st, std::move(r)); });
  }

  void begin_stream(int status, std::string content_type, std::vector<Header> headers) override {
    if (st_->answered.exchange(true)) return;
    st_->streaming = true;
    if (st_->cancelled.load()) return;
    post([st = st_, status, ct = std::move(content_type), h = std::move(headers)](ConnBase& c) mutable {
      c.begin_stream(st, status, std::move(ct), std::move(h));
    });
  }

  bool send(std::string bytes) override {
    if (st_->cancelled.load() || !st_->streaming.load() || st_->done.load()) return false;
    if (bytes.empty()) return true;
    size_t n = bytes.size();
    size_t pending = st_->queued.fetch_add(n) + n + st_->unsent.load();
    if (pending > core_->options.max_pending_bytes) {
      post([st = st_](ConnBase& c) { c.overflow(st); });
      return false;
    }
    post([st = st_, b = std::move(bytes)](ConnBase& c) mutable {
      st->queued -= b.size();
      c.send(st, std::move(b));
    });
    return true;
  }

  void end_stream() override {
    if (!st_->streaming.load() || st_->done.exchange(true)) return;
    if (st_->cancelled.load()) return;
    post([st = st_](ConnBase& c) { c.end_stream(st); });
  }

  bool cancelled() const override { return st_->cancelled.load(); }

  void on_cancel(std::function<void()> f) override {
    {
      std::lock_guard lock(st_->mu);
      if (!st_->cancelled.load()) {
        // Once answered the exchange is never cancelled; keeping f could only keep what it holds alive.
        if (!st_->done.load()) st_->on_cancel.swap(f);
        return;  // f (the old callback or the new) is released after the lock
      }
    }
    if (f) core_->run_soon(std::move(f));
  }

 private:
  template <class F>
  void post(F&& f) {
    if (auto c = conn_.lock()) asio::post(c->strand(), [c, f = std::forward<F>(f)]() mutable { f(*c); });
  }

  std::shared_ptr<Core> core_;
  std::weak_ptr<ConnBase> conn_;
  StatePtr st_;
  Request request_;
};

inline std::string endpoint_string(const tcp::endpoint& ep) {
  std::string address = ep.address().to_string();
  if (ep.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(ep.port());
}

}  // namespace cria::http::detail
