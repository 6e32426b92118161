// KV caches of other types than f16 (-ctk/-ctv): their sizes, the types and shapes they refuse, and on
// the KJV Q8_0 model the perplexity each type gives against f16 (q8_0 within 0.5%, as issue 18 asks; the
// 4- and 5-bit types within 5%), a shifted sequence over quantized keys (decoded, rotated, quantized
// again), and sequences decoded together giving bitwise what they give alone.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/perplexity.h"
#include "decode_support.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/runner.h"
#include "model/session.h"
#include "ops/attention.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::model {
namespace {

ModelHparams hparams(uint32_t head_dim, uint32_t n_head_kv) {
  ModelHparams hp;
  hp.n_layer = 3;
  hp.n_head_kv = {n_head_kv, n_head_kv, n_head_kv};
  hp.head_dim = head_dim;
  return hp;
}

TEST(KvCacheTypes, SizesFollowTheTypes) {
  const ModelHparams hp = hparams(64, 2);  // rows of 128 values
  const size_t cells = 3 * 100;            // layers x cells
  struct Want {
    TensorType type;
    size_t row_bytes;
  };
  for (Want w : {Want{TensorType::F32, 512}, Want{TensorType::F16, 256}, Want{TensorType::BF16, 256},
                 Want{TensorType::Q8_0, 4 * 34}, Want{TensorType::Q4_0, 4 * 18}, Want{TensorType::Q4_1, 4 * 20},
                 Want{TensorType::IQ4_NL, 4 * 18}, Want{TensorType::Q5_0, 4 * 22}, Want{TensorType::Q5_1, 4 * 24}}) {
    SCOPED_TRACE(kv_cache_type_name(w.type));
    auto cache = KvCache::create(hp, 100, 2, {w.type, TensorType::F16});
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    EXPECT_EQ(cache->k_row_bytes(), w.row_bytes);
    EXPECT_EQ(cache->k_bytes(), cells * w.row_bytes);
    EXPECT_EQ(cache->v_bytes(), cells * 256);
    EXPECT_EQ(cache->types().k, w.type);
  }
}

TEST(KvCacheTypes, NamesAndRefusals) {
  EXPECT_EQ(parse_kv_cache_type("q8_0").value(), TensorType::Q8_0);
  EXPECT_EQ(parse_kv_cache_type("IQ4_NL").value(), TensorType::IQ4_NL);
  EXPECT_EQ(kv_cache_type_name(TensorType::Q5_1), "q5_1");
  for (const char* bad : {"q4_k", "q9_0", "", "f64"}) {
    auto t = parse_kv_cache_type(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.error().message.find("f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1"), std::string::npos)
        << t.error().message;
  }
  // Types outside the set, and blocks of 32 over heads of 40.
  auto k_quant = KvCache::create(hparams(64, 1), 8, 1, {TensorType::Q4_K, TensorType::F16});
  ASSERT_FALSE(k_quant.ok());
  EXPECT_NE(k_quant.error().message.find("K cache type q4_k"), std::string::npos) << k_quant.error().message;
  auto odd = KvCache::create(hparams(40, 1), 8, 1, {TensorType::F16, TensorType::Q8_0});
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message.find("V cache type q8_0"), std::string::npos) << odd.error().message;
  EXPECT_NE(odd.error().message.find("40"), std::string::npos) << odd.error().message;
  EXPECT_TRUE(KvCache::create(hparams(40, 1), 8, 1, {TensorType::BF16, TensorType::F32}).ok());
}

class KjvKvTypes : public testing::Test {
 protected:
  void SetUp() override {
    const auto path = test::kjv_gguf_dir() / "kjv-Q8_0.gguf";
    const auto text = test::shared_dir() / "fixtures/models/kjv/reference/heldout-visible.txt";
    if (!std::filesystem::exists(path) || !std::filesystem::exists(text)) GTEST_SKIP() << "KJV fixtures not found";
    auto file = gguf::File::open(path.string());
    ASSERT_TRUE(file.ok());
    auto tok = tokenizer::Tokenizer::load(*file);
    ASSERT_TRUE(tok.ok());
    tokens_ = tok->encode(test::read_file(text), true, false);
    bos_ = tok->bos();
    auto model = Model::from_file(std::move(*file));
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = *model;
  }

  double perplexity(KvCacheTypes types, bool flash_attn) {
    auto session = Session::create(model_, {256, 256, 2, flash_attn}, types);
    EXPECT_TRUE(session.ok()) << session.error().message;
    auto r = engine::perplexity(**session, tokens_, bos_, {}, {}, 4);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r->ppl;
  }

