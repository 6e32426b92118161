#include "serve/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "serve/text_stream.h"

namespace cria::serve {

namespace {

using Clock = std::chrono::steady_clock;

// Steps of growth (one cell per live choice each) kept free for running jobs when admitting another.
constexpr int kAdmissionHeadroomSteps = 16;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// log softmax of the row at `id`, and the `k` most likely tokens with theirs.
void fill_logprobs(const float* logits, int64_t n_vocab, int32_t id, int k, TokenInfo& info) {
  const float max = *std::max_element(logits, logits + n_vocab);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const double log_z = static_cast<double>(max) + std::log(sum);
  info.logprob = static_cast<float>(logits[id] - log_z);
  if (k <= 0) return;
  std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const auto kk = std::min<int64_t>(k, n_vocab);
  std::partial_sort(ids.begin(), ids.begin() + kk, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  for (int64_t i = 0; i < kk; ++i) {
    info.top.emplace_back(ids[static_cast<size_t>(i)], static_cast<float>(logits[ids[static_cast<size_t>(i)]] - log_z));
  }
}

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "error";
}

// One choice of a job: the sequence that holds it, every token it must hold (prompt, then what it has
// generated) and how many of them the cache holds now.
struct Scheduler::Choice {
  int index = 0;
  int seq = -1;
  std::vector<int32_t> tokens;
  int n_evaluated = 0;
  int n_generated = 0;
  sampling::Sampler sampler;
  TextStream text;
  bool finished = false;
  bool waiting_fork = false;  // takes the prompt's cells from the job's first live choice
  Clock::time_point last_token;
  std::vector<double> embed_sum;  // embedding jobs: the sum of the hidden states read so far

  // piece: a token's text, for DRY's sequence breakers.
  Choice(int i, const Job& job, int64_t n_vocab, int n_ctx, const sampling::Sampler::PieceFn& piece)
      : index(i), tokens(job.prompt), sampler(seeded(job.sampling, i), n_vocab, n_ctx, piece), text(job.stop) {}
  int remaining() const { return static_cast<int>(tokens.size()) - n_evaluated; }

