// The batched engine on the KJV F32 and Q8_0 files: sequences decoded together give bitwise the logits
// and tokens they give alone, however their prompts are split into batches and whatever else shares the
// batch; a forked sequence continues exactly as one that evaluated the prompt itself; a reused prefix
// gives the logits of a full evaluation; a shifted sequence stays close to one evaluated at the new
// positions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "decode_support.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/runner.h"
#include "sampling/sampler.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::model {
namespace {

const auto& kPrompts = test::kKjvPrompts;

struct Fixture {
  std::shared_ptr<const Model> model;
  std::vector<std::vector<int32_t>> prompts;  // 16: the eight prompts, then each again with a suffix
};

Fixture load(const char* name) {
  Fixture f;
  const auto path = test::kjv_gguf_dir() / name;
  if (!std::filesystem::exists(path)) return f;
  auto file = gguf::File::open(path.string());
  EXPECT_TRUE(file.ok());
  auto tok = tokenizer::Tokenizer::load(*file);
  EXPECT_TRUE(tok.ok());
  for (int round = 0; round < 2; ++round) {
    for (const char* p : kPrompts) {
      std::string text = round == 0 ? std::string(p) : std::string(p) + " and the";
      f.prompts.push_back(tok->encode(text, true, false));
    }
  }
  auto model = Model::from_file(std::move(*file));
  EXPECT_TRUE(model.ok()) << model.error().message;
  f.model = *model;
  return f;
}

// What one sequence produced: the logits after its prompt and after each generated token, and the tokens.
struct Trace {
  std::vector<std::vector<float>> logits;
  std::vector<int32_t> tokens;
};

// Odd sequences sample with their own seeded chain, even ones are greedy.
sampling::Sampler make_sampler(int seq, int64_t n_vocab) {
  sampling::SamplingParams p;
  if (seq % 2 == 0) {
    p.temp = 0;
  } else {
    p.seed = 1000 + static_cast<uint32_t>(seq);
  }
  return sampling::Sampler(p, n_vocab, 256);
}

// Decodes the sequences together: each step fills up to n_batch tokens, taking from each sequence in turn
// its next prompt tokens (chunked) or its sampled token; sequence i joins at step i * join_every.
std::vector<Trace> run_together(const Fixture& f, const std::vector<int>& seqs, int n_batch, int join_every,
                                int n_gen) {
  RunnerOptions options;
  options.n_batch = n_batch;
  options.n_threads = 2;
  options.max_keys = 256;
  options.batch_invariant = true;  // the KJV model has 2 query heads per KV head
  auto runner = Runner::create(f.model, options).value();
  auto cache = KvCache::create(f.model->hparams(), 256 * static_cast<int>(seqs.size()), static_cast<int>(seqs.size())).value();
  const size_t n = seqs.size();
  std::vector<Trace> traces(n);
  std::vector<sampling::Sampler> samplers;
  for (size_t s = 0; s < n; ++s) samplers.push_back(make_sampler(seqs[s], f.model->n_vocab()));
  std::vector<size_t> fed(n, 0);     // prompt tokens evaluated
  std::vector<int32_t> pending(n, -1);  // a sampled token not yet evaluated
  Batch batch;
  std::vector<int> owner;  // sequence of each batch token
  for (int step = 0;; ++step) {
    batch.clear();
    owner.clear();
    bool active = false;
    for (size_t s = 0; s < n; ++s) {
      const auto& prompt = f.prompts[static_cast<size_t>(seqs[s])];
      if (static_cast<int>(traces[s].tokens.size()) >= n_gen) continue;
      active = true;
      if (step < static_cast<int>(s) * join_every) continue;
      while (fed[s] < prompt.size() && batch.size() < n_batch) {
        batch.add(prompt[fed[s]], static_cast<int32_t>(fed[s]), {static_cast<int32_t>(s)}, fed[s] + 1 == prompt.size());
        owner.push_back(static_cast<int>(s));
        ++fed[s];
      }
      if (fed[s] == prompt.size() && pending[s] >= 0 && batch.size() < n_batch) {
        const int32_t pos = static_cast<int32_t>(prompt.size() + traces[s].tokens.size() - 1);
        batch.add(pending[s], pos, {static_cast<int32_t>(s)}, true);
        owner.push_back(static_cast<int>(s));
        pending[s] = -1;
      }
    }
    if (!active) break;
    if (batch.empty()) continue;
    auto status = runner->decode(batch, cache);
    EXPECT_TRUE(status.ok()) << status.error().message;
    if (!status) break;
    for (int i = 0; i < batch.size(); ++i) {
      const float* logits = runner->logits(i);
      if (logits == nullptr) continue;
      const size_t s = static_cast<size_t>(owner[static_cast<size_t>(i)]);
      traces[s].logits.emplace_back(logits, logits + f.model->n_vocab());
      const int32_t next = samplers[s].sample(logits);
      samplers[s].accept(next);
      traces[s].tokens.push_back(next);
      pending[s] = next;
    }
  }
  return traces;
}

Trace run_alone(const Fixture& f, int seq, int n_gen) {
  return run_together(f, {seq}, 512, 0, n_gen)[0];
}

void expect_same(const Trace& want, const Trace& got, const std::string& what) {
  ASSERT_EQ(want.tokens, got.tokens) << what;
  ASSERT_EQ(want.logits.size(), got.logits.size()) << what;
  for (size_t i = 0; i < want.logits.size(); ++i) {
    ASSERT_EQ(0, std::memcmp(want.logits[i].data(), got.logits[i].data(), want.logits[i].size() * sizeof(float)))
        << what << ": logits differ after " << i << " generated tokens";
  }
}

class BatchedDecode : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    CRIA_REQUIRE_FIXTURE(test::kjv_gguf_dir() / GetParam());
    fixture_ = load(GetParam());
    ASSERT_TRUE(fixture_.model);
  }
  Fixture fixture_;
};

