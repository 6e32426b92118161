// The C API's running side: contexts (a Runner and the KvCache its sequences share), batches, decoding,
// logits, the KV sequence operations and samplers. See include/cria/cria.h for each contract.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "api/api_internal.h"
#include "model/session.h"

using cria::api::engine_status;
using cria::api::fail;
using cria::api::guarded;
using cria::api::invalid;

namespace {

constexpr int kMaxSequences = 65536;  // KvCache::create's limit

std::string number(int64_t v) { return std::to_string(v); }

// A token the sampler's vocabulary has, or the error for `function`.
cria_status check_token(const char* function, const cria_sampler* sampler, cria_token token) {
  if (sampler == nullptr) return invalid(function, "sampler is NULL");
  if (token < 0 || token >= sampler->n_vocab) {
    return invalid(function, "token id " + number(token) + " is outside the vocabulary (" +
                                 number(sampler->n_vocab) + ")");
  }
  return CRIA_OK;
}

}  // namespace

extern "C" {

cria_context_params cria_context_default_params(void) {
  cria_context_params p;
  p.n_ctx = 0;
  p.n_batch = 512;
  p.n_seq_max = 1;
  p.n_threads = 0;
  p.flash_attn = false;
  p.deterministic = false;
  p.type_k = nullptr;
  p.type_v = nullptr;
  return p;
}

cria_status cria_context_create(const cria_model* model, const cria_context_params* params, cria_context** out) {
  constexpr const char* fn = "cria_context_create";
  return guarded(fn, [&]() -> cria_status {
    if (out == nullptr) return invalid(fn, "out is NULL");
    *out = nullptr;
    if (model == nullptr) return invalid(fn, "model is NULL");
    const cria_context_params p = params != nullptr ? *params : cria_context_default_params();
    if (p.n_ctx < 0) return invalid(fn, "n_ctx " + number(p.n_ctx) + " is negative");
    if (p.n_batch < 0) return invalid(fn, "n_batch " + number(p.n_batch) + " is negative");
    if (p.n_threads < 0) return invalid(fn, "n_threads " + number(p.n_threads) + " is negative");
    if (p.n_seq_max < 0 || p.n_seq_max > kMaxSequences) {
      return invalid(fn, "n_seq_max " + number(p.n_seq_max) + " is not between 1 and " + number(kMaxSequences));
    }
    cria::model::KvCacheTypes types;
    for (auto [name, type] : {std::pair{p.type_k, &types.k}, std::pair{p.type_v, &types.v}}) {
      if (name == nullptr) continue;
      auto parsed = cria::model::parse_kv_cache_type(name);
      if (!parsed) return invalid(fn, std::string(type == &types.k ? "type_k: " : "type_v: ") + parsed.error().message);
      *type = *parsed;
    }
    const auto& hp = model->model->hparams();
    const int n_ctx = p.n_ctx > 0 ? p.n_ctx : cria::model::default_context_size(hp);
    cria::model::RunnerOptions ro;
    ro.n_batch = std::min(p.n_batch > 0 ? p.n_batch : 512, n_ctx);
    ro.n_threads = p.n_threads;
    ro.max_keys = n_ctx;
    ro.batch_invariant = p.deterministic;
    ro.flash_attn = p.flash_attn;
    auto runner = cria::model::Runner::create(model->model, ro);
    if (!runner) return invalid(fn, runner.error().message);
    auto cache = cria::model::KvCache::create(hp, n_ctx, std::max(1, p.n_seq_max), types, model->model->held_layers());
    if (!cache) {
      // A type the model's head size does not allow is the caller's; what else fails is the allocation.
      if (cache.error().message.find("cache type") != std::string::npos) return invalid(fn, cache.error().message);
      return fail(CRIA_ERROR_OUT_OF_MEMORY, std::string(fn) + ": " + cache.error().message);
    }
    *out = new cria_context{std::move(*runner), std::move(*cache)};
    return CRIA_OK;
  });
}

void cria_context_free(cria_context* ctx) { delete ctx; }

int32_t cria_n_ctx(const cria_context* ctx) {
  if (ctx == nullptr) return invalid("cria_n_ctx", "ctx is NULL"), -1;
  return ctx->cache.n_cells();
}

int32_t cria_n_batch(const cria_context* ctx) {
  if (ctx == nullptr) return invalid("cria_n_batch", "ctx is NULL"), -1;
  return ctx->runner->n_batch();
}

int32_t cria_n_seq_max(const cria_context* ctx) {
  if (ctx == nullptr) return invalid("cria_n_seq_max", "ctx is NULL"), -1;
  return ctx->cache.n_seq_max();
}

int32_t cria_n_threads(const cria_context* ctx) {
  if (ctx == nullptr) return invalid("cria_n_threads", "ctx is NULL"), -1;
  return ctx->runner->n_threads();
}

// ---- batches

cria_status cria_batch_create(cria_batch** out) {
  constexpr const char* fn = "cria_batch_create";
  return guarded(fn, [&]() -> cria_status {
    if (out == nullptr) return invalid(fn, "out is NULL");
    *out = new cria_batch{};
    return CRIA_OK;
  });
}

void cria_batch_free(cria_batch* batch) { delete batch; }

cria_status cria_batch_add(cria_batch* batch, cria_token token, cria_pos pos, const cria_seq_id* seq_ids, size_t n_seq,
                           bool logits) {
  constexpr const char* fn = "cria_batch_add";
  return guarded(fn, [&]() -> cria_status {
    if (batch == nullptr) return invalid(fn, "batch is NULL");
    if (seq_ids == nullptr || n_seq == 0) return invalid(fn, "a token must belong to at least one sequence");
    if (pos < 0) return invalid(fn, "position " + number(pos) + " is negative");
    // Token ids and sequence ids depend on the context: cria_decode checks them.
    batch->batch.add(token, pos, std::span<const int32_t>(seq_ids, n_seq), logits);
    return CRIA_OK;
  });
}

cria_status cria_batch_clear(cria_batch* batch) {
  if (batch == nullptr) return invalid("cria_batch_clear", "batch is NULL");
  batch->batch.clear();
  return CRIA_OK;
}

int32_t cria_batch_size(const cria_batch* batch) {
  if (batch == nullptr) return invalid("cria_batch_size", "batch is NULL"), -1;
  return batch->batch.size();
}

// ---- decoding

cria_status cria_decode(cria_context* ctx, const cria_batch* batch) {
  constexpr const char* fn = "cria_decode";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (batch == nullptr) return invalid(fn, "batch is NULL");
    if (auto s = ctx->runner->decode(batch->batch, ctx->cache); !s) return engine_status(s.error());
    ctx->last_batch_size = batch->batch.size();
    return CRIA_OK;
  });
}

