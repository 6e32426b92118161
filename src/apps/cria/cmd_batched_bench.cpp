// `cria batched-bench`: llama-batched-bench's flags, table and JSON lines. For each prompt length (PP),
// generation length (TG) and number of parallel sequences (B): B prompts decoded together (or one shared
// with -pps), then TG steps of one token per sequence, in one KV cache of -c cells.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "core/thread_pool.h"
#include "engine/batched_bench.h"
#include "generation_options.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

struct BatchedBenchOptions {
  std::string model;
  int n_kv_max = 4096;
  int n_batch = 2048;
  int n_ubatch = 512;
  int threads = 0;
  bool flash_attn = false;
  CacheTypeFlags cache_types;
  bool shared_prompt = false;
  bool deterministic = false;
  std::vector<int> n_prompt{128, 256, 512};
  std::vector<int> n_gen{128, 256};
  std::vector<int> n_parallel{1, 2, 4, 8, 16, 32};
  std::string output = "md";
};

std::string validate(const BatchedBenchOptions& o) {
  if (o.output != "md" && o.output != "jsonl") return "--output-format must be md or jsonl, got '" + o.output + "'";
  if (o.n_kv_max < 1) return "-c must be positive, got " + std::to_string(o.n_kv_max);
  if (o.n_batch < 1 || o.n_ubatch < 1) return "-b and -ub must be positive";
  if (std::string bad = check_thread_count(o.threads, "-t"); !bad.empty()) return bad;
  if (auto types = cache_types(o.cache_types); !types) return types.error().message;
  for (int p : o.n_prompt) {
    if (p < 1) return "-npp values must be positive, got " + std::to_string(p);
  }
  for (int n : o.n_gen) {
    if (n < 0) return "-ntg values must not be negative, got " + std::to_string(n);
  }
  for (int b : o.n_parallel) {
    if (b < 1) return "-npl values must be positive, got " + std::to_string(b);
  }
  if (o.n_prompt.empty() || o.n_gen.empty() || o.n_parallel.empty()) return "-npp, -ntg and -npl need values";
  return "";
}

