// One connection: a Session over plain TCP (Socket) or TLS (TlsSocket), all its work on its strand.
// Private to src/http; only http_server.cpp includes it.
//
// A session keeps at most one read on its socket at all times and feeds what arrives to Beast's request
// parser. That one read plays three parts: the bytes of a request; the wait for the next request on a
// kept-alive connection; and, while an exchange is open, the watch that notices a client that has gone
// (EOF or error cancels the exchange) while keeping any pipelined bytes for the next request. Reads go to
// their own buffer and are appended to `in_`, so parsing never disturbs a read in flight.
//
// Writes are queued in `out_` and go out one async_write_some at a time from `inflight_`; what piles up
// while a write is in flight goes out in the next one.
#pragma once

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "http/http_connection.h"

namespace cria::http::detail {

namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using std::chrono::milliseconds;
using Socket = tcp::socket::rebind_executor<Strand>::other;
using TlsSocket = ssl::stream<Socket>;

constexpr size_t kReadChunk = 16u << 10;
// After the last response on a connection the server stops sending and reads (and drops) what the client
// still sends, for up to this long: closing with unread input would send a reset, which can destroy the
// response before the client has read it.
constexpr milliseconds kLinger{1000};

template <class Stream>
class Session final : public ConnBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsSocket>;

  Session(std::shared_ptr<Core> core, Socket socket, ssl::context* tls, std::string remote)
      : ConnBase(socket.get_executor()),
        core_(std::move(core)),
        opt_(core_->options),
        stream_(make_stream(std::move(socket), tls)),
        remote_(std::move(remote)),
        rbuf_(new char[kReadChunk]),
        read_timer_(strand_),
        write_timer_(strand_) {}