  static sampling::SamplingParams seeded(sampling::SamplingParams p, int i) {
    if (p.seed != 0xFFFFFFFFu) p.seed += static_cast<uint32_t>(i);
    return p;
  }
};

struct Scheduler::Active {
  Job job;
  std::shared_ptr<JobHandle> handle;
  std::vector<Choice> choices;
  uint64_t order = 0;  // admission order: the newest is preempted first
  Clock::time_point arrival;
  bool admitted_once = false, first_token = false;
  JobUsage usage;
};

Result<std::unique_ptr<Scheduler>> Scheduler::create(std::shared_ptr<const model::Model> model,
                                                     std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                                                     SchedulerOptions options) {
  const auto& hp = model->hparams();
  if (options.n_parallel < 1 || options.n_parallel > 256) {
    return make_error("parallel sequences (-np) must be 1 to 256, got " + std::to_string(options.n_parallel));
  }
  if (options.n_ctx < 1) return make_error("context size (-c) must be at least 1, got " + std::to_string(options.n_ctx));
  if (options.max_queue < 0) return make_error("queue size must not be negative");
  std::unique_ptr<Scheduler> s(new Scheduler(std::move(tokenizer), options));
  auto texts = std::make_shared<std::vector<std::string>>(static_cast<size_t>(s->tok_->n_vocab()));
  for (int32_t id = 0; id < s->tok_->n_vocab(); ++id) {
    (*texts)[static_cast<size_t>(id)] = s->tok_->token_to_piece(id, /*special=*/false);
    if (s->tok_->is_eog(id)) s->eog_tokens_.push_back(id);
  }
  s->token_texts_ = std::move(texts);
  const int train = hp.n_ctx_train > 0 ? static_cast<int>(std::min<uint32_t>(hp.n_ctx_train, 1u << 30)) : options.n_ctx;
  s->ctx_per_seq_ = options.ctx_per_seq > 0 ? std::min(options.ctx_per_seq, options.n_ctx) : std::min(train, options.n_ctx);
  s->prefill_budget_ = std::max(0, options.prefill_budget);
  options.runner.max_keys = s->ctx_per_seq_;
  options.runner.n_batch = std::max(1, std::min(options.runner.n_batch, options.n_ctx));
  // The cache first: it is the larger allocation, and the runner's check then sees the memory it leaves.
  auto cache = model::KvCache::create(hp, options.n_ctx, options.n_parallel, options.cache_types, model->held_layers());
  if (!cache) return cache.error();
  s->cache_.emplace(std::move(*cache));
  auto runner = model::Runner::create(std::move(model), options.runner);
  if (!runner) return runner.error();
  s->runner_ = std::move(*runner);
  for (int i = options.n_parallel - 1; i >= 0; --i) s->free_slots_.push_back(i);
  s->thread_ = std::thread([p = s.get()] { p->loop(); });
  return s;
}

Scheduler::Scheduler(std::shared_ptr<const tokenizer::Tokenizer> tokenizer, SchedulerOptions options)
    : tok_(std::move(tokenizer)), options_(std::move(options)) {}

Scheduler::~Scheduler() { stop(); }

Result<std::shared_ptr<JobHandle>> Scheduler::submit(Job job) {
  const auto n_prompt = static_cast<int64_t>(job.prompt.size());
  if (n_prompt == 0) return make_error("the prompt is empty");
  if (n_prompt >= ctx_per_seq_) {
    return make_error("the prompt has " + std::to_string(n_prompt) + " tokens, more than the context of " +
                      std::to_string(ctx_per_seq_) + " tokens per sequence allows (it needs room for at least one "
                      "generated token)",
                      ErrorKind::kTooLong);
  }
  if (job.embed) job.n = 1;
  if (job.n < 1 || job.n > options_.n_parallel) {
    return make_error("n = " + std::to_string(job.n) + " choices, but the server decodes at most " +
                      std::to_string(options_.n_parallel) + " sequences at once");
  }
  for (int32_t id : job.prompt) {
    if (id < 0 || id >= runner_->n_vocab()) {
      return make_error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                        std::to_string(runner_->n_vocab() - 1) + ")");
    }
  }
  auto a = std::make_unique<Active>();
  a->handle = std::make_shared<JobHandle>();
  a->arrival = Clock::now();
  for (int i = 0; i < job.n; ++i) {
    a->choices.emplace_back(i, job, runner_->n_vocab(), ctx_per_seq_,
                            [this](int32_t id) { return tok_->token_to_piece(id, /*special=*/true); });
    if (job.grammar) a->choices.back().sampler.set_grammar(job.grammar, token_texts_, eog_tokens_);
    Choice& c = a->choices.back();
    if (job.ignore_eos) {
      for (int32_t id = 0; id < tok_->n_vocab(); ++id) {
        if (tok_->is_eog(id)) c.sampler.ban(id);
      }
    }
    for (int32_t id : job.prompt) c.sampler.accept(id);
  }
  a->usage.prompt_tokens = static_cast<int>(n_prompt);
  a->job = std::move(job);
  auto handle = a->handle;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return make_error("the server is shutting down", ErrorKind::kFull);
    if (static_cast<int>(queue_.size()) >= options_.max_queue) {
      return make_error("the queue is full (" + std::to_string(options_.max_queue) + " requests waiting)",
                        ErrorKind::kFull);
    }
    queue_.push_back(std::move(a));
  }
  wake_.notify_one();
  return handle;
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

MetricsSnapshot Scheduler::metrics() const { return metrics_.snapshot(); }

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !running_.empty(); });
      if (stopping_) break;
    }
    step();
  }
  // Shutting down: every job, running or queued, ends as cancelled.
  for (auto& a : running_) finish_job(*a, std::nullopt);
  running_.clear();
  std::deque<std::unique_ptr<Active>> queued;
  {
    std::lock_guard lock(mu_);
    queued.swap(queue_);
  }
  for (auto& a : queued) {
    if (a->job.callbacks.on_done) a->job.callbacks.on_done(a->usage, std::nullopt);
  }
}

