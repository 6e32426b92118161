// llama-bench's two speed tests on a loaded model: prompt processing (pp: n_prompt random tokens decoded
// from an empty cache in batches of n_batch) and text generation (tg: n_gen single-token decodes from an
// empty cache). Each test runs once to warm up, then `repetitions` timed times; speeds are reported the
// way llama-bench reports them (the mean and sample deviation of the per-run tokens per second).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace cria::engine {

struct SpeedTest {
  int n_prompt = 0;  // pp test when > 0
  int n_gen = 0;     // tg test when > 0
  int n_threads = 1;
  int n_batch = 512;
  int repetitions = 5;
  uint32_t seed = 1;  // of the random token ids
  bool flash_attn = false;
  model::KvCacheTypes cache_types;

  std::string name() const;  // "pp512", "tg128", "pp512+tg128"
};

struct SpeedResult {
  SpeedTest test;
  std::string test_time;  // UTC start, "2026-11-28T18:06:00Z"
  std::vector<uint64_t> samples_ns;
  std::vector<double> samples_ts;
  double avg_ns = 0, stddev_ns = 0;
  double avg_ts = 0, stddev_ts = 0;
};

Result<SpeedResult> run_speed_test(const std::shared_ptr<const model::Model>& model, const SpeedTest& test);

// What llama-bench's model columns show.
struct ModelSummary {
  std::string type;      // "llama 1B Q4_0": architecture, size class, file type
  uint64_t n_params = 0;
  uint64_t n_bytes = 0;  // all tensor data
};

ModelSummary summarize_model(const model::Model& model);

}  // namespace cria::engine
