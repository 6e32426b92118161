// llama-batched-bench's test: npl sequences, each with a prompt of npp tokens (one prompt shared by all of
// them with is_pp_shared) decoded together, then ntg generation steps of one token per sequence, all in
// one KV cache. Reports the time and tokens per second of both phases and of the whole, as its columns.
#pragma once

#include "core/result.h"
#include "model/kv_cache.h"
#include "model/runner.h"

namespace cria::engine {

struct BatchedBenchCase {
  int n_prompt = 0;    // PP
  int n_gen = 0;       // TG
  int n_parallel = 1;  // B
  bool shared_prompt = false;
  // Cells the case needs: the prompt once (shared) or per sequence, and every generated token.
  int n_kv() const { return shared_prompt ? n_prompt + n_parallel * n_gen : n_parallel * (n_prompt + n_gen); }
};

struct BatchedBenchResult {
  BatchedBenchCase test;
  double t_pp = 0, t_tg = 0;          // seconds
  double speed_pp = 0, speed_tg = 0;  // tokens per second
  double t = 0, speed = 0;            // the whole case: n_kv() tokens in t_pp + t_tg
};

// Runs one case on an emptied cache (at least test.n_kv() cells, n_parallel sequences). Batches of more
// than the runner's n_batch tokens are split, as llama-batched-bench's decode helper does.
Result<BatchedBenchResult> run_batched_bench(model::Runner& runner, model::KvCache& cache, const BatchedBenchCase& test);

// llama-batched-bench's warm-up: 16 tokens of sequence 0, then an empty cache.
Status warm_up(model::Runner& runner, model::KvCache& cache);

}  // namespace cria::engine
