#include "core/work_shares.h"

#include <stdexcept>

namespace cria {

void WorkShares::reset(int64_t n_chunks, int n_threads) {
  if (n_chunks < 0 || n_chunks >= (int64_t{1} << 32) || n_threads < 1) {
    throw std::invalid_argument("WorkShares: chunk or thread count out of range");
  }
  if (n_threads > capacity_) {
    shares_ = std::make_unique<Share[]>(static_cast<size_t>(n_threads));
    capacity_ = n_threads;
  }
  n_threads_ = n_threads;
  const int64_t base = n_chunks / n_threads, extra = n_chunks % n_threads;
  int64_t front = 0;
  for (int t = 0; t < n_threads; ++t) {
    const int64_t back = front + base + (t < extra ? 1 : 0);
    shares_[t].range.store(static_cast<uint64_t>(back) << 32 | static_cast<uint64_t>(front), std::memory_order_relaxed);
    front = back;
  }
}

int64_t WorkShares::take(Share& share, bool from_front) {
  uint64_t range = share.range.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t front = range & 0xffffffffu, back = range >> 32;
    if (front >= back) return -1;
    const uint64_t claimed = from_front ? (back << 32 | (front + 1)) : ((back - 1) << 32 | front);
    if (share.range.compare_exchange_weak(range, claimed, std::memory_order_relaxed)) {
      return static_cast<int64_t>(from_front ? front : back - 1);
    }
  }
}

int64_t WorkShares::next(int thread) {
  if (int64_t c = take(shares_[thread], true); c >= 0) return c;
  for (int k = 1; k < n_threads_; ++k) {
    if (int64_t c = take(shares_[(thread + k) % n_threads_], false); c >= 0) return c;
  }
  return -1;
}

}  // namespace cria