TEST_P(BatchedDecode, TogetherEqualsAlone) {
  constexpr int kGen = 12;
  std::vector<Trace> alone;
  for (int s = 0; s < 16; ++s) alone.push_back(run_alone(fixture_, s, kGen));
  struct Layout {
    int n_seqs, n_batch, join_every;
  };
  // All at once; staggered starts with prompts chunked into small batches among other sequences'
  // generation; and with 1, 3 and 15 others.
  for (const Layout& layout : {Layout{8, 512, 0}, Layout{8, 7, 1}, Layout{2, 512, 3}, Layout{4, 16, 2},
                               Layout{16, 64, 0}}) {
    std::vector<int> seqs;
    for (int s = 0; s < layout.n_seqs; ++s) seqs.push_back(s);
    const auto together = run_together(fixture_, seqs, layout.n_batch, layout.join_every, kGen);
    for (int s = 0; s < layout.n_seqs; ++s) {
      expect_same(alone[static_cast<size_t>(s)], together[static_cast<size_t>(s)],
                  "sequence " + std::to_string(s) + " of " + std::to_string(layout.n_seqs) + ", n_batch " +
                      std::to_string(layout.n_batch));
    }
  }
}

// Decodes tokens at positions pos0.. of seq, logits for the last; returns them.
using test_decode::feed;

std::unique_ptr<Runner> make_runner(const Fixture& f) {
  RunnerOptions options;
  options.n_threads = 2;
  options.max_keys = 256;
  options.batch_invariant = true;
  return Runner::create(f.model, options).value();
}

TEST_P(BatchedDecode, ForkContinuesAsItsOwnPrompt) {
  auto runner = make_runner(fixture_);
  auto cache = KvCache::create(fixture_.model->hparams(), 512, 4).value();
  const auto& prompt = fixture_.prompts[4];
  const std::vector<int32_t> next_a = {prompt[3], prompt[5]}, next_b = {prompt[7]};
  feed(*runner, cache, prompt, 0, 0);
  ASSERT_TRUE(cache.seq_cp(0, 1, 0, -1).ok());
  ASSERT_TRUE(cache.seq_cp(0, 2, 0, -1).ok());
  EXPECT_EQ(cache.n_free(), 512 - static_cast<int>(prompt.size())) << "a fork shares cells, it does not copy them";
  const int32_t n = static_cast<int32_t>(prompt.size());
  const auto forked_a = feed(*runner, cache, next_a, n, 1);
  const auto forked_b = feed(*runner, cache, next_b, n, 2);

  for (const auto& [next, forked] : {std::pair{next_a, forked_a}, std::pair{next_b, forked_b}}) {
    auto own = KvCache::create(fixture_.model->hparams(), 512, 1).value();
    std::vector<int32_t> whole = prompt;
    whole.insert(whole.end(), next.begin(), next.end());
    const auto want = feed(*runner, own, whole, 0, 0);
    ASSERT_EQ(0, std::memcmp(want.data(), forked.data(), want.size() * sizeof(float)));
  }
}

