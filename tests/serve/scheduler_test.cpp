// The continuous-batching scheduler on the bundled KJV model: jobs decoded together give exactly the
// tokens each gives alone (greedy and seeded, batch-invariant runner), also when a small cache forces
// preemption; the n choices of a job are the jobs of seeds seed + i; stop strings, lengths, prefix reuse,
// cancellation and the refusals.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gguf/gguf_reader.h"
#include "model/model.h"
#include "serve/scheduler.h"
#include "serve/text_stream.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::serve {
namespace {

struct Loaded {
  std::shared_ptr<const model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
};

const Loaded& bundled() {
  static const Loaded loaded = [] {
    Loaded l;
    auto file = gguf::File::open(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf");
    EXPECT_TRUE(file.ok());
    auto tok = tokenizer::Tokenizer::load(*file);
    EXPECT_TRUE(tok.ok());
    l.tok = std::make_shared<tokenizer::Tokenizer>(std::move(*tok));
    auto model = model::Model::from_file(std::move(*file));
    EXPECT_TRUE(model.ok());
    l.model = *model;
    return l;
  }();
  return loaded;
}

const auto& kPrompts = test::kKjvPrompts;

// What a job produced, collected from its callbacks; wait() blocks until on_done.
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::vector<std::string> text;
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::string> finish;
  JobUsage usage;
  std::optional<std::string> error;

  explicit Outcome(int n) : text(static_cast<size_t>(n)), tokens(static_cast<size_t>(n)), finish(static_cast<size_t>(n)) {}
  JobCallbacks callbacks() {
    JobCallbacks cb;
    cb.on_text = [this](int i, const std::string& t, const std::vector<TokenInfo>& toks) {
      std::lock_guard lock(mu);
      text[static_cast<size_t>(i)] += t;
      for (const auto& k : toks) tokens[static_cast<size_t>(i)].push_back(k.id);
    };
    cb.on_finish = [this](int i, FinishReason r) {
      std::lock_guard lock(mu);
      finish[static_cast<size_t>(i)] = finish_reason_name(r);
    };
    cb.on_done = [this](const JobUsage& u, const std::optional<std::string>& e) {
      std::lock_guard lock(mu);
      usage = u;
      error = e;
      done = true;
      cv.notify_all();
    };
    return cb;
  }
  bool wait() {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(120), [&] { return done; });
  }
};

SchedulerOptions options(int n_parallel, int n_ctx) {
  SchedulerOptions o;
  o.n_parallel = n_parallel;
  o.n_ctx = n_ctx;
  o.runner.n_threads = 2;
  o.runner.n_batch = 256;
  o.runner.batch_invariant = true;
  return o;
}

Job make_job(const std::string& prompt, int max_tokens, float temp, uint32_t seed, int n = 1) {
  Job j;
  j.prompt = bundled().tok->encode(prompt, true, false);
  j.max_tokens = max_tokens;
  j.sampling.temp = temp;
  j.sampling.seed = seed;
  j.n = n;
  return j;
}

std::unique_ptr<Scheduler> make_scheduler(const SchedulerOptions& o) {
  auto s = Scheduler::create(bundled().model, bundled().tok, o);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(*s);
}