  void start() override {
    new_parser();
    arm_read_timer(opt_.header_timeout);  // the handshake counts against the first request's headers
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      stream_.async_handshake(ssl::stream_base::server, [self = self()](error_code ec) {
        if (self->phase_ != Phase::kHandshake) return;
        if (ec) return self->close_now();
        self->phase_ = Phase::kRequest;
        self->arm_read_timer(self->opt_.header_timeout);
        self->read_more();
      });
    } else {
      phase_ = Phase::kRequest;
      read_more();
    }
  }

  void respond(const StatePtr& st, Response r) override {
    if (!current(st) || answer_ != Answer::kNone) return;
    complete_answer();
    int status = sanitize_status(r.status);
    bool body = !head_only_ && status_has_body(status);
    Head head{status, r.content_type, &r.headers, keep_alive(), Head::Framing::kLength, r.body.size(), false};
    std::string out;
    out.reserve(256 + (body ? r.body.size() : 0));
    append_head(out, head);
    if (body) out += r.body;
    queue(out);
  }

  void begin_stream(const StatePtr& st, int status, std::string content_type,
                    std::vector<Header> headers) override {
    if (!current(st) || answer_ != Answer::kNone) return;
    answer_ = Answer::kStreaming;
    // HTTP/1.0 has no chunked coding: the body runs until the connection closes.
    chunked_ = !http10_;
    if (!chunked_) keep_alive_ = false;
    Head head{sanitize_status(status),
              content_type,
              &headers,
              keep_alive(),
              chunked_ ? Head::Framing::kChunked : Head::Framing::kUntilClose,
              0,
              true};
    std::string out;
    append_head(out, head);
    queue(out);
  }

  void send(const StatePtr& st, std::string bytes) override {
    if (!current(st) || answer_ != Answer::kStreaming || head_only_) return;
    if (chunked_) {
      std::string chunk;
      chunk.reserve(bytes.size() + 16);
      append_chunk(chunk, bytes);
      queue(chunk);
    } else {
      queue(bytes);
    }
    if (phase_ == Phase::kExchange && unsent() > opt_.max_pending_bytes) overflow(st);
  }

  void end_stream(const StatePtr& st) override {
    if (!current(st) || answer_ != Answer::kStreaming) return;
    complete_answer();
    queue(chunked_ && !head_only_ ? kLastChunk : std::string_view());
  }

  void abandon(const StatePtr& st) override {
    if (!current(st)) return;
    if (answer_ == Answer::kNone) {
      Response r;
      r.status = 500;
      r.body = core_->error_body(500, "the server dropped the request without answering it");
      respond(st, std::move(r));
    } else if (answer_ == Answer::kStreaming) {
      // The stream cannot be finished properly; closing tells the client it was cut short.
      complete_answer();
      close_when_drained_ = true;
      pump();
    }
  }

  void overflow(const StatePtr& st) override {
    if (!current(st)) return;
    close_now();
  }

  void soft_stop() override {
    stopping_ = true;
    if (phase_ == Phase::kHandshake || phase_ == Phase::kIdle || phase_ == Phase::kRequest) close_now();
  }

  void hard_stop() override { close_now(); }

 private:
  enum class Phase {
    kHandshake,  // TLS handshake
    kIdle,       // kept alive, waiting for the first byte of the next request
    kRequest,    // reading a request's header and body
    kExchange,   // the handler has the request; the response is not finished
    kClosing,    // the last bytes are going out, what arrives is dropped
    kClosed
  };
  enum class Answer { kNone, kStreaming, kComplete };

  static Stream make_stream(Socket socket, ssl::context* tls) {
    if constexpr (kTls)
      return Stream(std::move(socket), *tls);
    else
      return socket;
  }

  std::shared_ptr<Session> self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  auto& socket() { return stream_.lowest_layer(); }
  bool current(const StatePtr& st) const { return st && st == ex_ && phase_ == Phase::kExchange; }
  bool keep_alive() const { return keep_alive_ && !stopping_; }
  size_t unsent() const { return out_.size() + inflight_.size() - inflight_off_; }

  // --- timers. A generation number tells a live deadline from one that was replaced after its handler
  // had already been queued.

  void arm_read_timer(milliseconds timeout) {
    unsigned gen = ++read_gen_;
    read_timer_.expires_after(timeout);
    read_timer_.async_wait([self = self(), gen](error_code ec) {
      if (!ec && gen == self->read_gen_) self->on_read_timeout();
    });
  }
  void disarm_read_timer() {
    ++read_gen_;
    read_timer_.cancel();
  }

  void on_read_timeout() {
    switch (phase_) {
      case Phase::kRequest:
        // A client that sent nothing gets no answer; one that stalled mid-request learns why it is cut off.
        if (got_bytes_) return reject(408, "the request did not arrive in time");
        return close_now();
      case Phase::kHandshake:
      case Phase::kIdle:
      case Phase::kClosing:
        return close_now();
      case Phase::kExchange:
      case Phase::kClosed:
        return;
    }
  }

  // --- reading

  void new_parser() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(opt_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(static_cast<std::uint64_t>(opt_.max_body_bytes));
    header_done_ = false;
    got_bytes_ = false;
  }

  void read_more() {
    if (reading_ || phase_ == Phase::kClosed || phase_ == Phase::kHandshake) return;
    reading_ = true;
    stream_.async_read_some(asio::buffer(rbuf_.get(), kReadChunk),
                            [self = self()](error_code ec, size_t n) { self->on_read(ec, n); });
  }

  void on_read(error_code ec, size_t n) {
    reading_ = false;
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // EOF or an error: the client is gone, or at least will not read an answer.
      return close_now();
    }
    switch (phase_) {
      case Phase::kIdle:
        phase_ = Phase::kRequest;
        arm_read_timer(opt_.header_timeout);
        [[fallthrough]];
      case Phase::kRequest:
        got_bytes_ = true;
        in_.append(rbuf_.get(), n);
        return parse();
      case Phase::kExchange:
        // Pipelined bytes wait for their turn; past a bound the client must wait for the answer first
        // (and while it does, a disconnect goes unnoticed).
        in_.append(rbuf_.get(), n);
        if (in_.size() < opt_.max_header_bytes + kReadChunk) read_more();
        return;
      case Phase::kClosing:
        return read_more();
      case Phase::kHandshake:
      case Phase::kClosed:
        return;
    }
  }

  void parse() {
    while (!in_.empty() && !parser_->is_done()) {
      error_code ec;
      size_t used = parser_->put(asio::buffer(in_), ec);
      in_.erase(0, used);
      if (ec == bhttp::error::need_more) break;
      if (ec) {
        if (ec == bhttp::error::header_limit) return reject(431, "the request's header is too large");
        if (ec == bhttp::error::body_limit)
          return reject(413,
                        "the request body is larger than " + std::to_string(opt_.max_body_bytes) + " bytes");
        return reject(400, "malformed request: " + ec.message());
      }
      if (!header_done_ && parser_->is_header_done()) on_header();
      if (used == 0) break;
    }
    if (parser_->is_done()) return dispatch();
    read_more();
  }

  void on_header() {
    header_done_ = true;
    if (parser_->is_done()) return;
    arm_read_timer(opt_.body_timeout);
    // curl waits up to a second for this before sending a body over 1 KB, unless the body is on its way.
    const auto& msg = parser_->get();
    if (in_.empty() && msg.version() >= 11 &&
        boost::beast::iequals(msg[bhttp::field::expect], "100-continue"))
      queue(kContinue);
  }

  void dispatch() {
    disarm_read_timer();
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& field : msg)
      req.headers.push_back({to_lower(field.name_string()), std::string(field.value())});
    req.body = std::move(msg.body());
    req.remote = remote_;
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() < 11;
    head_only_ = msg.method() == bhttp::verb::head;
    parser_.reset();

    phase_ = Phase::kExchange;
    answer_ = Answer::kNone;
    ex_ = std::make_shared<ExchangeState>();
    auto exchange = std::make_shared<ExchangeImpl>(core_, weak_from_this(), ex_, std::move(req));
    if (in_.size() < opt_.max_header_bytes + kReadChunk) read_more();
    try {
      core_->handler(std::move(exchange));
    } catch (...) {
      // An exchange the handler did not keep answers 500 by itself.
    }
  }

  void next_request() {
    ex_.reset();
    answer_ = Answer::kNone;
    new_parser();
    if (!in_.empty()) {
      phase_ = Phase::kRequest;
      got_bytes_ = true;
      arm_read_timer(opt_.header_timeout);
      parse();
    } else {
      phase_ = Phase::kIdle;
      arm_read_timer(opt_.idle_timeout);
      read_more();
    }
  }

  // An answer from the server itself; the connection closes after it, since what follows in the input
  // cannot be trusted to start a request.
  void reject(int status, const std::string& message) {
    disarm_read_timer();
    phase_ = Phase::kClosing;
    in_.clear();
    parser_.reset();
    std::string body = core_->error_body(status, message);
    Head head{status, "application/json", nullptr, false, Head::Framing::kLength, body.size(), false};
    std::string out;
    append_head(out, head);
    out += body;
    close_when_drained_ = true;
    queue(out);
    read_more();  // keep taking what the client sends, so that it is not blocked and reads the answer
  }

  // --- writing

  void queue(std::string_view bytes) {
    out_ += bytes;
    pump();
  }

  void pump() {
    if (writing_ || phase_ == Phase::kClosed) return;
    publish_unsent();
    if (out_.empty()) return on_drained();
    inflight_.swap(out_);
    out_.clear();
    inflight_off_ = 0;
    write_some();
  }

  void write_some() {
    writing_ = true;
    unsigned gen = ++write_gen_;
    write_timer_.expires_after(opt_.write_timeout);
    write_timer_.async_wait([self = self(), gen](error_code ec) {
      // One write that makes no progress for this long: the client has stopped reading.
      if (!ec && gen == self->write_gen_ && self->writing_) self->close_now();
    });
    stream_.async_write_some(asio::buffer(inflight_.data() + inflight_off_, inflight_.size() - inflight_off_),
                             [self = self()](error_code ec, size_t n) { self->on_write(ec, n); });
  }

  void on_write(error_code ec, size_t n) {
    writing_ = false;
    ++write_gen_;
    write_timer_.cancel();
    if (phase_ == Phase::kClosed) return;
    if (ec) return close_now();
    inflight_off_ += n;
    if (inflight_off_ < inflight_.size()) {
      publish_unsent();
      return write_some();
    }
    inflight_.clear();
    inflight_off_ = 0;
    if (inflight_.capacity() > (1u << 20)) inflight_.shrink_to_fit();
    pump();
  }

  void publish_unsent() {
    if (ex_) ex_->unsent.store(unsent());
  }

  // Everything queued has been written.
  void on_drained() {
    if (phase_ == Phase::kExchange && answer_ == Answer::kComplete) {
      if (keep_alive() && !close_when_drained_) return next_request();
      return close_gracefully();
    }
    if (close_when_drained_) close_gracefully();
  }

  // --- closing

  void close_gracefully() {
    if (phase_ == Phase::kClosed || lingering_) return;
    ex_.reset();
    if (stopping_) return close_now();
    lingering_ = true;
    phase_ = Phase::kClosing;
    in_.clear();
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    arm_read_timer(std::min(kLinger, std::max(opt_.idle_timeout, milliseconds(1))));
    read_more();
  }

  void close_now() {
    if (phase_ == Phase::kClosed) return;
    if (ex_ && answer_ != Answer::kComplete) cancel_exchange();
    phase_ = Phase::kClosed;
    ex_.reset();
    disarm_read_timer();
    ++write_gen_;
    write_timer_.cancel();
    error_code ignored;
    socket().close(ignored);
    in_.clear();
    out_.clear();
    core_->remove(this);
  }

  // The answer is whole: the exchange can no longer be cancelled, so its callback goes now (a callback that
  // holds the exchange itself would otherwise keep both alive for good).
  void complete_answer() {
    answer_ = Answer::kComplete;
    std::function<void()> dropped;
    std::lock_guard lock(ex_->mu);
    dropped.swap(ex_->on_cancel);
  }

  void cancel_exchange() {
    std::function<void()> f;
    {
      std::lock_guard lock(ex_->mu);
      if (ex_->cancelled.load()) return;
      ex_->cancelled = true;
      f = std::move(ex_->on_cancel);
    }
    if (f) {
      try {
        f();
      } catch (...) {
      }
    }
  }

  std::shared_ptr<Core> core_;
  const ServerOptions& opt_;
  Stream stream_;
  std::string remote_;
  std::unique_ptr<char[]> rbuf_;  // the socket reads here; parsing works on in_
  std::string in_;                // received, not yet parsed
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  asio::steady_timer read_timer_, write_timer_;
  unsigned read_gen_ = 0, write_gen_ = 0;

  Phase phase_ = Phase::kRequest;
  bool reading_ = false, writing_ = false;
  bool header_done_ = false, got_bytes_ = false;
  bool stopping_ = false, close_when_drained_ = false, lingering_ = false;

  // The open exchange and how its answer goes out.
  StatePtr ex_;
  Answer answer_ = Answer::kNone;
  bool keep_alive_ = true, http10_ = false, head_only_ = false, chunked_ = true;

  std::string out_;       // queued, not yet handed to a write
  std::string inflight_;  // being written, from inflight_off_
  size_t inflight_off_ = 0;
};

}  // namespace cria::http::detail
