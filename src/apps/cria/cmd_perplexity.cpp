// `cria perplexity -m MODEL -f TEXT [-c N] [-b N] [-t N] [-fa]`: llama-perplexity's method and output.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "engine/perplexity.h"
#include "generation_options.h"
#include "llama_cpp_compat.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

struct PerplexityOptions {
  std::string model;
  std::string text_file;
  int ctx = 0;
  int batch = 512;
  int threads = 0;
  bool flash_attn = false;
  std::string save_logits;
  CacheTypeFlags cache_types;
  int chunks = -1;
};

int run_perplexity(const PerplexityOptions& opt) {
  if (opt.ctx < 0) return fail("-c must be positive, got " + std::to_string(opt.ctx));
  if (opt.batch < 1) return fail("-b must be positive, got " + std::to_string(opt.batch));
  if (std::string bad = check_thread_count(opt.threads, "-t"); !bad.empty()) return fail(bad);
  if (opt.chunks == 0 || opt.chunks < -1) return fail("--chunks must be -1 (all) or at least 1, got " + std::to_string(opt.chunks));
  auto types = cache_types(opt.cache_types);
  if (!types) return fail(types.error().message);
  const std::string path = opt.model.empty() ? default_model_path() : opt.model;
  auto loaded = load_model(path);
  if (!loaded) return fail(loaded.error().message);
  auto text = read_prompt("", opt.text_file, false);
  if (!text) return fail(text.error().message);
  // llama-perplexity's default context is 512; never more than the model was trained on unless asked.
  const int ctx = opt.ctx > 0 ? opt.ctx : static_cast<int>(std::min<uint32_t>(512, loaded->model->hparams().n_ctx_train));
  auto session = model::Session::create(loaded->model, {ctx, std::min(opt.batch, ctx), opt.threads, opt.flash_attn}, *types);
  if (!session) return fail(session.error().message);
  warn_past_training_context(*loaded->model, ctx);
  lock_memory_if_asked();

  auto tokens = loaded->tokenizer->encode(*text, /*add_special=*/true, /*parse_special=*/false);
  if (!logs_disabled()) std::fprintf(stderr, "perplexity: tokenized the text into %zu tokens\n", tokens.size());
  // --chunks N, as llama-perplexity: the first N chunks of the text (which must still hold two).
  size_t n_chunks = tokens.size() / static_cast<size_t>(ctx);
  if (opt.chunks > 0) n_chunks = std::min(n_chunks, static_cast<size_t>(opt.chunks));
  if (!logs_disabled()) {
    std::fprintf(stderr, "perplexity: calculating perplexity over %zu chunks, n_ctx=%d, batch_size=%d, n_seq=1, flash_attn = %d\n",
                 n_chunks, ctx, (*session)->n_batch(), (*session)->flash_attn() ? 1 : 0);
    print_kv_cache_size("perplexity", (*session)->cache());
  }
  auto print_chunk = [](int chunk, double ppl) {
    std::printf("[%d]%.4f,", chunk + 1, ppl);
    std::fflush(stdout);
  };
  // --save-logits: every scored position's logits as raw f32, so that two runs (builds, thread counts,
  // a pipeline over processes) can be compared byte for byte.
  std::FILE* logits_out = nullptr;
  if (!opt.save_logits.empty() && (logits_out = std::fopen(opt.save_logits.c_str(), "wb")) == nullptr) {
    return fail("--save-logits " + opt.save_logits + ": cannot open the file for writing");
  }
  const int64_t n_vocab = loaded->model->n_vocab();
  bool write_failed = false;
  engine::ScoredLogitsFn save;
  if (logits_out != nullptr) {
    save = [&](const float* logits) {
      write_failed |= std::fwrite(logits, sizeof(float), static_cast<size_t>(n_vocab), logits_out) != static_cast<size_t>(n_vocab);
    };
  }
  auto result = engine::perplexity(**session, tokens, loaded->tokenizer->bos(), print_chunk, save, opt.chunks);
  if (logits_out != nullptr && (std::fclose(logits_out) != 0 || write_failed)) {
    return fail("--save-logits " + opt.save_logits + ": the file could not be written whole");
  }
  if (!result) return fail(result.error().message);
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", result->ppl, result->ppl_error);
  return 0;
}

}  // namespace

void add_perplexity_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<PerplexityOptions>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text file (llama-perplexity's method)");
  cmd->add_option("-m,--model", opt->model, "GGUF model (default: the bundled KJV model)");
  cmd->add_option("-f,--file", opt->text_file, "Text file")->required();
  cmd->add_option("-c,--ctx-size", opt->ctx, "Tokens per chunk (default 512, at most the model's context)");
  cmd->add_option("-b,--batch-size", opt->batch, "Tokens per forward pass (default 512)");
  cmd->add_option("-t,--threads", opt->threads, "Threads (default: physical cores)");
  cmd->add_option("--chunks", opt->chunks, "Use at most this many chunks of the text; -1 all (default)");
  cmd->add_option("--save-logits", opt->save_logits, "Write the logits of every scored token to FILE (raw f32), to compare runs byte for byte");
  cmd->add_flag("--flash-attn", opt->flash_attn, "Flash attention (-fa [on|off|auto]): online softmax, f32 probabilities");
  add_cache_type_flags(cmd, opt->cache_types);
  cmd->callback([opt, &run] { run = [opt] { return run_perplexity(*opt); }; });
}

}  // namespace cria::cli