// The running count is published at the end of a step, just after the last job's on_done.
int running_after_settling(const Scheduler& s) {
  for (int i = 0; i < 1000 && s.metrics().requests_running != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s.metrics().requests_running;
}

// Each prompt run alone (one sequence at a time), then all together.
void expect_together_equals_alone(float temp, int n_ctx_together) {
  const int kTokens = 24;
  std::vector<std::vector<int32_t>> alone;
  {
    auto s = make_scheduler(options(1, 1024));
    for (size_t i = 0; i < std::size(kPrompts); ++i) {
      Outcome out(1);
      Job j = make_job(kPrompts[i], kTokens, temp, 1000 + static_cast<uint32_t>(i));
      j.callbacks = out.callbacks();
      ASSERT_TRUE(s->submit(std::move(j)).ok());
      ASSERT_TRUE(out.wait());
      alone.push_back(out.tokens[0]);
      EXPECT_FALSE(alone.back().empty());
    }
  }
  auto s = make_scheduler(options(8, n_ctx_together));
  std::vector<std::unique_ptr<Outcome>> outs;
  for (int round = 0; round < 2; ++round) {  // 16 jobs for 8 slots: half of them wait
    for (size_t i = 0; i < std::size(kPrompts); ++i) {
      outs.push_back(std::make_unique<Outcome>(1));
      Job j = make_job(kPrompts[i], kTokens, temp, 1000 + static_cast<uint32_t>(i));
      j.callbacks = outs.back()->callbacks();
      ASSERT_TRUE(s->submit(std::move(j)).ok());
    }
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    ASSERT_TRUE(outs[k]->wait());
    EXPECT_EQ(outs[k]->tokens[0], alone[k % std::size(kPrompts)])
        << "job " << k << " finished " << outs[k]->finish[0] << " " << outs[k]->error.value_or("");
  }
  EXPECT_EQ(running_after_settling(*s), 0);
  const MetricsSnapshot m = s->metrics();
  if (n_ctx_together < 400) {
    EXPECT_GT(m.preemptions, 0u) << "the small cache was meant to force preemption";
  }
}

TEST(ServeScheduler, GreedyJobsTogetherGiveTheirTokensAlone) { expect_together_equals_alone(0.0f, 2048); }

TEST(ServeScheduler, SeededJobsTogetherGiveTheirTokensAlone) { expect_together_equals_alone(0.9f, 2048); }

TEST(ServeScheduler, PreemptionInASmallCacheChangesNoToken) { expect_together_equals_alone(0.9f, 200); }

TEST(ServeScheduler, ChoicesAreTheJobsOfSuccessiveSeeds) {
  auto s = make_scheduler(options(4, 1024));
  Outcome together(3);
  Job j = make_job(kPrompts[0], 16, 0.9f, 42, 3);
  j.callbacks = together.callbacks();
  ASSERT_TRUE(s->submit(std::move(j)).ok());
  ASSERT_TRUE(together.wait());
  EXPECT_EQ(together.usage.prompt_tokens, static_cast<int>(bundled().tok->encode(kPrompts[0], true, false).size()));
  for (int i = 0; i < 3; ++i) {
    Outcome alone(1);
    Job a = make_job(kPrompts[0], 16, 0.9f, 42 + static_cast<uint32_t>(i));
    a.callbacks = alone.callbacks();
    ASSERT_TRUE(s->submit(std::move(a)).ok());
    ASSERT_TRUE(alone.wait());
    EXPECT_EQ(together.tokens[static_cast<size_t>(i)], alone.tokens[0]) << "choice " << i;
  }
  EXPECT_NE(together.tokens[0], together.tokens[1]);
}

TEST(ServeScheduler, StopStringEndsTheChoiceAndIsNotSent) {
  auto s = make_scheduler(options(2, 1024));
  Outcome free_run(1);
  Job j = make_job(kPrompts[0], 32, 0.0f, 1);
  j.callbacks = free_run.callbacks();
  ASSERT_TRUE(s->submit(std::move(j)).ok());
  ASSERT_TRUE(free_run.wait());
  const std::string& full = free_run.text[0];
  ASSERT_GT(full.size(), 12u);
  // A stop string from the middle of the text, spanning whatever token boundary lies there.
  const std::string stop = full.substr(full.size() / 2, 5);
  Outcome stopped(1);
  Job k = make_job(kPrompts[0], 32, 0.0f, 1);
  k.stop = {"never appears in it", stop};
  k.callbacks = stopped.callbacks();
  ASSERT_TRUE(s->submit(std::move(k)).ok());
  ASSERT_TRUE(stopped.wait());
  EXPECT_EQ(stopped.text[0], full.substr(0, full.find(stop)));
  EXPECT_EQ(stopped.finish[0], "stop");
  EXPECT_EQ(free_run.finish[0], "length");
  EXPECT_EQ(free_run.usage.completion_tokens, 32);
}

TEST(ServeScheduler, NextTurnReusesThePrefixAndGivesTheSameTokens) {
  const std::string first = kPrompts[4];
  const std::string longer = first + " and said";
  std::vector<int32_t> fresh;
  {
    auto s = make_scheduler(options(2, 1024));
    Outcome out(1);
    Job j = make_job(longer, 12, 0.0f, 1);
    j.callbacks = out.callbacks();
    ASSERT_TRUE(s->submit(std::move(j)).ok());
    ASSERT_TRUE(out.wait());
    EXPECT_EQ(out.usage.cached_tokens, 0);
    fresh = out.tokens[0];
  }
  auto s = make_scheduler(options(2, 1024));
  Outcome a(1), b(1);
  Job j = make_job(first, 4, 0.0f, 1);
  j.callbacks = a.callbacks();
  ASSERT_TRUE(s->submit(std::move(j)).ok());
  ASSERT_TRUE(a.wait());
  Job k = make_job(longer, 12, 0.0f, 1);
  k.callbacks = b.callbacks();
  ASSERT_TRUE(s->submit(std::move(k)).ok());
  ASSERT_TRUE(b.wait());
  const auto first_tokens = bundled().tok->encode(first, true, false);
  EXPECT_GE(b.usage.cached_tokens, static_cast<int>(first_tokens.size()) - 1);
  EXPECT_EQ(b.tokens[0], fresh);
  const MetricsSnapshot m = s->metrics();
  EXPECT_GT(m.prefix_cache_hits, 0u);
}

TEST(ServeScheduler, CancelledJobEndsWithinAStepAndFreesItsCells) {
  auto s = make_scheduler(options(2, 1024));
  Outcome out(1);
  // The third token's callback holds the scheduler until the test has cancelled, so the job cannot
  // finish on its own first.
  std::atomic<int> seen{0};
  std::atomic<bool> cancelled{false};
  Job j = make_job(kPrompts[1], -1, 0.9f, 7);
  j.ignore_eos = true;
  auto cb = out.callbacks();
  auto on_text = cb.on_text;
  cb.on_text = [&, on_text](int i, const std::string& t, const std::vector<TokenInfo>& toks) {
    on_text(i, t, toks);
    if (++seen == 3) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!cancelled.load() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  };
  j.callbacks = cb;
  auto handle = s->submit(std::move(j));
  ASSERT_TRUE(handle.ok());
  while (seen.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*handle)->cancel();
  cancelled = true;
  ASSERT_TRUE(out.wait());
  EXPECT_EQ(out.finish[0], "cancelled");
  EXPECT_EQ(out.usage.completion_tokens, 3) << "the job should end within one step of the cancel";
  // A job after it runs as usual.
  Outcome next(1);
  Job k = make_job(kPrompts[2], 4, 0.0f, 1);
  k.callbacks = next.callbacks();
  ASSERT_TRUE(s->submit(std::move(k)).ok());
  ASSERT_TRUE(next.wait());
  EXPECT_EQ(next.tokens[0].size(), 4u);
  EXPECT_EQ(running_after_settling(*s), 0);
}

TEST(ServeScheduler, RefusesWhatCanNeverRunAndAFullQueue) {
  SchedulerOptions o = options(2, 64);
  o.max_queue = 1;
  auto s = make_scheduler(o);
  Job empty;
  EXPECT_FALSE(s->submit(std::move(empty)).ok());
  std::string long_prompt;
  for (int i = 0; i < 20; ++i) long_prompt += "In the beginning God created the heaven and the earth. ";
  Job too_long = make_job(long_prompt, 4, 0.0f, 1);
  auto r = s->submit(std::move(too_long));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("64"), std::string::npos) << r.error().message;
  Job too_many = make_job(kPrompts[0], 4, 0.0f, 1, 3);
  EXPECT_FALSE(s->submit(std::move(too_many)).ok());
  Job bad_token = make_job(kPrompts[0], 4, 0.0f, 1);
  bad_token.prompt.push_back(1 << 30);
  EXPECT_FALSE(s->submit(std::move(bad_token)).ok());
  // The queue holds one waiting job; while both slots run long jobs, a second waiting one is refused.
  std::vector<std::unique_ptr<Outcome>> outs;
  std::vector<std::shared_ptr<JobHandle>> handles;
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    outs.push_back(std::make_unique<Outcome>(1));
    Job j = make_job(kPrompts[3], -1, 0.9f, static_cast<uint32_t>(i));
    j.ignore_eos = true;
    j.callbacks = outs.back()->callbacks();
    auto h = s->submit(std::move(j));
    if (h.ok()) {
      handles.push_back(*h);
    } else {
      EXPECT_EQ(h.error().kind, ErrorKind::kFull);
      ++refused;
      outs.pop_back();
    }
  }
  EXPECT_GT(refused, 0);
  for (auto& h : handles) h->cancel();
  for (auto& o2 : outs) EXPECT_TRUE(o2->wait());
}