void Scheduler::admit() {
  std::vector<std::unique_ptr<Active>> dropped;  // cancelled while waiting
  {
    std::lock_guard lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->handle->cancelled()) {
        dropped.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    // A job comes in when it has slots and, unless nothing else runs, the cache has room for its tokens
    // beyond a few steps' growth of the running ones; otherwise it would only be preempted again.
    int growth = 0;
    for (const auto& r : running_) {
      for (const Choice& c : r->choices) growth += c.finished ? 0 : kAdmissionHeadroomSteps;
    }
    size_t slots = free_slots_.size();
    while (!queue_.empty()) {
      Active& a = *queue_.front();
      size_t live = 0, longest = 0;
      for (const Choice& c : a.choices) {
        if (c.finished) continue;
        ++live;
        longest = std::max(longest, c.tokens.size());
      }
      if (slots < live) break;
      if (!running_.empty() && cache_->n_available() - growth < static_cast<int>(longest)) break;
      growth += static_cast<int>(live) * kAdmissionHeadroomSteps + static_cast<int>(longest);
      slots -= live;
      auto job = std::move(queue_.front());
      queue_.pop_front();
      job->order = ++admitted_;
      running_.push_back(std::move(job));
    }
  }
  for (auto& a : dropped) {
    if (a->job.callbacks.on_done) a->job.callbacks.on_done(a->usage, std::nullopt);
  }
  // Slots and prefixes for the newly admitted (their choices have no sequence yet).
  for (auto& a : running_) {
    Choice* source = nullptr;
    for (Choice& c : a->choices) {
      if (c.finished || c.seq >= 0) continue;
      c.seq = free_slots_.back();
      free_slots_.pop_back();
      c.n_evaluated = 0;
      if (source == nullptr) {
        source = &c;
        if (!a->job.embed) {
          auto reused = cache_->reuse_prefix(c.seq, c.tokens);
          c.n_evaluated = reused ? *reused : 0;
        }
        c.embed_sum.clear();
        if (!a->admitted_once) {
          a->usage.cached_tokens = c.n_evaluated;
          const int n_prompt = static_cast<int>(a->job.prompt.size());
          metrics_.update([&](MetricsSnapshot& m) {
            m.request_queue_time.observe(seconds_between(a->arrival, Clock::now()));
            m.prompt_tokens += static_cast<uint64_t>(n_prompt);
            m.prefix_cache_queries += static_cast<uint64_t>(n_prompt);
            m.prefix_cache_hits += static_cast<uint64_t>(std::min(c.n_evaluated, n_prompt));
          });
        }
      } else {
        c.waiting_fork = true;
      }
    }
    a->admitted_once = true;
  }
}

void Scheduler::preempt_newest() {
  auto newest = std::max_element(running_.begin(), running_.end(),
                                 [](const auto& x, const auto& y) { return x->order < y->order; });
  std::unique_ptr<Active> a = std::move(*newest);
  running_.erase(newest);
  for (Choice& c : a->choices) {
    if (c.seq < 0) continue;
    // Its cells stay as a prefix it may find again when it returns, unless the cache needs them first.
    if (cache_->retain(c.seq)) {
      // retain() ended the sequence.
    } else {
      (void)cache_->seq_rm(c.seq, 0, -1);
    }
    free_slots_.push_back(c.seq);
    c.seq = -1;
    c.n_evaluated = 0;
    c.waiting_fork = false;
  }
  metrics_.update([](MetricsSnapshot& m) { ++m.preemptions; });
  std::lock_guard lock(mu_);
  queue_.push_front(std::move(a));
}

bool Scheduler::choice_done(const Active& a, const Choice& c, int32_t id) const {
  (void)id;
  if (a.job.max_tokens >= 0 && c.n_generated >= a.job.max_tokens) return true;
  return static_cast<int>(c.tokens.size()) >= ctx_per_seq_;
}

