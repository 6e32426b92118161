// How fast this machine reads memory: the ceiling for token generation, which reads every weight once
// per token. STREAM-like: a large buffer (far beyond the caches) is read with the widest loads the CPU
// has, split across the threads of a pool, and the best of several passes is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/result.h"
#include "core/thread_pool.h"

namespace cria {

struct BandwidthOptions {
  size_t buffer_bytes = size_t{1} << 30;  // 1 GiB
  int passes = 8;
};

struct BandwidthResult {
  double gb_per_s = 0;         // best pass, in 1e9 bytes per second
  int threads = 0;
  size_t buffer_bytes = 0;
  std::string_view load_width;  // "512-bit", "256-bit" or "128-bit"
};

// Fails only when the buffer cannot be allocated.
Result<BandwidthResult> measure_read_bandwidth(ThreadPool& pool, const BandwidthOptions& options = {});

// One thread's part of the measurement: reads n bytes at p (64-byte aligned, n a multiple of 256) with
// the widest loads and returns a value that depends on all of them. Benchmarks use it to read other
// buffers the same way.
uint64_t read_memory(const uint8_t* p, size_t n);

}  // namespace cria
