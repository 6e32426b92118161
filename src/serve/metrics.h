// The server's counters and latency histograms, with vLLM's meanings, and their Prometheus text
// exposition (names prefixed "cria:"). Updated from the scheduler's thread and read from the HTTP
// threads: a mutex guards them (a few updates per token).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cria::serve {

struct Histogram {
  std::vector<double> bounds;    // upper bounds, rising; +Inf is implicit
  std::vector<uint64_t> counts;  // per bucket (not cumulative), bounds.size() + 1
  double sum = 0;
  uint64_t count = 0;

  explicit Histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void observe(double v);
};

struct MetricsSnapshot {
  int requests_running = 0;
  int requests_waiting = 0;
  double kv_cache_usage = 0;  // 0..1: cells held by running sequences
  uint64_t prompt_tokens = 0, generation_tokens = 0;
  uint64_t prefix_cache_queries = 0, prefix_cache_hits = 0;  // in tokens, as vLLM
  uint64_t preemptions = 0;
  std::map<std::string, uint64_t> request_success;  // by finish reason
  Histogram time_to_first_token, inter_token_latency, e2e_request_latency, request_queue_time;
};

class Metrics {
 public:
  Metrics();
  template <class F>
  void update(F&& f) {
    std::lock_guard lock(mu_);
    f(s_);
  }
  MetricsSnapshot snapshot() const {
    std::lock_guard lock(mu_);
    return s_;
  }

 private:
  mutable std::mutex mu_;
  MetricsSnapshot s_;
};

// Prometheus text format 0.0.4: HELP and TYPE lines, counters with _total, histograms with cumulative
// _bucket{le=...}, _sum and _count. `model_name` is a label on every sample, as vLLM does.
std::string prometheus_text(const MetricsSnapshot& m, const std::string& model_name);

}  // namespace cria::serve