std::vector<float> embed(Scheduler& s, const std::string& text) {
  std::vector<float> out;
  Outcome done(1);
  Job j = make_job(text, 0, 0.0f, 1);
  j.embed = true;
  j.callbacks = done.callbacks();
  j.callbacks.on_embedding = [&out](std::vector<float> e) { out = std::move(e); };
  EXPECT_TRUE(s.submit(std::move(j)).ok());
  EXPECT_TRUE(done.wait());
  return out;
}

TEST(ServeScheduler, EmbeddingsAreUnitMeansAndIndependentOfTheBatch) {
  auto s = make_scheduler(options(4, 1024));
  const auto a = embed(*s, kPrompts[4]);
  ASSERT_EQ(a.size(), static_cast<size_t>(bundled().model->hparams().n_embd));
  double norm = 0;
  for (float v : a) norm += static_cast<double>(v) * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  const auto b = embed(*s, kPrompts[1]);
  EXPECT_NE(a, b);
  // The same text while three generating jobs share the batch, and after its prefix was retained.
  std::vector<std::unique_ptr<Outcome>> others;
  for (int i = 0; i < 3; ++i) {
    others.push_back(std::make_unique<Outcome>(1));
    Job j = make_job(kPrompts[i], 40, 0.0f, 1);
    j.callbacks = others.back()->callbacks();
    ASSERT_TRUE(s->submit(std::move(j)).ok());
  }
  EXPECT_EQ(embed(*s, kPrompts[4]), a);
  for (auto& o : others) EXPECT_TRUE(o->wait());
}