int run_batched_bench(const BatchedBenchOptions& o) {
  if (auto problem = validate(o); !problem.empty()) return fail(problem);
  auto model = load_weights(o.model.empty() ? default_model_path() : o.model);
  if (!model) return fail(model.error().message);
  const int n_seq_max = *std::max_element(o.n_parallel.begin(), o.n_parallel.end());
  model::RunnerOptions runner_options;
  // -b is the logical batch (what one decode call may hold), -ub the tokens of one forward pass; cria's
  // runner splits nothing itself, so a forward pass takes the smaller of the two.
  runner_options.n_batch = std::min(o.n_batch, o.n_ubatch);
  runner_options.n_threads = o.threads;
  runner_options.max_keys = o.n_kv_max;
  runner_options.flash_attn = o.flash_attn;
  runner_options.batch_invariant = o.deterministic;
  auto runner = model::Runner::create(*model, runner_options);
  if (!runner) return fail(runner.error().message);
  auto cache = model::KvCache::create((*model)->hparams(), o.n_kv_max, n_seq_max, cache_types(o.cache_types).value(),
                                      (*model)->held_layers());
  if (!cache) return fail(cache.error().message);
  if (auto s = engine::warm_up(**runner, *cache); !s) return fail(s.error().message);
  const double kv_bytes = static_cast<double>(cache->k_bytes() + cache->v_bytes());
  std::fprintf(stderr, "batched-bench: KV cache of %d cells for %d sequences: %.2f MiB (keys and values %.2f MiB)\n",
               o.n_kv_max, n_seq_max, static_cast<double>(cache->bytes()) / 1048576.0, kv_bytes / 1048576.0);
  print_kv_cache_size("batched-bench", *cache);

  const int threads = (*runner)->n_threads();
  const bool md = o.output == "md";
  if (md) {
    std::printf("main: n_kv_max = %d, n_batch = %d, n_ubatch = %d, flash_attn = %d, is_pp_shared = %d, "
                "n_gpu_layers = -1, n_threads = %d, n_threads_batch = %d\n\n",
                o.n_kv_max, o.n_batch, o.n_ubatch, o.flash_attn ? 1 : 0, o.shared_prompt ? 1 : 0, threads, threads);
    std::printf("|%6s | %6s | %4s | %6s | %8s | %8s | %8s | %8s | %8s | %8s |\n", "PP", "TG", "B", "N_KV", "T_PP s",
                "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s");
    std::printf("|%6s-|-%6s-|-%4s-|-%6s-|-%8s-|-%8s-|-%8s-|-%8s-|-%8s-|-%8s-|\n", "------", "------", "----", "------",
                "--------", "--------", "--------", "--------", "--------", "--------");
  }
  for (int pp : o.n_prompt) {
    for (int tg : o.n_gen) {
      for (int pl : o.n_parallel) {
        const engine::BatchedBenchCase test{pp, tg, pl, o.shared_prompt};
        if (test.n_kv() > o.n_kv_max) continue;  // as llama-batched-bench: cases that do not fit are left out
        auto r = engine::run_batched_bench(**runner, *cache, test);
        if (!r) return fail(r.error().message);
        if (md) {
          std::printf("|%6d | %6d | %4d | %6d | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |\n", pp, tg, pl,
                      test.n_kv(), r->t_pp, r->speed_pp, r->t_tg, r->speed_tg, r->t, r->speed);
        } else {
          nlohmann::ordered_json j = {
              {"n_kv_max", o.n_kv_max}, {"n_batch", o.n_batch},   {"n_ubatch", o.n_ubatch},
              {"flash_attn", o.flash_attn ? 1 : 0}, {"is_pp_shared", o.shared_prompt ? 1 : 0},
              {"n_gpu_layers", -1},     {"n_threads", threads},   {"n_threads_batch", threads},
              {"pp", pp},               {"tg", tg},               {"pl", pl},
              {"n_kv", test.n_kv()},    {"t_pp", r->t_pp},        {"speed_pp", r->speed_pp},
              {"t_tg", r->t_tg},        {"speed_tg", r->speed_tg}, {"t", r->t},
              {"speed", r->speed}};
          std::printf("%s\n", j.dump().c_str());
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace

void add_batched_bench_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<BatchedBenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "batched-bench", "Measure many sequences decoded together, as llama-batched-bench (-npp, -ntg, -npl, -pps)");
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: the bundled KJV model)");
  cmd->add_option("-c,--ctx-size", opt->n_kv_max, "KV cache size in tokens, for all sequences together (default 4096)");
  cmd->add_option("-b,--batch-size", opt->n_batch, "Most tokens per decode call (default 2048)");
  cmd->add_option("--ubatch-size", opt->n_ubatch, "Most tokens per forward pass (-ub, default 512)");
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)");
  cmd->add_flag("--flash-attn", opt->flash_attn, "Flash attention's online softmax (-fa)");
  add_cache_type_flags(cmd, opt->cache_types);
  cmd->add_flag("--pps", opt->shared_prompt, "One prompt shared by all sequences (-pps)");
  cmd->add_option("--npp", opt->n_prompt, "Prompt lengths, comma-separated (-npp, default 128,256,512)")->delimiter(',');
  cmd->add_option("--ntg", opt->n_gen, "Generation lengths, comma-separated (-ntg, default 128,256)")->delimiter(',');
  cmd->add_option("--npl", opt->n_parallel, "Parallel sequences, comma-separated (-npl, default 1,2,4,8,16,32)")
      ->delimiter(',');
  cmd->add_option("--output-format", opt->output, "md (a table) or jsonl (one JSON object per line)");
  cmd->add_flag("--deterministic", opt->deterministic,
                "Batch-invariant decoding: a sequence's logits do not depend on what shares its batch (slower "
                "prompts on models with fewer than 4 query heads per KV head)");
  cmd->callback([opt, &run_action] { run_action = [opt] { return run_batched_bench(*opt); }; });
}

}  // namespace cria::cli