const float* cria_get_logits(cria_context* ctx, int32_t i) {
  constexpr const char* fn = "cria_get_logits";
  const float* result = nullptr;
  (void)guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    const int n = ctx->last_batch_size;
    if (n == 0) return invalid(fn, "no batch has been decoded");
    const int index = i < 0 ? n + i : i;
    if (index < 0 || index >= n) return invalid(fn, "token " + number(i) + " is outside the last batch of " + number(n));
    result = ctx->runner->logits(index);
    if (result == nullptr) return invalid(fn, "batch token " + number(index) + " did not ask for logits");
    return CRIA_OK;
  });
  return result;
}

// ---- KV cache

cria_status cria_kv_seq_rm(cria_context* ctx, cria_seq_id seq, cria_pos p0, cria_pos p1) {
  constexpr const char* fn = "cria_kv_seq_rm";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (seq >= ctx->cache.n_seq_max()) return engine_status(ctx->cache.check_seq(seq).error());
    if (auto s = ctx->cache.seq_rm(seq, p0, p1); !s) return engine_status(s.error());
    return CRIA_OK;
  });
}

cria_status cria_kv_seq_cp(cria_context* ctx, cria_seq_id src, cria_seq_id dst, cria_pos p0, cria_pos p1) {
  constexpr const char* fn = "cria_kv_seq_cp";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (auto s = ctx->cache.seq_cp(src, dst, p0, p1); !s) return engine_status(s.error());
    return CRIA_OK;
  });
}

cria_status cria_kv_seq_keep(cria_context* ctx, cria_seq_id seq) {
  constexpr const char* fn = "cria_kv_seq_keep";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (auto s = ctx->cache.seq_keep(seq); !s) return engine_status(s.error());
    return CRIA_OK;
  });
}

cria_status cria_kv_clear(cria_context* ctx) {
  if (ctx == nullptr) return invalid("cria_kv_clear", "ctx is NULL");
  ctx->cache.clear();
  return CRIA_OK;
}

cria_status cria_kv_seq_add(cria_context* ctx, cria_seq_id seq, cria_pos p0, cria_pos p1, cria_pos delta) {
  constexpr const char* fn = "cria_kv_seq_add";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (auto s = ctx->cache.seq_add(seq, p0, p1, delta); !s) return engine_status(s.error());
    return CRIA_OK;
  });
}

cria_status cria_kv_seq_pos_max(const cria_context* ctx, cria_seq_id seq, cria_pos* out) {
  constexpr const char* fn = "cria_kv_seq_pos_max";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (out == nullptr) return invalid(fn, "out is NULL");
    if (auto s = ctx->cache.check_seq(seq); !s) return engine_status(s.error());
    *out = ctx->cache.seq_pos_max(seq);
    return CRIA_OK;
  });
}

int32_t cria_kv_n_available(const cria_context* ctx) {
  if (ctx == nullptr) return invalid("cria_kv_n_available", "ctx is NULL"), -1;
  return ctx->cache.n_available();
}

cria_status cria_kv_seq_retain(cria_context* ctx, cria_seq_id seq) {
  constexpr const char* fn = "cria_kv_seq_retain";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (auto s = ctx->cache.retain(seq); !s) return engine_status(s.error());
    return CRIA_OK;
  });
}