TEST(ServeTextStream, HoldsBackStopPrefixesAndSplitCharacters) {
  TextStream t({"END"});
  EXPECT_EQ(t.push("abc E"), "abc ");
  EXPECT_EQ(t.push("N"), "");
  EXPECT_EQ(t.push("x"), "ENx");
  EXPECT_EQ(t.push("\xC3"), "");  // the first byte of "é"
  EXPECT_EQ(t.push("\xA9 E"), "\xC3\xA9 ");
  EXPECT_EQ(t.push("ND and more"), "");
  EXPECT_TRUE(t.stopped());
  EXPECT_EQ(t.emitted(), "abc ENx\xC3\xA9 ");
  EXPECT_EQ(t.push("later"), "");

  TextStream u({"\n\n", "###"});
  EXPECT_EQ(u.push("line\n"), "line");
  EXPECT_EQ(u.push("next"), "\nnext");
  EXPECT_EQ(u.push("#"), "");
  EXPECT_EQ(u.flush(), "#");
  EXPECT_FALSE(u.stopped());
}

TEST(ServeTextStream, IncompleteUtf8Tail) {
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xE2\x82"), 2u);    // 3-byte character missing one
  EXPECT_EQ(incomplete_utf8_tail("a\xE2\x82\xAC"), 0u);  // complete euro sign
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("\x80\x80\x80\x80\x80"), 0u);
}

}  // namespace
}  // namespace cria::serve
