// The KV cache's bookkeeping on its own: cells shared by forks and counted, sequence operations, prefix
// retention and LRU eviction, shifting with copy-on-write, sizes, and the errors for bad requests.
#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace cria::model {
namespace {

ModelHparams hparams(std::vector<uint32_t> n_head_kv) {
  ModelHparams hp;
  hp.n_layer = static_cast<uint32_t>(n_head_kv.size());
  hp.n_head_kv = std::move(n_head_kv);
  hp.head_dim = 8;
  return hp;
}

std::vector<int32_t> positions(const KvCache& cache, int seq) {
  std::vector<int32_t> out;
  for (int32_t cell : cache.seq_cells(seq)) out.push_back(cache.cell_pos(cell));
  return out;
}

void fill(KvCache& cache, int seq, int32_t pos0, int n, int32_t token0 = 100) {
  for (int i = 0; i < n; ++i) {
    const int32_t s[] = {seq};
    cache.append(s, token0 + i, pos0 + i);
  }
}

TEST(KvCache, SizeIsLayersTimesCellsTimesLargestRow) {
  // 16 sequences x 512 tokens; the largest layer has 4 KV heads of 8.
  auto cache = KvCache::create(hparams({2, 4, 1}), 16 * 512, 16);
  ASSERT_TRUE(cache.ok());
  const size_t kv = size_t{3} * 16 * 512 * 2 * (4 * 8) * 2;
  EXPECT_GE(cache->bytes(), kv);
  EXPECT_LE(cache->bytes(), kv + size_t{16} * 512 * 20);  // 20 bytes of bookkeeping per cell
  EXPECT_EQ(cache->row_elements(), 32);
}

TEST(KvCache, RefusesBadSizesAndIds) {
  EXPECT_FALSE(KvCache::create(hparams({1}), 0, 1).ok());
  EXPECT_FALSE(KvCache::create(hparams({1}), 8, 0).ok());
  auto cache = KvCache::create(hparams({1}), 8, 2).value();
  auto s = cache.seq_rm(2, 0, -1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("sequence id 2 is out of range (0..1)"), std::string::npos) << s.error().message;
  EXPECT_FALSE(cache.seq_cp(0, -1, 0, -1).ok());
  EXPECT_FALSE(cache.reuse_prefix(5, std::vector<int32_t>{1, 2}).ok());
}

TEST(KvCache, ForksShareCellsUntilTheLastOneLetsGo) {
  auto cache = KvCache::create(hparams({1}), 10, 3).value();
  fill(cache, 0, 0, 4);
  EXPECT_EQ(cache.n_free(), 6);
  ASSERT_TRUE(cache.seq_cp(0, 1, 0, -1).ok());
  ASSERT_TRUE(cache.seq_cp(0, 2, 1, 3).ok());
  EXPECT_EQ(cache.n_free(), 6);
  EXPECT_EQ(positions(cache, 1), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(positions(cache, 2), (std::vector<int32_t>{1, 2}));
  ASSERT_TRUE(cache.seq_rm(0, 0, -1).ok());
  EXPECT_EQ(cache.n_free(), 6);
  ASSERT_TRUE(cache.seq_keep(2).ok());  // sequence 1 goes: cells 0 and 3 are free again
  EXPECT_EQ(cache.n_free(), 8);
  EXPECT_EQ(cache.seq_length(1), 0);
  EXPECT_EQ(positions(cache, 2), (std::vector<int32_t>{1, 2}));
  ASSERT_TRUE(cache.seq_rm(2, 2, 3).ok());
  EXPECT_EQ(positions(cache, 2), (std::vector<int32_t>{1}));
  EXPECT_EQ(cache.seq_pos_max(2), 1);
  cache.clear();
  EXPECT_EQ(cache.n_free(), 10);
  EXPECT_EQ(cache.seq_pos_max(2), -1);
}

TEST(KvCache, SeqCpMergesInPositionOrder) {
  auto cache = KvCache::create(hparams({1}), 10, 2).value();
  fill(cache, 0, 0, 6);
  fill(cache, 1, 0, 2, 500);
  fill(cache, 1, 5, 2, 600);  // sequence 1: positions 0, 1, 5, 6
  ASSERT_TRUE(cache.seq_cp(0, 1, 2, 5).ok());
  EXPECT_EQ(positions(cache, 1), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(KvCache, RetainedPrefixesAreReusedAndEvictedLeastRecentlyUsedFirst) {
  auto cache = KvCache::create(hparams({1}), 8, 2).value();
  fill(cache, 0, 0, 3, 10);  // tokens 10 11 12
  ASSERT_TRUE(cache.retain(0).ok());
  fill(cache, 0, 0, 3, 20);  // tokens 20 21 22
  ASSERT_TRUE(cache.retain(0).ok());
  EXPECT_EQ(cache.n_retained_prefixes(), 2);
  EXPECT_EQ(cache.n_free(), 2);
  EXPECT_EQ(cache.n_available(), 8);

  // Reusing 10 11 makes that prefix the most recently used.
  auto n = cache.reuse_prefix(1, std::vector<int32_t>{10, 11, 99});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  ASSERT_TRUE(cache.seq_rm(1, 0, -1).ok());
  // Four more cells: the free two, then the least recently used prefix (20 21 22) is evicted.
  fill(cache, 1, 0, 4, 30);
  EXPECT_EQ(cache.n_retained_prefixes(), 1);
  EXPECT_EQ(*cache.reuse_prefix(0, std::vector<int32_t>{20, 21, 22, 23}), 0);
  EXPECT_EQ(*cache.reuse_prefix(0, std::vector<int32_t>{10, 11, 12, 13}), 3);
  EXPECT_FALSE(cache.reuse_prefix(0, std::vector<int32_t>{10}).ok()) << "sequence 0 is not empty any more";
}

TEST(KvCache, RetainingAnExtendedPrefixDropsTheOldOne) {
  auto cache = KvCache::create(hparams({1}), 8, 1).value();
  fill(cache, 0, 0, 2, 10);
  ASSERT_TRUE(cache.retain(0).ok());
  ASSERT_EQ(*cache.reuse_prefix(0, std::vector<int32_t>{10, 11, 12}), 2);
  fill(cache, 0, 2, 1, 12);
  ASSERT_TRUE(cache.retain(0).ok());
  EXPECT_EQ(cache.n_retained_prefixes(), 1);
  EXPECT_EQ(cache.n_free(), 5);
}

TEST(KvCache, ShiftCopiesSharedCellsAndKeepsOrder) {
  auto cache = KvCache::create(hparams({1, 1}), 8, 2).value();
  fill(cache, 0, 0, 5);
  ASSERT_TRUE(cache.seq_cp(0, 1, 0, -1).ok());
  cache.k(1)[static_cast<size_t>(cache.seq_cells(0)[3]) * cache.k_row_bytes()] = 0x3c;  // a key byte to follow into the copy
  ASSERT_TRUE(cache.seq_rm(0, 1, 3).ok());
  auto bad = cache.seq_add(0, 3, -1, -3);  // 0, then 0, 1: out of order
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("out of order"), std::string::npos);
  EXPECT_FALSE(cache.pending_shift());
  ASSERT_TRUE(cache.seq_add(0, 3, -1, -2).ok());
  EXPECT_EQ(positions(cache, 0), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(positions(cache, 1), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(cache.pending_shift());
  const int32_t moved = cache.seq_cells(0)[1];
  EXPECT_NE(moved, cache.seq_cells(1)[3]) << "a shared cell is copied before it is shifted";
  EXPECT_EQ(cache.shift(moved), -2);
  EXPECT_EQ(cache.k(1)[static_cast<size_t>(moved) * cache.k_row_bytes()], 0x3c);
  EXPECT_EQ(cache.shift(cache.seq_cells(1)[3]), 0);
  EXPECT_EQ(cache.n_free(), 1);
  // No cell left for copies: refused, nothing changed.
  ASSERT_TRUE(cache.seq_cp(1, 0, 3, -1).ok());  // sequence 0 now shares 3 and 4 with 1 again
  EXPECT_EQ(positions(cache, 0), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  auto full = cache.seq_add(0, 3, -1, 10);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("KV cache is full"), std::string::npos) << full.error().message;
  cache.shift_applied();
  EXPECT_FALSE(cache.pending_shift());
}

}  // namespace
}  // namespace cria::model