cria_status cria_kv_seq_reuse_prefix(cria_context* ctx, cria_seq_id seq, const cria_token* tokens, size_t n_tokens,
                                     int32_t* n_reused) {
  constexpr const char* fn = "cria_kv_seq_reuse_prefix";
  return guarded(fn, [&]() -> cria_status {
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (n_reused == nullptr) return invalid(fn, "n_reused is NULL");
    *n_reused = 0;
    if (tokens == nullptr && n_tokens > 0) return invalid(fn, "tokens is NULL");
    auto n = ctx->cache.reuse_prefix(seq, std::span<const int32_t>(tokens, n_tokens));
    if (!n) return engine_status(n.error());
    *n_reused = *n;
    return CRIA_OK;
  });
}

// ---- samplers

cria_sampler_params cria_sampler_default_params(void) {
  const cria::sampling::SamplingParams d;
  cria_sampler_params p;
  p.temp = d.temp;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.repeat_last_n = d.repeat_last_n;
  p.presence_penalty = d.presence_penalty;
  p.frequency_penalty = d.frequency_penalty;
  p.seed = d.seed;
  return p;
}

cria_status cria_sampler_create(const cria_context* ctx, const cria_sampler_params* params, cria_sampler** out) {
  constexpr const char* fn = "cria_sampler_create";
  return guarded(fn, [&]() -> cria_status {
    if (out == nullptr) return invalid(fn, "out is NULL");
    *out = nullptr;
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    const cria_sampler_params p = params != nullptr ? *params : cria_sampler_default_params();
    for (float v : {p.temp, p.top_p, p.min_p, p.repeat_penalty, p.presence_penalty, p.frequency_penalty}) {
      if (!std::isfinite(v)) return invalid(fn, "a sampling parameter is not a finite number");
    }
    if (p.repeat_last_n < -1) return invalid(fn, "repeat_last_n " + number(p.repeat_last_n) + " is below -1");
    cria::sampling::SamplingParams sp;
    sp.temp = p.temp;
    sp.top_k = p.top_k;
    sp.top_p = p.top_p;
    sp.min_p = p.min_p;
    sp.repeat_penalty = p.repeat_penalty;
    sp.repeat_last_n = p.repeat_last_n;
    sp.presence_penalty = p.presence_penalty;
    sp.frequency_penalty = p.frequency_penalty;
    sp.seed = p.seed;
    const int64_t n_vocab = ctx->runner->n_vocab();
    *out = new cria_sampler{cria::sampling::Sampler(sp, n_vocab, ctx->cache.n_cells()), n_vocab};
    return CRIA_OK;
  });
}

void cria_sampler_free(cria_sampler* sampler) { delete sampler; }

cria_status cria_sampler_sample(cria_sampler* sampler, cria_context* ctx, int32_t i, cria_token* out) {
  constexpr const char* fn = "cria_sampler_sample";
  return guarded(fn, [&]() -> cria_status {
    if (sampler == nullptr) return invalid(fn, "sampler is NULL");
    if (ctx == nullptr) return invalid(fn, "ctx is NULL");
    if (out == nullptr) return invalid(fn, "out is NULL");
    if (ctx->runner->n_vocab() != sampler->n_vocab) {
      return invalid(fn, "the sampler was made for a vocabulary of " + number(sampler->n_vocab) +
                             " tokens, the context's model has " + number(ctx->runner->n_vocab()));
    }
    const float* logits = cria_get_logits(ctx, i);
    if (logits == nullptr) return CRIA_ERROR_INVALID_ARGUMENT;  // cria_get_logits set the message
    *out = sampler->sampler.sample(logits);
    return CRIA_OK;
  });
}

cria_status cria_sampler_accept(cria_sampler* sampler, cria_token token) {
  constexpr const char* fn = "cria_sampler_accept";
  return guarded(fn, [&]() -> cria_status {
    if (auto bad = check_token(fn, sampler, token); bad != CRIA_OK) return bad;
    sampler->sampler.accept(token);
    return CRIA_OK;
  });
}

cria_status cria_sampler_reset(cria_sampler* sampler) {
  if (sampler == nullptr) return invalid("cria_sampler_reset", "sampler is NULL");
  sampler->sampler.reset();
  return CRIA_OK;
}

cria_status cria_sampler_ban(cria_sampler* sampler, cria_token token) {
  constexpr const char* fn = "cria_sampler_ban";
  return guarded(fn, [&]() -> cria_status {
    if (auto bad = check_token(fn, sampler, token); bad != CRIA_OK) return bad;
    sampler->sampler.ban(token);
    return CRIA_OK;
  });
}

uint32_t cria_sampler_seed(const cria_sampler* sampler) {
  if (sampler == nullptr) return invalid("cria_sampler_seed", "sampler is NULL"), 0;
  return sampler->sampler.seed();
}

}  // extern "C"
