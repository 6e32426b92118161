#include "engine/batched_bench.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace cria::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Decodes `all` in pieces of at most n_batch tokens.
Status decode_in_pieces(model::Runner& runner, model::KvCache& cache, const model::Batch& all) {
  model::Batch piece;
  for (int start = 0; start < all.size(); start += runner.n_batch()) {
    piece.clear();
    for (int i = start; i < std::min(all.size(), start + runner.n_batch()); ++i) {
      piece.add(all.token(i), all.pos(i), all.seqs(i), all.wants_logits(i));
    }
    if (auto s = runner.decode(piece, cache); !s) return s;
  }
  return Ok{};
}

}  // namespace

Status warm_up(model::Runner& runner, model::KvCache& cache) {
  model::Batch batch;
  for (int i = 0; i < 16; ++i) batch.add(0, i, {0}, i == 15);
  cache.clear();
  auto s = decode_in_pieces(runner, cache, batch);
  cache.clear();
  return s;
}

Result<BatchedBenchResult> run_batched_bench(model::Runner& runner, model::KvCache& cache, const BatchedBenchCase& test) {
  if (test.n_prompt < 1 || test.n_gen < 0 || test.n_parallel < 1) {
    return make_error("batched-bench needs a prompt of at least 1 token, a generation length of at least 0 and at "
                      "least 1 sequence");
  }
  if (test.n_kv() > cache.n_cells() || test.n_parallel > cache.n_seq_max()) {
    return make_error("a case of " + std::to_string(test.n_kv()) + " tokens in " + std::to_string(test.n_parallel) +
                      " sequences does not fit the KV cache");
  }
  cache.clear();
  BatchedBenchResult r;
  r.test = test;

  // Prompts: token 0 at positions 0 .. n_prompt - 1 of each sequence (of sequence 0 alone when shared).
  // Logits for the batch's last token only, as llama-batched-bench asks.
  model::Batch batch;
  const int n_prompts = test.shared_prompt ? 1 : test.n_parallel;
  for (int s = 0; s < n_prompts; ++s) {
    for (int i = 0; i < test.n_prompt; ++i) batch.add(0, i, {s}, s == n_prompts - 1 && i == test.n_prompt - 1);
  }
  const auto pp_start = Clock::now();
  if (auto s = decode_in_pieces(runner, cache, batch); !s) return s.error();
  r.t_pp = seconds_since(pp_start);
  if (test.shared_prompt) {
    for (int s = 1; s < test.n_parallel; ++s) {
      if (auto st = cache.seq_cp(0, s, 0, -1); !st) return st.error();
    }
  }

  // Generation: one token per sequence per step, each with logits.
  const auto tg_start = Clock::now();
  for (int step = 0; step < test.n_gen; ++step) {
    batch.clear();
    for (int s = 0; s < test.n_parallel; ++s) batch.add(0, test.n_prompt + step, {s}, true);
    if (auto st = decode_in_pieces(runner, cache, batch); !st) return st.error();
  }
  r.t_tg = seconds_since(tg_start);

  const double pp_tokens = static_cast<double>(test.shared_prompt ? test.n_prompt : test.n_prompt * test.n_parallel);
  r.speed_pp = pp_tokens / r.t_pp;
  r.speed_tg = test.n_gen == 0 ? 0.0 : static_cast<double>(test.n_parallel) * test.n_gen / r.t_tg;
  r.t = r.t_pp + r.t_tg;
  r.speed = test.n_kv() / r.t;
  return r;
}

}  // namespace cria::engine
