// A persistent pool of worker threads: created once, reused by every operation (no thread creation per
// call). parallel_for splits [0, n) into one contiguous range per thread; the calling thread works too.
// Workers spin briefly between calls (a forward pass issues hundreds of small parallel steps per token,
// and waking a sleeping thread costs more than the step), then sleep until the next call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cria {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // total threads including the caller; at least 1, at most kMaxThreads
  static constexpr int kMaxThreads = 512;  // llama.cpp's GGML_MAX_N_THREADS
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n); returns when all are done.
  // Not reentrant: one parallel_for at a time per pool.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

  // Number of physical cores (hyper-threads counted once), the default for -t.
  static int physical_cores();

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current task; written before generation_ is bumped (release), read after it is seen (acquire).
  const std::function<void(int64_t, int64_t, int)>* task_ = nullptr;
  int64_t task_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex sleep_mutex_;
  std::condition_variable wake_cv_;
  std::atomic<int> sleeping_{0};
};

}  // namespace cria
