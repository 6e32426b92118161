// A pipeline's caches (src/dist): the first stage's cache records every sequence operation, and another
// stage's cache that replays the journal and places the same tokens ends up with the same cells,
// positions, sequences and retained prefixes, through random mixes of every operation. A stage's
// cache holds only its own layers' keys and values.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "model/kv_cache.h"

namespace cria::model {
namespace {

ModelHparams hparams(uint32_t n_layer) {
  ModelHparams hp;
  hp.n_layer = n_layer;
  hp.n_head_kv.assign(n_layer, 2);
  hp.head_dim = 8;
  return hp;
}

// Everything a cache's bookkeeping says, for comparing two caches.
struct Snapshot {
  std::vector<std::vector<int32_t>> cells, positions, tokens;
  int n_free, n_available, n_retained;
  bool pending_shift;
  bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(const KvCache& c) {
  Snapshot s{{}, {}, {}, c.n_free(), c.n_available(), c.n_retained_prefixes(), c.pending_shift()};
  for (int seq = 0; seq < c.n_seq_max(); ++seq) {
    s.cells.emplace_back(c.seq_cells(seq).begin(), c.seq_cells(seq).end());
    s.positions.emplace_back();
    s.tokens.emplace_back();
    for (int32_t cell : c.seq_cells(seq)) {
      s.positions.back().push_back(c.cell_pos(cell));
      s.tokens.back().push_back(c.cell_token(cell));
    }
  }
  return s;
}

TEST(KvCacheJournal, OnlyTheFirstStagesCacheRecords) {
  const ModelHparams hp = hparams(6);
  auto whole = KvCache::create(hp, 16, 2);
  auto first = KvCache::create(hp, 16, 2, {}, {0, 3});
  auto later = KvCache::create(hp, 16, 2, {}, {3, 6});
  ASSERT_TRUE(whole.ok() && first.ok() && later.ok());
  EXPECT_FALSE(whole->journaling());
  EXPECT_TRUE(first->journaling());
  EXPECT_FALSE(later->journaling());
  // Each stage allocates its own layers only.
  EXPECT_EQ(first->k_bytes() * 2, whole->k_bytes());
  EXPECT_EQ(later->v_bytes() * 2, whole->v_bytes());
  EXPECT_EQ(later->k(3), later->k(3));
  EXPECT_EQ(later->k(4) - later->k(3), static_cast<std::ptrdiff_t>(16 * later->k_row_bytes()));
  EXPECT_NE(whole->uid(), first->uid());
  EXPECT_FALSE(KvCache::create(hp, 16, 2, {}, {6, 9}).ok()) << "a range past the last layer holds nothing";
}

TEST(KvCacheJournal, ReplayMirrorsEveryOperation) {
  const ModelHparams hp = hparams(4);
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    auto driver = KvCache::create(hp, 48, 4, {}, {0, 2});
    auto stage = KvCache::create(hp, 48, 4, {}, {2, 4});
    ASSERT_TRUE(driver.ok() && stage.ok());
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    for (int step = 0; step < 60; ++step) {
      // A few operations (some of which fail and change nothing), then a placement on both.
      for (int k = pick(3); k > 0; --k) {
        const int seq = pick(4), other = pick(4);
        const int32_t p0 = pick(12), p1 = pick(3) == 0 ? -1 : p0 + pick(12);
        switch (pick(8)) {
          case 0: (void)driver->seq_rm(pick(5) == 0 ? -1 : seq, p0, p1); break;
          case 1: (void)driver->seq_cp(seq, other, p0, p1); break;
          case 2: (void)driver->seq_keep(seq); break;
          case 3: if (pick(10) == 0) driver->clear(); break;
          case 4: (void)driver->seq_add(seq, p0, p1, pick(2) == 0 ? 3 : -2); break;
          case 5: (void)driver->retain(seq); break;
          case 6: {
            std::vector<int32_t> tokens(static_cast<size_t>(1 + pick(10)));
            for (auto& t : tokens) t = 100 + pick(3);
            (void)driver->reuse_prefix(seq, tokens);
            break;
          }
          default: break;
        }
      }
      ASSERT_TRUE(stage->replay(driver->take_journal()).ok());
      // Both stages' runners place the same token the same way.
      const int32_t seq[] = {pick(4)};
      if (driver->n_available() > 0 && driver->seq_pos_max(seq[0]) < 1000) {
        const int32_t pos = driver->seq_pos_max(seq[0]) + 1, token = 100 + pick(3);
        EXPECT_EQ(driver->append(seq, token, pos), stage->append(seq, token, pos));
      }
      if (driver->pending_shift()) {
        driver->shift_applied();
        stage->shift_applied();
      }
      ASSERT_EQ(snapshot(*driver), snapshot(*stage)) << "round " << round << ", step " << step;
    }
  }
}

TEST(KvCacheJournal, DamagedJournalsAreErrors) {
  auto cache = KvCache::create(hparams(2), 8, 2, {}, {1, 2});
  ASSERT_TRUE(cache.ok());
  EXPECT_FALSE(cache->replay(std::vector<int32_t>{99}).ok()) << "an unknown operation";
  EXPECT_FALSE(cache->replay(std::vector<int32_t>{1, 0}).ok()) << "seq_rm cut short";
  EXPECT_FALSE(cache->replay(std::vector<int32_t>{7, 0, 5, 1}).ok()) << "reuse_prefix with fewer tokens than it says";
  EXPECT_FALSE(cache->replay(std::vector<int32_t>{3, 9}).ok()) << "seq_keep of a sequence out of range";
  EXPECT_TRUE(cache->replay(std::vector<int32_t>{4}).ok()) << "clear";
}

}  // namespace
}  // namespace cria::model