  std::shared_ptr<const Model> model_;
  std::vector<int32_t> tokens_;
  int32_t bos_ = 1;
};

TEST_F(KjvKvTypes, PerplexityStaysCloseToF16) {
  for (bool fa : {true, false}) {
    const double f16 = perplexity({}, fa);
    for (TensorType type : ops::kv_cache_types()) {
      const double ppl = perplexity({type, type}, fa);
      const double rel = ppl / f16 - 1;
      std::printf("  -ctk/-ctv %-6s %s: PPL %.4f (%+.3f%% of f16's %.4f)\n", kv_cache_type_name(type).c_str(),
                  fa ? "-fa" : "   ", ppl, 100 * rel, f16);
      const bool eight_bits_or_more = type == TensorType::Q8_0 || traits(type).block_size == 1;
      EXPECT_LT(std::fabs(rel), eight_bits_or_more ? 0.005 : 0.05) << kv_cache_type_name(type);
    }
  }
  // Keys and values of different types.
  const double mixed = perplexity({TensorType::Q8_0, TensorType::Q4_0}, true);
  EXPECT_LT(std::fabs(mixed / perplexity({}, true) - 1), 0.05);
}

using test_decode::feed;

std::unique_ptr<Runner> make_runner(std::shared_ptr<const Model> model) {
  RunnerOptions options;
  options.n_threads = 2;
  options.max_keys = 256;
  options.batch_invariant = true;
  return Runner::create(std::move(model), options).value();
}

size_t argmax(const std::vector<float>& v) { return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

// Shifting a sequence over a quantized K cache re-rotates its keys through f32 and quantizes them again;
// the next token's logits stay close to an evaluation at the new positions in the first place.
TEST_F(KjvKvTypes, ShiftOverQuantizedKeys) {
  const std::vector<int32_t> prompt(tokens_.begin(), tokens_.begin() + 40);
  const std::vector<int32_t> next = {tokens_[40]};
  const int32_t n = static_cast<int32_t>(prompt.size()), delta = 9;
  auto runner = make_runner(model_);
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0}) {
    SCOPED_TRACE(kv_cache_type_name(type));
    const KvCacheTypes types{type, type};
    auto cache = KvCache::create(model_->hparams(), 256, 1, types).value();
    feed(*runner, cache, prompt, 0, 0);
    ASSERT_TRUE(cache.seq_add(0, 0, -1, delta).ok());
    const auto shifted = feed(*runner, cache, next, n + delta, 0);

    auto fresh = KvCache::create(model_->hparams(), 256, 1, types).value();
    std::vector<int32_t> whole = prompt;
    whole.push_back(next[0]);
    const auto want = feed(*runner, fresh, whole, delta, 0);
    auto unshifted = KvCache::create(model_->hparams(), 256, 1, types).value();
    feed(*runner, unshifted, prompt, 0, 0);
    const auto wrong = feed(*runner, unshifted, next, n + delta, 0);
    float diff = 0, wrong_diff = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      diff = std::max(diff, std::fabs(want[i] - shifted[i]));
      wrong_diff = std::max(wrong_diff, std::fabs(want[i] - wrong[i]));
    }
    std::printf("  %s: shift by %d: largest logit difference %.4f (without re-rotation %.3f)\n",
                kv_cache_type_name(type).c_str(), delta, diff, wrong_diff);
    EXPECT_EQ(argmax(shifted), argmax(want));
    EXPECT_GT(wrong_diff, 3 * diff);
  }
}

// Two sequences in one batch over a q4_0/q8_0 cache give bitwise the logits each gives alone.
TEST_F(KjvKvTypes, SequencesTogetherMatchAlone) {
  const KvCacheTypes types{TensorType::Q4_0, TensorType::Q8_0};
  const std::vector<int32_t> a(tokens_.begin(), tokens_.begin() + 30), b(tokens_.begin() + 100, tokens_.begin() + 117);
  auto runner = make_runner(model_);
  auto alone_cache = KvCache::create(model_->hparams(), 256, 1, types).value();
  const auto a_alone = feed(*runner, alone_cache, a, 0, 0);
  auto cache = KvCache::create(model_->hparams(), 256, 2, types).value();
  Batch batch;
  batch.add_sequence(b, 0, 1);
  batch.add_sequence(a, 0, 0);
  ASSERT_TRUE(runner->decode(batch, cache).ok());
  const float* together = runner->logits(batch.size() - 1);
  ASSERT_EQ(std::memcmp(together, a_alone.data(), a_alone.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace cria::model
