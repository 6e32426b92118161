// Work split for threads that stream memory: n chunks cut into one contiguous share per thread. Each
// thread takes chunks from the front of its own share, in order, so its reads stay one long stream for
// the prefetchers; a thread whose share is done takes chunks from the back of the others'. When one
// thread runs slower (a neighbour on its core or on the memory bus), the others finish its work instead
// of waiting for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace cria {

class WorkShares {
 public:
  // Chunks [0, n_chunks) over n_threads shares; reuses its storage when called again.
  void reset(int64_t n_chunks, int n_threads);

  // The next chunk for `thread`: its own share's front, else another share's back; -1 when all are taken.
  int64_t next(int thread);

 private:
  // One share's unclaimed chunks [front, back), packed as back << 32 | front so that one
  // compare-and-swap claims a chunk from either end without the two ends ever crossing.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  static int64_t take(Share& share, bool from_front);

  std::unique_ptr<Share[]> shares_;
  int capacity_ = 0;
  int n_threads_ = 0;
};

}  // namespace cria