TEST_P(BatchedDecode, ReusedPrefixGivesFullEvaluationLogits) {
  auto runner = make_runner(fixture_);
  auto cache = KvCache::create(fixture_.model->hparams(), 600, 4).value();
  const auto& base = fixture_.prompts[6];       // "For God so loved the world, that he gave"
  const auto& extended = fixture_.prompts[14];  // the same and " and the"
  feed(*runner, cache, base, 0, 0);
  ASSERT_TRUE(cache.retain(0).ok());
  EXPECT_EQ(cache.seq_length(0), 0);
  EXPECT_EQ(cache.n_retained_prefixes(), 1);

  // From a retained prefix: every token of base is reused.
  auto reused = cache.reuse_prefix(1, extended);
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(*reused, static_cast<int>(base.size()));
  const auto got = feed(*runner, cache, std::span(extended).subspan(static_cast<size_t>(*reused)), *reused, 1);
  // From a live sequence (1): all but the last token, which is evaluated again for its logits.
  auto reused_live = cache.reuse_prefix(2, extended);
  ASSERT_TRUE(reused_live.ok());
  EXPECT_EQ(*reused_live, static_cast<int>(extended.size()) - 1);
  const auto got_live =
      feed(*runner, cache, std::span(extended).subspan(static_cast<size_t>(*reused_live)), *reused_live, 2);

  auto fresh = KvCache::create(fixture_.model->hparams(), 600, 1).value();
  const auto want = feed(*runner, fresh, extended, 0, 0);
  ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)));
  ASSERT_EQ(0, std::memcmp(want.data(), got_live.data(), want.size() * sizeof(float)));
}

// Moving a whole sequence up by 7 positions re-rotates its keys; the next token's logits then match an
// evaluation that placed the same tokens at those positions in the first place.
TEST_P(BatchedDecode, ShiftedSequenceMatchesOneEvaluatedThere) {
  auto runner = make_runner(fixture_);
  auto cache = KvCache::create(fixture_.model->hparams(), 256, 2).value();
  const auto& prompt = fixture_.prompts[7];
  const int32_t n = static_cast<int32_t>(prompt.size()), delta = 7;
  const std::vector<int32_t> next = {prompt[2]};
  feed(*runner, cache, prompt, 0, 0);
  ASSERT_TRUE(cache.seq_cp(0, 1, 0, -1).ok());  // shared cells are copied before they are rotated
  ASSERT_TRUE(cache.seq_add(0, 0, -1, delta).ok());
  EXPECT_TRUE(cache.pending_shift());
  const auto shifted = feed(*runner, cache, next, n + delta, 0);
  EXPECT_FALSE(cache.pending_shift());
  EXPECT_EQ(cache.seq_pos_max(1), n - 1) << "the fork keeps the old positions";

  auto fresh = KvCache::create(fixture_.model->hparams(), 256, 1).value();
  std::vector<int32_t> whole = prompt;
  whole.push_back(next[0]);
  const auto want = feed(*runner, fresh, whole, delta, 0);
  // Close, not equal: the rotated keys are rounded to f16 once more (and Q8_0's activation rounding
  // amplifies that: 0.002 for F32, 0.07 for Q8_0).
  float max_diff = 0;
  size_t best_want = 0, best_got = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(want[i] - shifted[i]));
    if (want[i] > want[best_want]) best_want = i;
    if (shifted[i] > shifted[best_got]) best_got = i;
  }
  EXPECT_LT(max_diff, 0.1f);
  EXPECT_EQ(best_want, best_got);
  // And without the shift the keys would be at the wrong positions: the logits move much more.
  auto unshifted = KvCache::create(fixture_.model->hparams(), 256, 1).value();
  feed(*runner, unshifted, prompt, 0, 0);
  const auto wrong = feed(*runner, unshifted, next, n + delta, 0);
  float wrong_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) wrong_diff = std::max(wrong_diff, std::fabs(want[i] - wrong[i]));
  EXPECT_GT(wrong_diff, 10 * max_diff);
  std::printf("  shift by %d: largest logit difference %.5f (without re-rotation %.3f)\n", delta, max_diff, wrong_diff);
}

INSTANTIATE_TEST_SUITE_P(Kjv, BatchedDecode, testing::Values("kjv-F32.gguf", "kjv-Q8_0.gguf"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name.substr(4, name.find('.') - 4);
                         });

}  // namespace
}  // namespace cria::model
