#include "serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace cria::serve {

void Histogram::observe(double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
  ++counts[i];
  sum += v;
  ++count;
}

namespace {

// vLLM's buckets, in seconds.
std::vector<double> ttft_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}
std::vector<double> itl_buckets() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
}
std::vector<double> request_buckets() {
  return {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0};
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Metrics::Metrics() {
  s_.time_to_first_token = Histogram(ttft_buckets());
  s_.inter_token_latency = Histogram(itl_buckets());
  s_.e2e_request_latency = Histogram(request_buckets());
  s_.request_queue_time = Histogram(request_buckets());
}

std::string prometheus_text(const MetricsSnapshot& m, const std::string& model_name) {
  const std::string model = "model_name=\"" + label_value(model_name) + "\"";
  std::string out;
  auto head = [&](const std::string& name, const char* type, const char* help) {
    out += "# HELP cria:" + name + " " + help + "\n# TYPE cria:" + name + " " + type + "\n";
  };
  auto sample = [&](const std::string& name, const std::string& labels, double v) {
    out += "cria:" + name + "{" + labels + "} " + number(v) + "\n";
  };
  head("num_requests_running", "gauge", "Requests whose sequences are in the batch.");
  sample("num_requests_running", model, m.requests_running);
  head("num_requests_waiting", "gauge", "Requests waiting for a sequence slot.");
  sample("num_requests_waiting", model, m.requests_waiting);
  head("kv_cache_usage_perc", "gauge", "Fraction of KV cache cells held by running sequences (1 = full).");
  sample("kv_cache_usage_perc", model, m.kv_cache_usage);
  head("prompt_tokens_total", "counter", "Prompt tokens of all requests, cached ones included.");
  sample("prompt_tokens_total", model, static_cast<double>(m.prompt_tokens));
  head("generation_tokens_total", "counter", "Tokens generated.");
  sample("generation_tokens_total", model, static_cast<double>(m.generation_tokens));
  head("prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.");
  sample("prefix_cache_queries_total", model, static_cast<double>(m.prefix_cache_queries));
  head("prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.");
  sample("prefix_cache_hits_total", model, static_cast<double>(m.prefix_cache_hits));
  head("num_preemptions_total", "counter", "Requests preempted because the KV cache was full.");
  sample("num_preemptions_total", model, static_cast<double>(m.preemptions));
  head("request_success_total", "counter", "Finished requests by finish reason.");
  for (const char* reason : {"stop", "length"}) {
    const auto it = m.request_success.find(reason);
    sample("request_success_total", model + ",finished_reason=\"" + reason + "\"",
           it == m.request_success.end() ? 0.0 : static_cast<double>(it->second));
  }
  for (const auto& [reason, n] : m.request_success) {
    if (reason != "stop" && reason != "length") {
      sample("request_success_total", model + ",finished_reason=\"" + label_value(reason) + "\"", static_cast<double>(n));
    }
  }
  auto histogram = [&](const std::string& name, const char* help, const Histogram& h) {
    head(name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds.size(); ++i) {
      cumulative += h.counts[i];
      sample(name + "_bucket", model + ",le=\"" + number(h.bounds[i]) + "\"", static_cast<double>(cumulative));
    }
    sample(name + "_bucket", model + ",le=\"+Inf\"", static_cast<double>(h.count));
    sample(name + "_sum", model, h.sum);
    sample(name + "_count", model, static_cast<double>(h.count));
  };
  histogram("time_to_first_token_seconds", "Time from arrival to the first generated token.", m.time_to_first_token);
  histogram("inter_token_latency_seconds", "Time between consecutive tokens of a sequence.", m.inter_token_latency);
  histogram("e2e_request_latency_seconds", "Time from arrival to the last token.", m.e2e_request_latency);
  histogram("request_queue_time_seconds", "Time from arrival to admission into the batch.", m.request_queue_time);
  return out;
}

}  // namespace cria::serve