void Scheduler::emit_token(Active& a, Choice& c, const float* logits, int32_t id) {
  const auto now = Clock::now();
  metrics_.update([&](MetricsSnapshot& m) {
    ++m.generation_tokens;
    if (!a.first_token) m.time_to_first_token.observe(seconds_between(a.arrival, now));
    if (c.n_generated > 0) m.inter_token_latency.observe(seconds_between(c.last_token, now));
  });
  a.first_token = true;
  c.last_token = now;
  ++a.usage.completion_tokens;
  if (tok_->is_eog(id) && !a.job.ignore_eos) {
    ++c.n_generated;
    finish_choice(a, c, FinishReason::kStop);
    return;
  }
  TokenInfo info;
  info.id = id;
  const auto& keep = a.job.render_special;
  info.piece = tok_->token_to_piece(id, std::find(keep.begin(), keep.end(), id) != keep.end());
  if (a.job.top_logprobs >= 0) fill_logprobs(logits, runner_->n_vocab(), id, a.job.top_logprobs, info);
  c.tokens.push_back(id);
  c.sampler.accept(id);
  ++c.n_generated;
  const std::string text = c.text.push(info.piece);
  if (a.job.callbacks.on_text) a.job.callbacks.on_text(c.index, text, {info});
  if (c.text.stopped()) {
    finish_choice(a, c, FinishReason::kStop);
  } else if (choice_done(a, c, id)) {
    finish_choice(a, c, FinishReason::kLength);
  }
}

void Scheduler::finish_choice(Active& a, Choice& c, FinishReason reason) {
  if (c.finished) return;
  c.finished = true;
  if (reason == FinishReason::kStop || reason == FinishReason::kLength) {
    const std::string rest = c.text.flush();
    if (!rest.empty() && a.job.callbacks.on_text) a.job.callbacks.on_text(c.index, rest, {});
  }
  if (a.job.callbacks.on_finish) a.job.callbacks.on_finish(c.index, reason);
  if (c.seq >= 0) {
    // The first choice's cells stay behind as a prefix for the next request (a chat's next turn).
    const bool keep = c.index == 0 && reason != FinishReason::kCancelled && reason != FinishReason::kError;
    if (!(keep && cache_->retain(c.seq))) (void)cache_->seq_rm(c.seq, 0, -1);
    free_slots_.push_back(c.seq);
    c.seq = -1;
  }
  metrics_.update([&](MetricsSnapshot& m) { ++m.request_success[finish_reason_name(reason)]; });
}

void Scheduler::finish_job(Active& a, const std::optional<std::string>& error) {
  const FinishReason reason = error ? FinishReason::kError : FinishReason::kCancelled;
  for (Choice& c : a.choices) finish_choice(a, c, reason);
  metrics_.update([&](MetricsSnapshot& m) { m.e2e_request_latency.observe(seconds_between(a.arrival, Clock::now())); });
  if (a.job.callbacks.on_done) a.job.callbacks.on_done(a.usage, error);
}

void Scheduler::add_hidden_states(Active& a, Choice& c, int first, int count) {
  const auto n_embd = static_cast<size_t>(runner_->model().hparams().n_embd);
  std::vector<float> h(n_embd);
  c.embed_sum.resize(n_embd, 0.0);
  for (int i = first; i < first + count; ++i) {
    runner_->final_hidden(i, h.data());
    for (size_t d = 0; d < n_embd; ++d) c.embed_sum[d] += h[d];
  }
  if (c.n_evaluated < static_cast<int>(c.tokens.size())) return;
  // Mean pooling, then unit length (llama-server's default normalisation).
  std::vector<float> e(n_embd);
  double norm = 0;
  for (size_t d = 0; d < n_embd; ++d) {
    const double v = c.embed_sum[d] / static_cast<double>(c.tokens.size());
    e[d] = static_cast<float>(v);
    norm += v * v;
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& v : e) v = static_cast<float>(v / norm);
  }
  if (a.job.callbacks.on_embedding) a.job.callbacks.on_embedding(std::move(e));
  finish_choice(a, c, FinishReason::kStop);
}

void Scheduler::publish_gauges() {
  const int waiting = [&] {
    std::lock_guard lock(mu_);
    return static_cast<int>(queue_.size());
  }();
  const int held = cache_->n_cells() - cache_->n_available();
  const int running = static_cast<int>(running_.size());
  metrics_.update([&](MetricsSnapshot& m) {
    m.requests_running = running;
    m.requests_waiting = waiting;
    m.kv_cache_usage = static_cast<double>(held) / cache_->n_cells();
  });
}

