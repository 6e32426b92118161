// Continuous batching: the jobs of many clients decoded together on one Runner and one shared KvCache.
// A job is a prompt (tokens) and n choices to generate from it. Each step of the scheduler's thread
// builds one batch: one token for every choice that is generating, plus prompt tokens of jobs still
// being read, at most a prefill budget of them while others generate (so a long prompt arriving does
// not stall running streams for its whole prefill; with nothing generating a step takes up to n_batch).
// The default budget is twice the number of generating sequences (at least kMinPrefillBudget): a step
// then costs at most about three plain generation steps, which bounds the inter-token latency, while
// prompts still advance every step.
// Waiting jobs are admitted as sequence slots free up; a queue over max_queue is refused.
//
// Prefixes: a finished job leaves its first choice's cells in the cache as a retained prefix, and a new
// job reuses the longest prefix any live or retained sequence holds (a chat's next turn evaluates only
// the new tokens); `cached_tokens` reports it. The n choices of a job share the prompt's cells (forked
// after the prompt is read) and each has its own sampler, seeded seed + i.
//
// When the cache cannot hold the next step, the newest job is preempted: its cells are freed and it goes
// back to the front of the queue with the tokens it has generated, which are read again as a prompt
// when it returns. Its samplers keep their state and nothing already sent is sent again, so with a
// batch-invariant runner the client sees exactly the tokens it would have seen without preemption.
//
// Callbacks run on the scheduler's thread and must not block (queue the bytes and return).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "model/runner.h"
#include "sampling/sampler.h"
#include "serve/metrics.h"
#include "tokenizer/tokenizer.h"

namespace cria::serve {

struct SchedulerOptions {
  int n_parallel = 4;       // sequences decoded together (llama-server's -np)
  int n_ctx = 4096;         // cells of the shared cache, all sequences together (-c)
  int ctx_per_seq = 0;      // most tokens one sequence may hold; 0: the model's training context, capped by n_ctx
  int prefill_budget = 0;   // prompt tokens a step may carry while others generate; 0: adaptive (see above)
  int max_queue = 256;      // waiting jobs beyond this are refused
  model::KvCacheTypes cache_types;  // -ctk / -ctv
  model::RunnerOptions runner;
};

// The adaptive budget's floor: prompts advance at least this fast while one or two sequences generate.
constexpr int kMinPrefillBudget = 16;

struct TokenInfo {
  int32_t id = 0;
  std::string piece;  // the token's bytes
  float logprob = 0;  // log-probability under the model's distribution (before sampling's transforms)
  std::vector<std::pair<int32_t, float>> top;  // the most likely tokens, best first, when asked
};

enum class FinishReason { kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

struct JobUsage {
  int prompt_tokens = 0;
  int completion_tokens = 0;  // all choices together
  int cached_tokens = 0;
};

struct JobCallbacks {
  // New final text of choice `choice` (stop strings and split UTF-8 held back), with the tokens that
  // completed since the last call (their pieces may hold bytes the text does not show yet).
  std::function<void(int choice, const std::string& text, const std::vector<TokenInfo>& tokens)> on_text;
  // A choice has finished.
  std::function<void(int choice, FinishReason reason)> on_finish;
  // An embedding job's result: the mean of its tokens' final hidden states, L2-normalised.
  std::function<void(std::vector<float> embedding)> on_embedding;
  // The job is over (every choice finished, or it was cancelled or failed): the last call.
  std::function<void(const JobUsage& usage, const std::optional<std::string>& error)> on_done;
};

struct Job {
  std::vector<int32_t> prompt;  // not empty
  sampling::SamplingParams sampling;
  int max_tokens = -1;  // per choice; < 0: until the sequence's context is full
  int n = 1;            // choices, each a sequence
  std::vector<std::string> stop;
  bool ignore_eos = false;
  int top_logprobs = -1;  // < 0: no logprobs; otherwise logprobs with this many alternatives
  std::shared_ptr<const grammar::Grammar> grammar;  // the output must follow it (null: free)
  // Control tokens whose text goes into the output (tool-call markers such as [TOOL_CALLS]); the text
  // of the others is empty, as llama.cpp's.
  std::vector<int32_t> render_special;
  // An embedding instead of a completion: the prompt is read (every token, no prefix reuse, since its
  // hidden states are needed) and nothing is generated.
  bool embed = false;
  JobCallbacks callbacks;
};

// Returned by submit: cancel() ends the job within one step and frees its cells (on_done is still called).
class JobHandle {
 public:
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

class Scheduler {
 public:
  static Result<std::unique_ptr<Scheduler>> create(std::shared_ptr<const model::Model> model,
                                                   std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                                                   SchedulerOptions options);
  ~Scheduler();  // stop()

  // Queues a job. Errors: kTooLong for a prompt that does not fit ctx_per_seq, kInvalid for another job
  // that can never run (empty prompt, n over n_parallel, a token outside the vocabulary; the message
  // names the numbers), kFull when the queue is full.
  Result<std::shared_ptr<JobHandle>> submit(Job job);

  // Cancels every job (each gets on_done) and ends the thread.
  void stop();

  int ctx_per_seq() const { return ctx_per_seq_; }
  int n_parallel() const { return options_.n_parallel; }
  int prefill_budget() const { return prefill_budget_; }  // 0: adaptive
  const model::Runner& runner() const { return *runner_; }
  MetricsSnapshot metrics() const;

 private:
  struct Choice;
  struct Active;
  Scheduler(std::shared_ptr<const tokenizer::Tokenizer> tokenizer, SchedulerOptions options);
  void loop();
  bool step();  // false when there was nothing to do
  void admit();
  void preempt_newest();
  void finish_choice(Active& a, Choice& c, FinishReason reason);
  // Ends a job: choices still running finish as cancelled (or failed, with `error`), then on_done.
  void finish_job(Active& a, const std::optional<std::string>& error);
  void emit_token(Active& a, Choice& c, const float* logits, int32_t id);
  void add_hidden_states(Active& a, Choice& c, int first, int count);
  void publish_gauges();
  bool choice_done(const Active& a, const Choice& c, int32_t id) const;

  std::shared_ptr<const tokenizer::Tokenizer> tok_;
  // Every token's text and the end-of-generation tokens, for grammars (made once, read by every submit).
  std::shared_ptr<const std::vector<std::string>> token_texts_;
  std::vector<int32_t> eog_tokens_;
  SchedulerOptions options_;
  int ctx_per_seq_ = 0, prefill_budget_ = 0;
  std::unique_ptr<model::Runner> runner_;
  std::optional<model::KvCache> cache_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Active>> queue_;  // guarded by mu_ (the thread moves jobs out)
  bool stopping_ = false;
  std::vector<std::unique_ptr<Active>> running_;  // the scheduler thread's only
  std::vector<int> free_slots_;
  uint64_t admitted_ = 0;
  Metrics metrics_;
  std::thread thread_;
};

}  // namespace cria::serve
