// Runner::decode refuses bad batches with a message naming the problem, and changes nothing: the bundled
// model, a small cache, and every kind of bad request.
#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/runner.h"
#include "model/session.h"

namespace cria::model {
namespace {

class RunnerErrors : public testing::Test {
 protected:
  void SetUp() override {
    auto model = Model::load(std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf");
    ASSERT_TRUE(model.ok()) << model.error().message;
    RunnerOptions options;
    options.n_batch = 8;
    options.n_threads = 1;
    options.max_keys = 10;
    runner_ = Runner::create(*model, options).value();
    cache_ = std::make_unique<KvCache>(KvCache::create((*model)->hparams(), 12, 2).value());
    Batch ok;
    ok.add_sequence(std::vector<int32_t>{1, 100, 200}, 0, 0);
    ASSERT_TRUE(runner_->decode(ok, *cache_).ok());
  }

  // Decodes the batch, expects an error containing `want` of that kind, and checks that the cache did not change.
  void expect_refused(const Batch& batch, const std::string& want, ErrorKind kind = ErrorKind::kInvalid) {
    const int free = cache_->n_free(), len0 = cache_->seq_length(0), len1 = cache_->seq_length(1);
    auto s = runner_->decode(batch, *cache_);
    ASSERT_FALSE(s.ok()) << want;
    EXPECT_NE(s.error().message.find(want), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().kind, kind) << s.error().message;
    EXPECT_EQ(cache_->n_free(), free);
    EXPECT_EQ(cache_->seq_length(0), len0);
    EXPECT_EQ(cache_->seq_length(1), len1);
  }

  std::unique_ptr<Runner> runner_;
  std::unique_ptr<KvCache> cache_;
};

TEST_F(RunnerErrors, EachBadBatchIsRefusedWithItsReason) {
  Batch b;
  expect_refused(b, "the batch has no tokens");
  b.add(5000, 3, {0}, true);
  expect_refused(b, "batch token 0: token id 5000 is outside the vocabulary (4096)");
  b.clear();
  b.add(7, 3, {0, 0}, true);
  expect_refused(b, "lists sequence 0 twice");
  b.clear();
  b.add(7, 0, {2}, true);
  expect_refused(b, "sequence id 2 is out of range (0..1)");
  b.clear();
  b.add(7, 2, {0}, true);
  expect_refused(b, "position 2 of sequence 0 is not after its previous position 2");
  b.clear();
  b.add(7, 3, {0}, false);
  b.add(8, 3, {0}, true);
  expect_refused(b, "batch token 1: position 3 of sequence 0 is not after its previous position 3");
  b.clear();
  b.add(7, 0, std::span<const int32_t>(), true);
  expect_refused(b, "belongs to no sequence");
  b.clear();
  for (int i = 0; i < 9; ++i) b.add(7, 3 + i, {0}, false);
  expect_refused(b, "9 tokens exceed the batch size 8");
  b.clear();
  for (int i = 0; i < 8; ++i) b.add(7, 3 + i, {0}, false);
  expect_refused(b, "the context is full: sequence 0 would hold more than 10 tokens", ErrorKind::kFull);
  // 3 cells used; 8 for sequence 1 and 2 more for sequence 0 need 10 of the 9 left.
  b.clear();
  for (int i = 0; i < 8; ++i) b.add(7, i, {1}, false);
  ASSERT_TRUE(runner_->decode(b, *cache_).ok());
  b.clear();
  b.add(7, 3, {0}, false);
  b.add(7, 4, {0}, true);
  expect_refused(b, "the KV cache is full: the batch needs 2 cells and 1 of 12 are free", ErrorKind::kFull);
}

TEST_F(RunnerErrors, LogitsOnlyForTokensThatAskedForThem) {
  Batch b;
  b.add(7, 3, {0}, false);
  b.add(8, 0, {1}, true);
  ASSERT_TRUE(runner_->decode(b, *cache_).ok());
  EXPECT_EQ(runner_->logits(0), nullptr);
  EXPECT_NE(runner_->logits(1), nullptr);
  EXPECT_EQ(runner_->logits(2), nullptr);
  EXPECT_EQ(runner_->logits(-1), nullptr);
}

// Sizes from the user are checked before anything is allocated: a context of a billion tokens (terabytes of
// cache on any machine) and a batch of a hundred million tokens are refused naming what they would need, and
// a thread count far past the cap starts no threads.
TEST(RunnerLimits, HugeRequestsAreRefusedBeforeAllocating) {
  auto model = Model::load(std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf").value();
  auto cache = KvCache::create(model->hparams(), 1 << 30, 1);
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.error().message.find("a KV cache of 1073741824 tokens needs"), std::string::npos)
      << cache.error().message;
  EXPECT_NE(cache.error().message.find("of memory available (lower the context size, -c)"), std::string::npos)
      << cache.error().message;
  auto session = Session::create(model, {1 << 30, 512, 1});
  ASSERT_FALSE(session.ok());
  EXPECT_NE(session.error().message.find("KV cache"), std::string::npos) << session.error().message;

  RunnerOptions options;
  options.n_threads = 1;
  options.n_batch = 100'000'000;
  auto runner = Runner::create(model, options);
  ASSERT_FALSE(runner.ok());
  EXPECT_NE(runner.error().message.find("work buffers for a batch of 100000000 tokens"), std::string::npos)
      << runner.error().message;
  options.n_batch = 8;
  options.n_threads = 100'000;
  runner = Runner::create(model, options);
  ASSERT_FALSE(runner.ok());
  EXPECT_EQ(runner.error().message, "thread count 100000 is above the limit of 512");
}

// A model bound to some layers runs only as a pipeline stage, with a cache that holds those layers.
struct IdleLink final : PipelineLink {
  int stage() const override { return 0; }
  int n_stages() const override { return 2; }
  void announce(const PassHeader&, std::span<const int32_t>, const Batch&) override { ++announced; }
  void receive_hidden(int, std::span<float>) override {}
  void send_hidden(int, std::span<const float>) override {}
  void send_logits(int, std::span<const float>) override {}
  void receive_logits(int, std::span<float>) override {}
  void progress() override {}
  void finish() override {}
  int announced = 0;
};

TEST(RunnerLimits, AStageRunsOnlyInAPipelineWithItsLayersCache) {
  const std::string path = std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf";
  RunnerOptions options;
  options.n_threads = 1;
  options.n_batch = 8;
  auto alone = Model::load(path, ops::selected_isa(), {{2, 4}, nullptr});
  ASSERT_TRUE(alone.ok()) << alone.error().message;
  auto refused_runner = Runner::create(*alone, options);
  ASSERT_FALSE(refused_runner.ok());
  EXPECT_EQ(refused_runner.error().message, "a model bound to layers 2..3 of 6 runs only as a pipeline stage");

  auto link = std::make_shared<IdleLink>();
  auto first = Model::load(path, ops::selected_isa(), {{0, 3}, link}).value();
  auto runner = Runner::create(first, options).value();
  Batch batch;
  batch.add(1, 0, {0}, true);
  auto later_layers = KvCache::create(first->hparams(), 16, 1, {}, {3, 6}).value();
  auto refused = runner->decode(batch, later_layers);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("the KV cache holds layers 3..5, not all of this model's 0..2"), std::string::npos)
      << refused.error().message;
  auto all_layers = KvCache::create(first->hparams(), 16, 1).value();  // holds them, but keeps no journal
  refused = runner->decode(batch, all_layers);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("needs a cache of its own layers"), std::string::npos) << refused.error().message;
  EXPECT_EQ(link->announced, 0) << "nothing reaches the other stages when a batch is refused";
}

}  // namespace
}  // namespace cria::model
