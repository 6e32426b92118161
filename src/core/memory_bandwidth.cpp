#include "core/memory_bandwidth.h"

#include "core/huge_pages.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CRIA_X86 1
#endif

namespace cria {

namespace {

constexpr size_t kPage = 4096;

// Each reader XORs everything it loads into a few independent accumulators (so that the loads are not
// serialized behind one dependency chain) and returns the result, which the caller keeps, so the
// compiler cannot drop the loads. `n` is a multiple of 256 bytes and `p` is page-aligned.
using ReadFn = uint64_t (*)(const uint8_t* p, size_t n);

uint64_t read_portable(const uint8_t* p, size_t n) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i < n / 8; i += 4) {
    a0 ^= w[i];
    a1 ^= w[i + 1];
    a2 ^= w[i + 2];
    a3 ^= w[i + 3];
  }
  return a0 ^ a1 ^ a2 ^ a3;
}

#ifdef CRIA_X86
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

__attribute__((target("avx512f"))) uint64_t read_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
  }
  const __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a);
  uint64_t r = 0;
  for (uint64_t x : lanes) r ^= x;
  return r;
}
#endif

struct Reader {
  ReadFn fn;
  std::string_view width;
};

Reader widest_reader() {
#ifdef CRIA_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {read_avx512, "512-bit"};
  if (__builtin_cpu_supports("avx2")) return {read_avx2, "256-bit"};
#endif
  return {read_portable, "128-bit"};
}

}  // namespace

Result<BandwidthResult> measure_read_bandwidth(ThreadPool& pool, const BandwidthOptions& options) {
  const size_t n_pages = std::max<size_t>(options.buffer_bytes / kPage, 1);
  const size_t bytes = n_pages * kPage;
  std::shared_ptr<uint8_t[]> buffer;
  try {
    buffer = allocate_huge_pages(bytes);
  } catch (const std::bad_alloc&) {
    return make_error("cannot allocate a " + std::to_string(bytes) + "-byte buffer to measure bandwidth");
  }
  uint8_t* base = buffer.get();
  // The same pages as the repacked weights (core/huge_pages.h): 2 MiB where the kernel grants them.
  // Fewer page walks make a plain read faster too, so the ceiling a generated token is compared with
  // rises with the weights' speed (docs/PERF.md, round 7).

  // Each thread first touches the pages it will read, so that on NUMA machines they are local to it and
  // no pass pays for page faults. Non-zero bytes: a zero page could be shared and never reach memory.
  const auto pages = static_cast<int64_t>(n_pages);
  pool.parallel_for(pages, [&](int64_t begin, int64_t end, int) {
    std::memset(base + static_cast<size_t>(begin) * kPage, 0x5a, static_cast<size_t>(end - begin) * kPage);
  });

  const Reader reader = widest_reader();
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.size()), 0);
  double best_seconds = 0;
  for (int pass = 0; pass < std::max(options.passes, 1); ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool.parallel_for(pages, [&](int64_t begin, int64_t end, int thread) {
      sinks[static_cast<size_t>(thread)] ^=
          reader.fn(base + static_cast<size_t>(begin) * kPage, static_cast<size_t>(end - begin) * kPage);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pass == 0 || seconds < best_seconds) best_seconds = seconds;
  }
  // Publish the sinks so the reads count as used.
  uint64_t all = 0;
  for (uint64_t s : sinks) all ^= s;
  volatile uint64_t keep = all;
  (void)keep;

  BandwidthResult r;
  r.gb_per_s = best_seconds > 0 ? static_cast<double>(bytes) / best_seconds / 1e9 : 0;
  r.threads = pool.size();
  r.buffer_bytes = bytes;
  r.load_width = reader.width;
  return r;
}

uint64_t read_memory(const uint8_t* p, size_t n) {
  static const Reader reader = widest_reader();
  return reader.fn(p, n);
}

}  // namespace cria
