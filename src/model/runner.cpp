// The decoder forward pass (FORMATS.md 5.3), written as the paper reads: for each layer, norm, project,
// rope, attend, add, norm, gate, project, add. The architecture's description (model/architecture.h)
// switches the optional steps on: Q/K norms, post-norms, soft-caps, sliding windows, experts. Numerics
// follow llama.cpp's CPU backend where they decide tokens: activations quantized per weight type
// (ops::matmul), K/V stored as f16 (or the cache's -ctk/-ctv types), Q and the softmax probabilities
// rounded to f16 for the two attention products.
#include "model/runner.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/memory_budget.h"

namespace cria::model {

Result<std::unique_ptr<Runner>> Runner::create(std::shared_ptr<const Model> model, RunnerOptions options) {
  if (options.n_batch < 1) return make_error("batch size " + std::to_string(options.n_batch) + " must be at least 1");
  if (options.n_threads < 0) return make_error("thread count " + std::to_string(options.n_threads) + " is negative");
  if (options.max_keys < 1) return make_error("context size " + std::to_string(options.max_keys) + " must be at least 1");
  if (options.n_threads > ThreadPool::kMaxThreads) {
    return make_error("thread count " + std::to_string(options.n_threads) + " is above the limit of " +
                      std::to_string(ThreadPool::kMaxThreads));
  }
  const LayerRange held = model->held_layers();
  if ((held.begin != 0 || !model->holds_output()) && model->pipeline() == nullptr) {
    return make_error("a model bound to layers " + held.text() + " of " + std::to_string(model->hparams().n_layer) +
                      " runs only as a pipeline stage");
  }
  const int n_threads = options.n_threads == 0 ? ThreadPool::physical_cores() : options.n_threads;
  if (auto s = check_memory(work_bytes(*model, options, n_threads),
                            "work buffers for a batch of " + std::to_string(options.n_batch) + " tokens and a context of " +
                                std::to_string(options.max_keys),
                            "lower the batch size -b or the context size -c");
      !s) {
    return s.error();
  }
  return std::unique_ptr<Runner>(new Runner(std::move(model), options, n_threads));
}

// About what the constructor allocates (its largest buffers), checked before it does.
uint64_t Runner::work_bytes(const Model& model, const RunnerOptions& options, int n_threads) {
  const auto& hp = model.hparams();
  const uint64_t hd = hp.head_dim, b = static_cast<uint64_t>(options.n_batch);
  const uint64_t n_q = *std::max_element(hp.n_head.begin(), hp.n_head.end()) * hd;
  const uint64_t n_kv = *std::max_element(hp.n_head_kv.begin(), hp.n_head_kv.end()) * hd;
  const uint64_t n_ff = std::max<uint64_t>(*std::max_element(hp.n_ff.begin(), hp.n_ff.end()),
                                           static_cast<uint64_t>(hp.n_ff_exp) * std::max(1u, hp.n_expert_used));
  const uint64_t per_token = 3 * hp.n_embd + 2 * n_q + 2 * n_kv + 2 * n_ff + static_cast<uint64_t>(model.n_vocab()) +
                             2 * hp.n_rot + static_cast<uint64_t>(hp.n_expert_used + 1) * hp.n_embd;
  const uint64_t attention = static_cast<uint64_t>(n_threads) *
                             ops::attention_scratch_floats(static_cast<int>(hd), options.max_keys);
  return (b * per_token + attention) * sizeof(float);
}

Runner::Runner(std::shared_ptr<const Model> model, const RunnerOptions& options, int n_threads)
    : model_(std::move(model)),
      n_batch_(options.n_batch),
      max_keys_(options.max_keys),
      flash_attn_(options.flash_attn),
      batch_invariant_(options.batch_invariant),
      attention_kernel_(options.attention_kernel),
      pool_(n_threads),
      link_(model_->pipeline()) {
  const auto& hp = model_->hparams();
  const int64_t hd = hp.head_dim;
  // Layers may differ in head counts: every buffer is sized for the largest.
  const int64_t n_q = static_cast<int64_t>(*std::max_element(hp.n_head.begin(), hp.n_head.end())) * hd;
  const int64_t n_kv = static_cast<int64_t>(*std::max_element(hp.n_head_kv.begin(), hp.n_head_kv.end())) * hd;
  const int64_t n_ff = *std::max_element(hp.n_ff.begin(), hp.n_ff.end());
  const size_t b = static_cast<size_t>(n_batch_);
  x_.resize(b * hp.n_embd);
  h_.resize(b * std::max<int64_t>(hp.n_embd, n_q));
  q_.resize(b * n_q);
  k_.resize(b * n_kv);
  v_.resize(b * n_kv);
  attn_.resize(b * n_q);
  gate_.resize(b * n_ff);
  up_.resize(b * n_ff);
  // Logits: on the stage that computes them and on the first, which receives them.
  if (link_ == nullptr || link_->first() || model_->holds_output()) logits_.resize(b * model_->n_vocab());
  rope_cos_.resize(b * hp.n_rot / 2);
  rope_sin_.resize(b * hp.n_rot / 2);
  rope_cos_local_.resize(b * hp.n_rot / 2);
  rope_sin_local_.resize(b * hp.n_rot / 2);
  first_key_.resize(b);
  if (hp.n_expert > 0) {
    const size_t k = hp.n_expert_used;
    moe_in_.resize(b * hp.n_embd);
    router_logits_.resize(b * hp.n_expert);
    slot_weight_.resize(b * k);
    slot_expert_.resize(b * k);
    slot_row_.resize(b * k);
    // One output row per (token, slot), and per token for the shared expert.
    expert_out_.resize(b * (k + (hp.n_ff_shexp > 0 ? 1 : 0)) * hp.n_embd);
    expert_routes_.resize(hp.n_expert);
    for (auto& routes : expert_routes_) routes.reserve(b);
    expert_runs_.reserve(hp.n_expert + 1);
    expert_jobs_.reserve(2 * (hp.n_expert + 1));
    // Room for n_batch tokens of one expert, and for one token's chosen and shared experts together.
    const size_t n_ff_moe = std::max({b * hp.n_ff_exp, b * hp.n_ff_shexp, k * hp.n_ff_exp + hp.n_ff_shexp});
    if (gate_.size() < n_ff_moe) {
      gate_.resize(n_ff_moe);
      up_.resize(n_ff_moe);
    }
  }
  cells_.reserve(b);
  segments_.reserve(b);
  output_tokens_.reserve(b);
  logits_row_.reserve(b);
  swiglu_ = ops::swiglu_kernel(model_->isa());
  activation_ = hp.desc->activation == Activation::Gelu ? ops::geglu_kernel(model_->isa()) : swiglu_;
  softcap_ = ops::softcap_kernel(model_->isa());
  rotate_ = hp.desc->rope == RopeStyle::Neox ? ops::rope_neox : ops::rope_norm;
  attention_scratch_.resize(static_cast<size_t>(pool_.size()) *
                            ops::attention_scratch_floats(static_cast<int>(hd), max_keys_));
  // Over every layer, not only the held ones: each stage must cut a pass into the same micro-batches.
  for (uint32_t l = 0; l < hp.n_layer; ++l) {
    const int g = ops::attention_cut_granule(static_cast<int>(hp.n_head[l]), static_cast<int>(hp.n_head_kv[l]),
                                             batch_invariant_);
    cut_granule_ = std::lcm(cut_granule_, g);
  }
  micro_.reserve(b);
  micro_segments_.reserve(2 * b);
}

const float* Runner::logits(int i) const {
  if (i < 0 || i >= static_cast<int>(logits_row_.size()) || logits_row_[static_cast<size_t>(i)] < 0) return nullptr;
  return logits_.data() + static_cast<size_t>(logits_row_[static_cast<size_t>(i)]) * model_->n_vocab();
}

Status Runner::check(const Batch& batch, const KvCache& cache) {
  if (batch.empty()) return make_error("decode: the batch has no tokens");
  const LayerRange held = model_->held_layers(), cached = cache.layers();
  if (cached.begin > held.begin || cached.end < held.end) {
    return make_error("decode: the KV cache holds layers " + cached.text() + ", not all of this model's " +
                      held.text());
  }
  if (link_ != nullptr && link_->first() && !cache.journaling()) {
    return make_error("decode: a pipeline's first stage needs a cache of its own layers (KvCache::create with "
                      "the model's held_layers()), which records what the other stages must repeat");
  }
  if (batch.size() > n_batch_) {
    return make_error("decode: " + std::to_string(batch.size()) + " tokens exceed the batch size " +
                      std::to_string(n_batch_));
  }
  // Each touched sequence's next free position and length, indexed by sequence id; a stamp marks the
  // entries this call has set, so nothing is cleared or allocated per call once the vectors have grown.
  const size_t n_seq = static_cast<size_t>(cache.n_seq_max());
  if (seq_stamp_.size() < n_seq) {
    seq_stamp_.resize(n_seq, 0);
    seq_next_.resize(n_seq);
    seq_length_.resize(n_seq);
  }
  ++stamp_;
  for (int i = 0; i < batch.size(); ++i) {
    const int32_t token = batch.token(i), pos = batch.pos(i);
    const auto seqs = batch.seqs(i);
    auto where = [i] { return "decode: batch token " + std::to_string(i); };
    if (token < 0 || token >= model_->n_vocab()) {
      return make_error(where() + ": token id " + std::to_string(token) + " is outside the vocabulary (" +
                        std::to_string(model_->n_vocab()) + ")");
    }
    if (seqs.empty()) return make_error(where() + " belongs to no sequence");
    for (size_t j = 0; j < seqs.size(); ++j) {
      const int32_t seq = seqs[j];
      if (auto s = cache.check_seq(seq); !s) return make_error(where() + ": " + s.error().message);
      if (std::find(seqs.begin(), seqs.begin() + static_cast<std::ptrdiff_t>(j), seq) !=
          seqs.begin() + static_cast<std::ptrdiff_t>(j)) {
        return make_error(where() + " lists sequence " + std::to_string(seq) + " twice");
      }
      const size_t k = static_cast<size_t>(seq);
      if (seq_stamp_[k] != stamp_) {
        seq_stamp_[k] = stamp_;
        seq_next_[k] = cache.seq_pos_max(seq) + int64_t{1};
        seq_length_[k] = cache.seq_length(seq);
      }
      if (pos < seq_next_[k]) {
        return make_error(where() + ": position " + std::to_string(pos) + " of sequence " + std::to_string(seq) +
                          " is not after its previous position " + std::to_string(seq_next_[k] - 1));
      }
      seq_next_[k] = int64_t{pos} + 1;
      if (++seq_length_[k] > max_keys_) {
        return make_error("the context is full: sequence " + std::to_string(seq) + " would hold more than " +
                          std::to_string(max_keys_) + " tokens",
                      ErrorKind::kFull);
      }
    }
  }
  if (batch.size() > cache.n_available()) {
    return make_error("the KV cache is full: the batch needs " + std::to_string(batch.size()) + " cells and " +
                      std::to_string(cache.n_available()) + " of " + std::to_string(cache.n_cells()) +
                      " are free",
                      ErrorKind::kFull);
  }
  return Ok{};
}

Status Runner::decode(const Batch& batch, KvCache& cache) {
  if (auto s = check(batch, cache); !s) return s;
  if (link_ != nullptr && link_->first()) announce(batch, cache);
  apply_shift(cache);
  place(batch, cache);
  forward(batch, cache);
  return Ok{};
}

// Stage 0 of a pipeline tells the other stages what to mirror: this runner's options, the cache (its
// geometry, and the sequence operations made on it since the last pass) and the batch.
void Runner::announce(const Batch& batch, KvCache& cache) {
  PassHeader h;
  h.cache_uid = cache.uid();
  h.n_cells = cache.n_cells();
  h.n_seq_max = cache.n_seq_max();
  h.k_type = static_cast<int32_t>(cache.types().k);
  h.v_type = static_cast<int32_t>(cache.types().v);
  h.n_batch = n_batch_;
  h.n_threads = pool_.size();
  h.max_keys = max_keys_;
  h.flash_attn = flash_attn_;
  h.batch_invariant = batch_invariant_;
  const std::vector<int32_t> journal = cache.take_journal();
  link_->announce(h, journal, batch);
}

// Gives every token its cell and cuts the batch into attention segments.
void Runner::place(const Batch& batch, KvCache& cache) {
  last_batch_size_ = batch.size();
  cells_.clear();
  segments_.clear();
  output_tokens_.clear();
  logits_row_.assign(static_cast<size_t>(batch.size()), -1);
  for (int i = 0; i < batch.size(); ++i) {
    const int32_t seq = batch.seqs(i)[0];  // attention runs over the first sequence's keys, as in llama.cpp
    const int key = cache.seq_length(seq);
    cells_.push_back(cache.append(batch.seqs(i), batch.token(i), batch.pos(i)));
    if (!segments_.empty() && batch.seqs(i - 1)[0] == seq) {
      ++segments_.back().n_tokens;
    } else {
      segments_.push_back({nullptr, i, 1, key});
    }
    if (batch.wants_logits(i)) {
      logits_row_[static_cast<size_t>(i)] = static_cast<int32_t>(output_tokens_.size());
      output_tokens_.push_back(i);
    }
  }
  // The lists stop growing once every token is placed.
  for (auto& segment : segments_) segment.cells = cache.seq_cells(batch.seqs(segment.t0)[0]).data();
  plan_micro_batches();
}

// Outside a pipeline, the batch is one micro-batch. In one, a batch of at least 2 x kMinTokens tokens is
// cut into up to two micro-batches per stage, so that while stage i works on micro-batch b stage i + 1
// works on b - 1. Smaller micro-batches would read each weight more often for little overlap: generation
// steps of a few sequences stay whole. Cuts fall between segments, or inside one where
// ops::attention_cut_granule allows, so every token's logits are bitwise those of the whole batch.
void Runner::plan_micro_batches() {
  constexpr int kMinTokens = 32;
  const int n = last_batch_size_;
  micro_.clear();
  micro_segments_.clear();
  const int wanted = link_ == nullptr ? 1 : std::clamp(n / kMinTokens, 1, 2 * link_->n_stages());
  // The cuts closest to even shares, taken from the allowed ones in token order.
  std::vector<int>& cuts = cuts_;
  cuts.clear();
  if (wanted > 1) {
    std::vector<int>& allowed = allowed_cuts_;
    allowed.clear();
    for (const auto& seg : segments_) {
      if (seg.t0 > 0) allowed.push_back(seg.t0);
      for (int o = cut_granule_; seg.n_tokens - o >= cut_granule_; o += cut_granule_) allowed.push_back(seg.t0 + o);
    }
    for (int k = 1; k < wanted && !allowed.empty(); ++k) {
      const int ideal = static_cast<int>(static_cast<int64_t>(n) * k / wanted);
      auto it = std::lower_bound(allowed.begin(), allowed.end(), ideal);
      if (it == allowed.end() || (it != allowed.begin() && ideal - *(it - 1) < *it - ideal)) --it;
      if (cuts.empty() || *it > cuts.back()) cuts.push_back(*it);
    }
  }
  cuts.push_back(n);
  int t0 = 0;
  size_t seg = 0, out = 0;
  for (int cut : cuts) {
    MicroBatch mb{t0, cut - t0, micro_segments_.size(), 0, static_cast<int>(out), 0};
    // The segments' parts inside [t0, cut).
    for (; seg < segments_.size(); ++seg) {
      const ops::AttentionSegment& s = segments_[seg];
      const int begin = std::max(s.t0, t0), end = std::min(s.t0 + s.n_tokens, cut);
      if (begin < end) micro_segments_.push_back({s.cells, begin, end - begin, s.n_past + (begin - s.t0)});
      if (s.t0 + s.n_tokens > cut) break;  // continues in the next micro-batch
    }
    mb.seg_end = micro_segments_.size();
    while (out < output_tokens_.size() && output_tokens_[out] < cut) ++out;
    mb.out_end = static_cast<int>(out);
    micro_.push_back(mb);
    t0 = cut;
  }
}

// Rotates the keys of shifted cells by their shift (RoPE angles add up), as llama.cpp's K-shift, with
// each layer's own base and pairing.
void Runner::apply_shift(KvCache& cache) {
  if (!cache.pending_shift()) return;
  const auto& hp = model_->hparams();
  const int64_t row = cache.row_elements();
  const TypeTraits& type = traits(cache.types().k);
  for (int32_t cell = 0; cell < cache.n_cells(); ++cell) {
    if (cache.shift(cell) == 0) continue;
    const LayerRange held = model_->held_layers();
    for (size_t l = held.begin; l < held.end; ++l) {
      if (l == held.begin || hp.own_rope(l) != hp.own_rope(l - 1)) {
        ops::rope_cos_sin(rope_config(hp.own_rope(l), 1.0f), cache.shift(cell), rope_cos_.data(), rope_sin_.data());
      }
      // Decoded, rotated and stored again (a quantized cache quantizes the rotated keys anew).
      uint8_t* k = cache.k(static_cast<int>(l)) + static_cast<size_t>(cell) * cache.k_row_bytes();
      type.dequantize(k, h_.data(), row);
      rotate_(h_.data(), static_cast<int>(hp.n_head_kv[l]), static_cast<int>(hp.head_dim), static_cast<int>(hp.n_rot),
              rope_cos_.data(), rope_sin_.data());
      type.quantize(h_.data(), k, row);
    }
  }
  cache.shift_applied();
}

bool Runner::final_hidden(int i, float* out) const {
  if (i < 0 || i >= last_batch_size_ || link_ != nullptr) return false;  // in a pipeline, the last stage has it
  const auto& hp = model_->hparams();
  ops::rmsnorm(&x_[static_cast<size_t>(i) * hp.n_embd], model_->output_norm().data(), out, hp.n_embd, hp.rms_eps);
  return true;
}

void Runner::forward(const Batch& batch, KvCache& cache) {
  rope_tables(batch);
  sliding_windows(batch, cache);
  const LayerRange held = model_->held_layers();
  for (size_t m = 0; m < micro_.size(); ++m) {
    take_input(batch, m);  // the token embeddings, or the rows the stage before made
    for (int l = static_cast<int>(held.begin); l < static_cast<int>(held.end); ++l) {
      attention_block(l, micro_[m], cache);
      ffn_block(l, micro_[m]);
      if (link_ != nullptr) link_->progress();  // moves the sends under way along while this stage computes
    }
    hand_on(m);  // the logits, or the rows for the stage after
  }
  finish_pass();
}

void Runner::take_input(const Batch& batch, size_t m) {
  const MicroBatch& mb = micro_[m];
  const size_t n_embd = model_->hparams().n_embd;
  if (link_ == nullptr || link_->first()) {
    embed_tokens(batch, mb);
  } else {
    link_->receive_hidden(static_cast<int>(m), {&x_[mb.t0 * n_embd], mb.n_tokens * n_embd});
  }
}

void Runner::hand_on(size_t m) {
  const MicroBatch& mb = micro_[m];
  const size_t n_embd = model_->hparams().n_embd, n_vocab = static_cast<size_t>(model_->n_vocab());
  if (link_ == nullptr || link_->last()) {
    output_logits(mb);
    if (link_ != nullptr && mb.out_end > mb.out_begin) {
      link_->send_logits(static_cast<int>(m), {&logits_[mb.out_begin * n_vocab], (mb.out_end - mb.out_begin) * n_vocab});
    }
  } else {
    link_->send_hidden(static_cast<int>(m), {&x_[mb.t0 * n_embd], mb.n_tokens * n_embd});
  }
}

// Stage 0 of a pipeline collects the logits the last stage made; every stage waits for its sends.
void Runner::finish_pass() {
  if (link_ == nullptr) return;
  const size_t n_vocab = static_cast<size_t>(model_->n_vocab());
  if (link_->first()) {
    for (size_t m = 0; m < micro_.size(); ++m) {
      const MicroBatch& mb = micro_[m];
      if (mb.out_end > mb.out_begin) {
        link_->receive_logits(static_cast<int>(m), {&logits_[mb.out_begin * n_vocab], (mb.out_end - mb.out_begin) * n_vocab});
      }
    }
  }
  link_->finish();
}

// Token embeddings: rows of token_embd decoded exactly, times sqrt(n_embd) where the architecture says.
void Runner::embed_tokens(const Batch& batch, const MicroBatch& mb) {
  const Model& m = *model_;
  const int64_t n_embd = m.hparams().n_embd;
  const auto& embd = m.token_embd();
  for (int t = mb.t0; t < mb.t0 + mb.n_tokens; ++t) {
    embd.traits().dequantize(embd.data + static_cast<size_t>(batch.token(t)) * embd.row_bytes(), &x_[t * n_embd],
                             n_embd);
  }
  if (m.hparams().desc->embedding_scale) {
    const float scale = std::sqrt(static_cast<float>(n_embd));
    for (int64_t i = mb.t0 * n_embd; i < (mb.t0 + mb.n_tokens) * n_embd; ++i) x_[i] *= scale;
  }
}

// The RoPE of layers with the model's base (own = false), or of the sliding layers with their own.
ops::RopeConfig Runner::rope_config(bool own, float attn_factor) const {
  const auto& hp = model_->hparams();
  const auto& factors = model_->rope_freq_factors(max_keys_);
  return {static_cast<int>(hp.n_rot), own ? hp.desc->sliding_rope_base : hp.rope_freq_base,
          own ? 1.0f : hp.rope_freq_scale, attn_factor, factors.empty() ? nullptr : factors.data()};
}

// RoPE angles for each token's position: with the model's base, and with the sliding layers' own.
void Runner::rope_tables(const Batch& batch) {
  const auto& hp = model_->hparams();
  const int half_rot = static_cast<int>(hp.n_rot / 2);
  const ops::RopeConfig rope = rope_config(false, hp.rope_attn_factor);
  const ops::RopeConfig local = rope_config(true, hp.rope_attn_factor);
  const bool any_local = hp.desc->sliding_rope_base > 0 && !hp.sliding.empty();
  for (int t = 0; t < batch.size(); ++t) {
    ops::rope_cos_sin(rope, batch.pos(t), &rope_cos_[t * half_rot], &rope_sin_[t * half_rot]);
    if (any_local) ops::rope_cos_sin(local, batch.pos(t), &rope_cos_local_[t * half_rot], &rope_sin_local_[t * half_rot]);
  }
}

// For sliding-window layers: the first key of its sequence each token sees, the oldest key whose position
// is within n_swa of the token's (llama.cpp masks a key when pos - key_pos >= n_swa).
void Runner::sliding_windows(const Batch& batch, const KvCache& cache) {
  const auto& hp = model_->hparams();
  if (hp.sliding.empty()) return;
  for (const auto& seg : segments_) {
    const int32_t* cells = seg.cells;
    for (int i = 0; i < seg.n_tokens; ++i) {
      const int t = seg.t0 + i;
      const int64_t oldest = int64_t{batch.pos(t)} - hp.n_swa + 1;
      // Positions rise along the key list: binary search over keys 0 .. n_past + i.
      int lo = 0, hi = seg.n_past + i;
      while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (cache.cell_pos(cells[mid]) < oldest) lo = mid + 1; else hi = mid;
      }
      first_key_[static_cast<size_t>(t)] = lo;
    }
  }
}

