#include "model/session.h"

#include <algorithm>
#include <string>

namespace cria::model {

int default_context_size(const ModelHparams& hp) {
  return std::max(1, static_cast<int>(std::min<uint32_t>(hp.n_ctx_train, 4096)));
}

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, SessionOptions options,
                                                 KvCacheTypes cache_types) {
  const auto& hp = model->hparams();
  int n_ctx = options.n_ctx;
  if (n_ctx < 0) return make_error("context size " + std::to_string(n_ctx) + " is negative");
  if (n_ctx == 0) n_ctx = default_context_size(hp);
  if (options.n_batch < 1) return make_error("batch size " + std::to_string(options.n_batch) + " must be at least 1");
  RunnerOptions runner_options;
  runner_options.n_batch = std::min(options.n_batch, n_ctx);
  runner_options.n_threads = options.n_threads;
  runner_options.max_keys = n_ctx;
  runner_options.flash_attn = options.flash_attn;
  runner_options.attention_kernel = options.attention_kernel;
  // The cache first: it is the larger allocation, and the runner's check then sees the memory it leaves.
  auto cache = KvCache::create(hp, n_ctx, 1, cache_types, model->held_layers());
  if (!cache) return cache.error();
  auto runner = Runner::create(model, runner_options);
  if (!runner) return runner.error();
  return std::unique_ptr<Session>(new Session(std::move(*runner), std::move(*cache)));
}

Status Session::decode(std::span<const int32_t> tokens, bool all_logits) {
  if (tokens.empty()) return make_error("decode: no tokens");
  const size_t n_batch = static_cast<size_t>(runner_->n_batch());
  if (all_logits && tokens.size() > n_batch) {
    return make_error("decode: " + std::to_string(tokens.size()) + " tokens with all logits exceed the batch size " +
                      std::to_string(n_batch));
  }
  if (n_past() + static_cast<int64_t>(tokens.size()) > n_ctx()) {
    return make_error("the context is full: " + std::to_string(n_past()) + " + " + std::to_string(tokens.size()) +
                      " tokens exceed the context size " + std::to_string(n_ctx()),
                      ErrorKind::kFull);
  }
  for (size_t start = 0; start < tokens.size(); start += n_batch) {
    const size_t n = std::min(n_batch, tokens.size() - start);
    batch_.clear();
    for (size_t i = 0; i < n; ++i) {
      const bool last = start + i + 1 == tokens.size();
      batch_.add(tokens[start + i], n_past() + static_cast<int32_t>(i), {0}, all_logits || last);
    }
    if (auto s = runner_->decode(batch_, cache_); !s) return s;
    all_logits_ = all_logits;
    last_ = static_cast<int>(n);
  }
  return Ok{};
}

}  // namespace cria::model
