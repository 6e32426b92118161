// WorkShares hands every chunk out exactly once, in order within a thread's own share, and lets idle
// threads finish a slow thread's share.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "core/work_shares.h"

namespace cria {
namespace {

TEST(WorkShares, OneThreadTakesEveryChunkInOrder) {
  WorkShares shares;
  shares.reset(7, 1);
  for (int64_t want = 0; want < 7; ++want) EXPECT_EQ(shares.next(0), want);
  EXPECT_EQ(shares.next(0), -1);
  shares.reset(0, 1);
  EXPECT_EQ(shares.next(0), -1);
}

TEST(WorkShares, OwnShareFromTheFrontThenOthersFromTheBack) {
  WorkShares shares;
  shares.reset(10, 3);  // shares [0, 4), [4, 7), [7, 10)
  EXPECT_EQ(shares.next(1), 4);
  EXPECT_EQ(shares.next(1), 5);
  EXPECT_EQ(shares.next(1), 6);
  EXPECT_EQ(shares.next(1), 9);  // share 2's back
  EXPECT_EQ(shares.next(2), 7);
  EXPECT_EQ(shares.next(2), 8);
  EXPECT_EQ(shares.next(2), 3);  // share 0's back
  EXPECT_EQ(shares.next(0), 0);
  EXPECT_EQ(shares.next(1), 2);
  EXPECT_EQ(shares.next(0), 1);
  for (int t = 0; t < 3; ++t) EXPECT_EQ(shares.next(t), -1);
}

TEST(WorkShares, EveryChunkExactlyOnceUnderContentionAndAStalledThread) {
  for (int threads : {2, 3, 8}) {
    for (int64_t chunks : {1, 5, 64, 1000}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, " + std::to_string(chunks) + " chunks");
      ThreadPool pool(threads);
      WorkShares shares;
      shares.reset(chunks, threads);
      std::vector<std::atomic<int>> seen(static_cast<size_t>(chunks));
      std::vector<int64_t> done_by(static_cast<size_t>(threads), 0);
      std::atomic<int64_t> done_by_others{0};
      const int64_t own_share = (chunks + threads - 1) / threads;  // thread 0's
      pool.parallel_for(threads, [&](int64_t, int64_t, int thread) {
        // Thread 0 stalls until the others have taken at least one chunk of its share (or 10 s pass).
        if (thread == 0 && chunks > threads) {
          const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (done_by_others.load() <= chunks - own_share && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::yield();
          }
        }
        for (int64_t c; (c = shares.next(thread)) >= 0;) {
          seen[static_cast<size_t>(c)].fetch_add(1);
          ++done_by[static_cast<size_t>(thread)];
          if (thread != 0) done_by_others.fetch_add(1);
        }
      });
      for (int64_t c = 0; c < chunks; ++c) EXPECT_EQ(seen[static_cast<size_t>(c)].load(), 1) << "chunk " << c;
      if (chunks > threads) {
        EXPECT_LT(done_by[0], own_share) << "nobody helped the stalled thread";
      }
    }
  }
}

TEST(WorkShares, RejectsCountsItCannotPack) {
  WorkShares shares;
  EXPECT_THROW(shares.reset(int64_t{1} << 32, 2), std::invalid_argument);
  EXPECT_THROW(shares.reset(4, 0), std::invalid_argument);
}

}  // namespace
}  // namespace cria
