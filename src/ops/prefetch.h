// Software prefetch for weights that generation streams from memory once. Each line is requested twice:
// into L2 far ahead, so that enough lines are in flight to keep up with DRAM, and into L1 a little
// ahead, so that the kernel's loads hit. With the L1 request alone (a few KB ahead) the packed Q4_0,
// Q4_K and Q6_K kernels read at 79-82% of the speed of a plain read of the same bytes; with both,
// Q4_0 and Q4_K reach 86-100% (matmul_bench's matvec_dram against read_dram, docs/PERF.md).
// Prefetches past the end of the weights are harmless: they never fault.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace cria::ops {

// Chosen by in-process A/B of generation (docs/PERF.md, round 7): near 4 KB beat 2 KB by 0-2.4% and
// 8 KB by 0-1%; far 32 KB beat 16 KB and 64 KB by about 1%; dropping either request cost 4-12%.
constexpr size_t kPrefetchNearBytes = 4096;
constexpr size_t kPrefetchFarBytes = 32768;

// Call about once per 64-byte line of weights as the kernel reaches it (packed Q4_0: once per 72-byte
// block, which measured faster than exactly once per line).
inline void prefetch_weights(const uint8_t* line) {
  __builtin_prefetch(line + kPrefetchNearBytes, 0, 3);  // into L1
  __builtin_prefetch(line + kPrefetchFarBytes, 0, 2);   // into L2
}

// Before a thread starts on its range of weights: the requests prefetch_weights would have made for
// the range's first lines, had it been running already. Without them every matmul began cold.
inline void prefetch_weights_start(const uint8_t* begin, size_t bytes) {
  const size_t n = std::min(bytes, kPrefetchFarBytes);
  for (size_t off = 0; off < n; off += 64) {
    if (off < kPrefetchNearBytes) {
      __builtin_prefetch(begin + off, 0, 3);
    } else {
      __builtin_prefetch(begin + off, 0, 2);
    }
  }
}

}  // namespace cria::ops
