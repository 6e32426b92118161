#include "core/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#define CRIA_CPU_RELAX() _mm_pause()
#else
#define CRIA_CPU_RELAX() std::this_thread::yield()
#endif

namespace cria {

namespace {
// A waiting thread first spins (cheap when every thread has a core), then yields its core to other
// runnable threads (so an oversubscribed machine does not stall), then a worker sleeps.
constexpr int kPauseIterations = 2000;
constexpr int kYieldIterations = 2000;

void relax(int iteration) {
  if (iteration < kPauseIterations) {
    CRIA_CPU_RELAX();
  } else {
    std::this_thread::yield();
  }
}

std::pair<int64_t, int64_t> range_of(int64_t n, int parts, int index) {
  const int64_t chunk = n / parts, extra = n % parts;
  const int64_t begin = index * chunk + std::min<int64_t>(index, extra);
  return {begin, begin + chunk + (index < extra ? 1 : 0)};
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::clamp(n_threads, 1, kMaxThreads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    stop_.store(true);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Wait for a new generation: spin first, then sleep.
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load(std::memory_order_relaxed)) {
      if (++spins < kPauseIterations + kYieldIterations) {
        relax(spins);
        continue;
      }
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      sleeping_.fetch_add(1);
      wake_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      sleeping_.fetch_sub(1);
      spins = 0;
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    const auto [begin, end] = range_of(task_n_, n_threads_, index);
    if (begin < end) (*task_)(begin, end, index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  task_ = &fn;
  task_n_ = n;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: ordered before the sleeping_ check below
  if (sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(sleep_mutex_);  // pairs with the sleeper's check under the lock
    wake_cv_.notify_all();
  }
  const auto [begin, end] = range_of(n, n_threads_, 0);
  if (begin < end) fn(begin, end, 0);
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) relax(i);
}

int ThreadPool::physical_cores() {
  // Count distinct (physical id, core id) pairs; fall back to the logical count.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, physical = "0";
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") physical = value;
    if (key == "core id") cores.emplace(physical, value);
  }
  const int logical = static_cast<int>(std::thread::hardware_concurrency());
  if (cores.empty()) return logical > 0 ? logical : 1;
  return static_cast<int>(cores.size());
}

}  // namespace cria