bool Scheduler::step() {
  // Cancelled jobs end here, within one step of the client going away.
  for (auto it = running_.begin(); it != running_.end();) {
    if ((*it)->handle->cancelled()) {
      finish_job(**it, std::nullopt);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  admit();
  if (running_.empty()) {
    publish_gauges();
    return false;
  }
  std::sort(running_.begin(), running_.end(), [](const auto& x, const auto& y) { return x->order < y->order; });

  // What the step evaluates: per choice a run of its tokens; `sample` when the run ends its tokens.
  struct Run {
    Active* job;
    Choice* choice;
    int first, count, last_index;
  };
  std::vector<Run> runs;
  model::Batch batch;
  const int n_batch = runner_->n_batch();
  for (;;) {
    runs.clear();
    batch.clear();
    int generating = 0;
    for (auto& a : running_) {
      for (Choice& c : a->choices) generating += !c.finished && !c.waiting_fork && c.seq >= 0 && c.remaining() == 1;
    }
    const int available = cache_->n_available();
    if (generating > available || (generating == 0 && available == 0)) {
      if (running_.size() > 1) {
        preempt_newest();
        continue;
      }
      // One job alone fills the cache: its choices cannot grow further.
      for (Choice& c : running_.front()->choices) finish_choice(*running_.front(), c, FinishReason::kLength);
      break;
    }
    // Generating choices first (one token each), then prompts, oldest job first, within the budget.
    const int prefill = prefill_budget_ > 0 ? prefill_budget_ : std::max(kMinPrefillBudget, 2 * generating);
    int budget = std::min({generating > 0 ? prefill : n_batch, n_batch - generating, available - generating});
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& a : running_) {
        for (Choice& c : a->choices) {
          if (c.finished || c.waiting_fork || c.seq < 0 || c.remaining() == 0) continue;
          const bool gen = c.remaining() == 1;
          if ((pass == 0) != gen) continue;
          const int count = gen ? 1 : std::min(c.remaining(), budget);
          if (count <= 0) continue;
          if (!gen) budget -= count;
          const bool last = c.n_evaluated + count == static_cast<int>(c.tokens.size()) && !a->job.embed;
          const int32_t seq = c.seq;
          for (int i = 0; i < count; ++i) {
            const int pos = c.n_evaluated + i;
            batch.add(c.tokens[static_cast<size_t>(pos)], pos, {seq}, last && i + 1 == count);
          }
          runs.push_back({a.get(), &c, c.n_evaluated, count, batch.size() - 1});
        }
      }
    }
    break;
  }
  if (batch.empty()) {
    // Nothing could run this step (the jobs finished above); tidy up below.
  } else if (auto s = runner_->decode(batch, *cache_); !s) {
    if (s.error().kind == ErrorKind::kFull && running_.size() > 1) {
      preempt_newest();
      return true;
    }
    for (auto& a : running_) finish_job(*a, s.error().message);
    running_.clear();
    return true;
  }

  for (const Run& r : runs) {
    Choice& c = *r.choice;
    Active& a = *r.job;
    c.n_evaluated += r.count;
    if (a.job.embed) {
      add_hidden_states(a, c, r.last_index - r.count + 1, r.count);
      continue;
    }
    const int n_prompt = static_cast<int>(a.job.prompt.size());
    // The job's other choices take the prompt's cells from this one once it holds them.
    if (c.n_evaluated >= n_prompt) {
      for (Choice& s : a.choices) {
        if (&s == &c || !s.waiting_fork || s.finished) continue;
        (void)cache_->seq_cp(c.seq, s.seq, 0, n_prompt);
        s.n_evaluated = n_prompt;
        s.waiting_fork = false;
        // A fresh choice samples its first token from the prompt's logits, as this one does.
        if (static_cast<int>(s.tokens.size()) == n_prompt && r.first + r.count == n_prompt) {
          const float* logits = runner_->logits(r.last_index);
          emit_token(a, s, logits, s.sampler.sample(logits));
        }
      }
    }
    if (c.n_evaluated == static_cast<int>(c.tokens.size()) && !c.finished) {
      const float* logits = runner_->logits(r.last_index);
      emit_token(a, c, logits, c.sampler.sample(logits));
    }
  }

  // Jobs whose every choice has finished are done.
  for (auto it = running_.begin(); it != running_.end();) {
    Active& a = **it;
    if (std::all_of(a.choices.begin(), a.choices.end(), [](const Choice& c) { return c.finished; })) {
      finish_job(a, std::nullopt);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  publish_gauges();
  return true;
}

}  // namespace cria::serve