// Input rows RMSNorm(x_[t]) * weight, made inside the matmul they feed (ops::RowFn).
static ops::RowFn rmsnorm_rows(const float* x, const float* weight, const int32_t* tokens, int64_t n_embd, float eps) {
  return [x, weight, tokens, n_embd, eps](int64_t t, float* buf) -> const float* {
    const int64_t row = tokens == nullptr ? t : tokens[t];
    ops::rmsnorm(&x[row * n_embd], weight, buf, n_embd, eps);
    return buf;
  };
}

static void add_bias(float* y, const std::vector<float>& bias, int n_tokens) {
  if (bias.empty()) return;
  const size_t n = bias.size();
  for (int t = 0; t < n_tokens; ++t) {
    for (size_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
  }
}

// out = RMSNorm(out) * weight per token (Gemma's post-norms), in place.
static void rmsnorm_in_place(float* rows, const std::vector<float>& weight, int n_tokens, float eps) {
  const int64_t n = static_cast<int64_t>(weight.size());
  for (int t = 0; t < n_tokens; ++t) ops::rmsnorm(rows + t * n, weight.data(), rows + t * n, n, eps);
}

// Attention block: norm, project, (Q/K norm), rope, store K/V, attend, project, (post-norm), add.
void Runner::attention_block(int l, const MicroBatch& mb, KvCache& cache) {
  const Model& m = *model_;
  const auto& hp = m.hparams();
  const Layer& layer = m.layers()[static_cast<size_t>(l)];
  const int n_head = static_cast<int>(hp.n_head[l]), n_head_kv = static_cast<int>(hp.n_head_kv[l]);
  const int hd = static_cast<int>(hp.head_dim);
  const int64_t n_embd = hp.n_embd, q_row = layer.wq.n_out, kv_row = layer.wk.n_out;
  const QuantizeRowFn store_k = traits(cache.types().k).quantize, store_v = traits(cache.types().v).quantize;
  // The micro-batch's rows of the batch-sized buffers.
  const int t0 = mb.t0, n_tokens = mb.n_tokens, t1 = t0 + n_tokens;
  float* x = &x_[t0 * n_embd];
  float* h = &h_[t0 * n_embd];

  const ops::Matrix* qkv[] = {&layer.wq, &layer.wk, &layer.wv};
  float* qkv_out[] = {&q_[t0 * q_row], &k_[t0 * kv_row], &v_[t0 * kv_row]};
  ops::matmul_shared_input(qkv, rmsnorm_rows(x, layer.attn_norm.data(), nullptr, n_embd, hp.rms_eps), n_tokens,
                           qkv_out, scratch_, pool_);
  add_bias(qkv_out[0], layer.bq, n_tokens);
  add_bias(qkv_out[1], layer.bk, n_tokens);
  add_bias(qkv_out[2], layer.bv, n_tokens);
  for (int t = t0; t < t1; ++t) {
    float* q = &q_[t * q_row];
    float* k = &k_[t * kv_row];
    if (hp.desc->qk_norm) {
      for (int hh = 0; hh < n_head; ++hh) ops::rmsnorm(q + hh * hd, layer.attn_q_norm.data(), q + hh * hd, hd, hp.rms_eps);
      for (int hh = 0; hh < n_head_kv; ++hh) ops::rmsnorm(k + hh * hd, layer.attn_k_norm.data(), k + hh * hd, hd, hp.rms_eps);
    }
    rope_rows(l, q, n_head, t);
    rope_rows(l, k, n_head_kv, t);
    if (hp.desc->query_scale == QueryScale::OnQueries) {
      for (int64_t i = 0; i < q_row; ++i) q[i] *= hp.query_scale;  // as llama.cpp does for Gemma and Phi-3
    }
    // Store K and V in the token's cache cell in the cache's types (f16: rounded to nearest even).
    const auto cell = static_cast<size_t>(cells_[static_cast<size_t>(t)]);
    store_k(k, cache.k(l) + cell * cache.k_row_bytes(), kv_row);
    store_v(&v_[t * kv_row], cache.v(l) + cell * cache.v_row_bytes(), kv_row);
  }
  attention(l, mb, cache);
  ops::matmul(layer.wo, &attn_[t0 * q_row], n_tokens, h, scratch_, pool_);
  add_bias(h, layer.bo, n_tokens);
  if (!layer.post_attn_norm.empty()) rmsnorm_in_place(h, layer.post_attn_norm, n_tokens, hp.rms_eps);
  for (int64_t i = 0; i < n_tokens * n_embd; ++i) x[i] += h[i];
}

// Rotates token t's n_heads head vectors in `rows` with the layer's RoPE (pairing and angles).
void Runner::rope_rows(int l, float* rows, int n_heads, int t) const {
  const auto& hp = model_->hparams();
  const int half_rot = static_cast<int>(hp.n_rot / 2);
  const bool local = hp.own_rope(static_cast<size_t>(l));
  const float* cos_v = &(local ? rope_cos_local_ : rope_cos_)[t * half_rot];
  const float* sin_v = &(local ? rope_sin_local_ : rope_sin_)[t * half_rot];
  rotate_(rows, n_heads, static_cast<int>(hp.head_dim), static_cast<int>(hp.n_rot), cos_v, sin_v);
}

// Feed-forward block: norm, FFN (dense or experts), (post-norm), add.
void Runner::ffn_block(int l, const MicroBatch& mb) {
  const auto& hp = model_->hparams();
  const Layer& layer = model_->layers()[static_cast<size_t>(l)];
  const int64_t n_embd = hp.n_embd;
  float* x = &x_[mb.t0 * n_embd];
  float* h = &h_[mb.t0 * n_embd];
  if (layer.has_experts()) {
    moe_ffn(layer, x, mb.n_tokens, h);
  } else {
    dense_ffn(layer, x, mb.n_tokens, h);
  }
  if (!layer.post_ffn_norm.empty()) rmsnorm_in_place(h, layer.post_ffn_norm, mb.n_tokens, hp.rms_eps);
  for (int64_t i = 0; i < mb.n_tokens * n_embd; ++i) x[i] += h[i];
}

// down(act(gate(x)) * up(x)) over RMSNorm(x); the norm and the activation run inside the matmuls.
void Runner::dense_ffn(const Layer& layer, const float* x, int n_tokens, float* out) {
  const auto& hp = model_->hparams();
  const int64_t n_ff = layer.ffn_gate.n_out;
  const ops::Matrix* gate_up[] = {&layer.ffn_gate, &layer.ffn_up};
  float* gate_up_out[] = {gate_.data(), up_.data()};
  ops::matmul_shared_input(gate_up, rmsnorm_rows(x, layer.ffn_norm.data(), nullptr, hp.n_embd, hp.rms_eps),
                           n_tokens, gate_up_out, scratch_, pool_);
  add_bias(gate_.data(), layer.b_gate, n_tokens);
  add_bias(up_.data(), layer.b_up, n_tokens);
  auto activated = [&](int64_t t, float* buf) -> const float* {
    activation_(&gate_[t * n_ff], &up_[t * n_ff], buf, n_ff);
    return buf;
  };
  const ops::Matrix* down[] = {&layer.ffn_down};
  float* down_out[] = {out};
  ops::matmul_shared_input(down, activated, n_tokens, down_out, scratch_, pool_);
  add_bias(out, layer.b_down, n_tokens);
}

// Final norm and output head for the micro-batch's tokens that want logits, soft-capped where the model says.
void Runner::output_logits(const MicroBatch& mb) {
  const Model& m = *model_;
  const auto& hp = m.hparams();
  const int64_t n_out = mb.out_end - mb.out_begin;
  if (n_out == 0) return;
  const ops::Matrix* output[] = {&m.output()};
  float* rows = &logits_[static_cast<size_t>(mb.out_begin) * m.n_vocab()];
  float* logits_out[] = {rows};
  ops::matmul_shared_input(output, rmsnorm_rows(x_.data(), m.output_norm().data(), &output_tokens_[mb.out_begin],
                                                hp.n_embd, hp.rms_eps),
                           n_out, logits_out, scratch_, pool_);
  if (hp.final_softcap > 0) softcap_(rows, n_out * m.n_vocab(), hp.final_softcap);
}

// Causal attention of each segment's queries over its sequence's cells.
void Runner::attention(int layer, const MicroBatch& mb, KvCache& cache) {
  const auto& hp = model_->hparams();
  ops::AttentionBatch batch;
  batch.q = q_.data();
  batch.k = cache.k(layer);
  batch.v = cache.v(layer);
  batch.kv_stride = static_cast<size_t>(cache.row_elements());
  batch.out = attn_.data();
  batch.segments = std::span<const ops::AttentionSegment>(micro_segments_).subspan(mb.seg_begin, mb.seg_end - mb.seg_begin);
  batch.n_head = static_cast<int>(hp.n_head[layer]);
  batch.n_head_kv = static_cast<int>(hp.n_head_kv[layer]);
  batch.head_dim = static_cast<int>(hp.head_dim);
  // Architectures that scale Q beforehand attend with scale 1.
  batch.scale = hp.desc->query_scale == QueryScale::OnScores ? hp.query_scale : 1.0f;
  batch.softcap = hp.attn_softcap;
  batch.first_key = hp.is_sliding(static_cast<size_t>(layer)) ? first_key_.data() : nullptr;
  batch.online_softmax = flash_attn_;
  batch.k_type = cache.types().k;
  batch.v_type = cache.types().v;
  batch.batch_invariant = batch_invariant_;
  batch.per_head_kernel = attention_kernel_;
  ops::run_attention(batch, model_->isa(), pool_, attention_scratch_);
}

}  // namespace cria::model
