#include "engine/synth_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "core/thread_pool.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "model/architecture.h"

namespace cria::engine {

namespace {

constexpr SynthShape kPresets[] = {
    // TinyLlama-1.1B's shapes: the model of the llama.cpp reference figures (PERF-REFERENCE.md).
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, 1e-5f},
    {"llama-2-7b", 4096, 32, 32, 32, 11008, 32000, 4096, 10000.0f, 1e-5f},
    // Llama 3's 128256-token vocabulary is stood in for by the llama-spm one, padded with unused tokens.
    {"llama-3-8b", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, 1e-5f},
    // Qwen2.5-1.5B: the qwen2 architecture (NEOX rope), Q/K/V biases, tied embeddings; its 151936-token
    // vocabulary is stood in for as Llama 3's is.
    {.preset = "qwen2.5-1.5b", .n_embd = 1536, .n_layer = 28, .n_head = 12, .n_head_kv = 2, .n_ff = 8960,
     .n_vocab = 151936, .n_ctx = 32768, .rope_freq_base = 1000000.0f, .rms_eps = 1e-6f, .arch = "qwen2",
     .qkv_bias = true, .tied_output = true},
    // TinyLlama's shapes with 8 Mixtral-style experts, each of TinyLlama's FFN size, 2 used per token: 6.4B
    // parameters, of which one generated token reads 1.9B (TinyLlama's attention and two FFNs).
    {.preset = "tinyllama-8x1.1b", .n_embd = 2048, .n_layer = 22, .n_head = 32, .n_head_kv = 4, .n_ff = 5632,
     .n_vocab = 32000, .n_ctx = 2048, .rope_freq_base = 10000.0f, .rms_eps = 1e-5f, .n_expert = 8,
     .n_expert_used = 2},
    // The bundled KJV model's shapes with 2 layers: small enough for tests that take a second.
    {"kjv-like", 256, 2, 8, 4, 768, 4096, 256, 10000.0f, 1e-5f},
};

// SentencePiece token type of padding entries, as the HF converter writes them.
constexpr int32_t kTokenTypeUnused = 5;

// splitmix64: a tiny, fast generator with good statistics; one stream per (seed, tensor, row) so that any
// split of the rows across threads draws the same values.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

uint64_t row_seed(uint64_t seed, size_t tensor_index, int64_t row) {
  SplitMix64 mixer{seed ^ (static_cast<uint64_t>(tensor_index) << 40) ^ static_cast<uint64_t>(row)};
  mixer.next();
  return mixer.next();
}

// Box-Muller in float: two normal values per two uniforms. 24-bit uniforms in (0, 1) keep log finite and
// cap |x| at about 5.8 sigma, which is all a speed-test model needs.
void fill_normal(float* out, int64_t n, float stddev, uint64_t seed) {
  SplitMix64 rng{seed};
  constexpr float kTwoPi = 6.28318530717958647692f;
  constexpr float kInv24 = 1.0f / 16777216.0f;
  for (int64_t i = 0; i < n; i += 2) {
    const uint64_t bits = rng.next();
    const float u1 = (static_cast<float>(bits >> 40) + 0.5f) * kInv24;
    const float u2 = static_cast<float>((bits >> 8) & 0xffffff) * kInv24;
    const float r = stddev * std::sqrt(-2.0f * std::log(u1));
    out[i] = r * std::cos(kTwoPi * u2);
    if (i + 1 < n) out[i + 1] = r * std::sin(kTwoPi * u2);
  }
}

// Copies the vocabulary's tokenizer.* keys, fitting the token arrays to n_vocab: extra ids become
// "[PAD<id>]" (score -10000, UNUSED), the HF converter's padding; a shorter vocabulary keeps its first ids.
Status copy_vocabulary(const std::string& vocab_path, uint32_t n_vocab, gguf::Writer& writer) {
  auto vocab = gguf::File::open(vocab_path);
  if (!vocab) return vocab.error();
  if (vocab->find("tokenizer.ggml.tokens") == nullptr) {
    return make_error(vocab_path + ": has no tokenizer.ggml.tokens; pass a GGUF vocabulary file");
  }
  for (const auto& [key, value] : vocab->metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    const gguf::Array* array = value.as_array();
    if (array != nullptr && (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.scores" ||
                             key == "tokenizer.ggml.token_type")) {
      gguf::Array fitted = *array;
      bool ok = true;
      std::visit(
          [&](auto& items) {
            using Items = std::decay_t<decltype(items)>;
            if constexpr (std::is_same_v<Items, std::vector<std::string>>) {
              const size_t old_size = items.size();
              items.resize(n_vocab);
              for (size_t id = old_size; id < n_vocab; ++id) items[id] = "[PAD" + std::to_string(id) + "]";
            } else if constexpr (std::is_same_v<Items, std::vector<float>>) {
              items.resize(n_vocab, -10000.0f);
            } else if constexpr (std::is_same_v<Items, std::vector<int32_t>>) {
              items.resize(n_vocab, kTokenTypeUnused);
            } else {
              ok = false;
            }
          },
          fitted.items);
      if (!ok) return make_error(vocab_path + ": metadata '" + key + "' has an unexpected element type");
      writer.set(key, std::move(fitted));
      continue;
    }
    // A special token cut off by truncation would point outside the vocabulary: leave it out.
    if (const auto* id = value.get_if<uint32_t>(); id != nullptr && key.ends_with("_token_id") && *id >= n_vocab) {
      continue;
    }
    writer.set(key, value);
  }
  return Ok{};
}

void set_hparams(const SynthOptions& options, const std::string& size, gguf::Writer& writer) {
  const SynthShape& s = options.shape;
  char description[256];
  std::snprintf(description, sizeof description,
                "Random weights (normal, mean 0, std %g; norms 1), seed %llu, written by cria synth for speed "
                "tests; not a trained model",
                static_cast<double>(options.stddev), static_cast<unsigned long long>(options.seed));
  const std::string p = std::string(s.arch) + ".";
  writer.set("general.architecture", std::string(s.arch));
  writer.set("general.type", "model");
  writer.set("general.name", "cria synth " + std::string(s.preset));
  writer.set("general.description", std::string(description));
  writer.set("general.size_label", size);
  writer.set(p + "block_count", s.n_layer);
  writer.set(p + "context_length", s.n_ctx);
  writer.set(p + "embedding_length", s.n_embd);
  writer.set(p + "feed_forward_length", s.n_ff);  // with experts, each expert's (as Mixtral's files)
  writer.set(p + "attention.head_count", s.n_head);
  writer.set(p + "attention.head_count_kv", s.n_head_kv);
  writer.set(p + "rope.freq_base", s.rope_freq_base);
  writer.set(p + "attention.layer_norm_rms_epsilon", s.rms_eps);
  if (s.n_expert > 0) {
    writer.set(p + "expert_count", s.n_expert);
    writer.set(p + "expert_used_count", s.n_expert_used);
  }
  writer.set("general.file_type", quant_mix_info(options.mix).file_type);
  if (s.arch == "llama") {
    // Keys the Llama converter writes and the Qwen2 one does not.
    writer.set(p + "vocab_size", s.n_vocab);
    writer.set(p + "rope.dimension_count", s.n_embd / s.n_head);
  }
}

Status check_shape(const SynthShape& s) {
  if (s.n_embd == 0 || s.n_layer == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.n_ff == 0 || s.n_vocab == 0 ||
      s.n_ctx == 0) {
    return make_error("synth: every dimension of the shape must be positive");
  }
  if (s.n_embd % s.n_head != 0 || s.n_head % s.n_head_kv != 0) {
    return make_error("synth: n_embd must be a multiple of n_head, and n_head of n_head_kv");
  }
  const model::Architecture* arch = model::find_architecture(s.arch);
  if (arch == nullptr) {
    return make_error("synth: unknown architecture '" + std::string(s.arch) +
                      "' (supported: " + model::supported_architectures() + ")");
  }
  if (arch->qk_norm || arch->post_norms || arch->shared_expert) {
    return make_error("synth: architecture '" + std::string(s.arch) +
                      "' needs tensors synth does not write (Q/K norms, post-norms or a shared expert)");
  }
  if (s.n_expert > 0 && !arch->experts) {
    return make_error("synth: architecture '" + std::string(s.arch) + "' has no mixture-of-experts form");
  }
  if (s.n_expert > 0 && (s.n_expert_used == 0 || s.n_expert_used > s.n_expert)) {
    return make_error("synth: n_expert_used must be 1 .. n_expert (" + std::to_string(s.n_expert) + "), got " +
                      std::to_string(s.n_expert_used));
  }
  return Ok{};
}

// Generates and quantizes the rows of one tensor into `out`, a slab of rows at a time so that the
// writing thread can report progress in between.
class TensorFiller {
 public:
  TensorFiller(const SynthOptions& options, ThreadPool& pool) : options_(options), pool_(pool) {
    rows_.resize(static_cast<size_t>(pool.size()));
  }

  template <class Report>
  Status fill(const SynthTensor& tensor, size_t tensor_index, std::span<uint8_t> out, Report&& report) {
    const TypeTraits& type = traits(tensor.type);
    if (type.quantize == nullptr) return make_error("cria cannot write tensor type " + std::string(type.name));
    const int64_t ne0 = tensor.ne[0];
    const int64_t n_rows = tensor.n_elements() / ne0;
    const size_t row_bytes = cria::row_bytes(type, ne0);
    for (auto& row : rows_) row.resize(static_cast<size_t>(ne0));
    // About 16M values per slab: a few progress reports for the largest tensors, negligible sync cost.
    const int64_t slab = std::max<int64_t>((int64_t{1} << 24) / ne0, pool_.size());
    for (int64_t first = 0; first < n_rows; first += slab) {
      const int64_t count = std::min(slab, n_rows - first);
      pool_.parallel_for(count, [&](int64_t begin, int64_t end, int thread) {
        float* values = rows_[static_cast<size_t>(thread)].data();
        for (int64_t r = first + begin; r < first + end; ++r) {
          if (tensor.is_norm) {
            std::fill(values, values + ne0, 1.0f);
          } else {
            fill_normal(values, ne0, options_.stddev, row_seed(options_.seed, tensor_index, r));
          }
          type.quantize(values, out.data() + static_cast<size_t>(r) * row_bytes, ne0);
        }
      });
      report(static_cast<uint64_t>(first + count) * row_bytes);
    }
    return Ok{};
  }

 private:
  const SynthOptions& options_;
  ThreadPool& pool_;
  std::vector<std::vector<float>> rows_;
};

}  // namespace

std::span<const SynthShape> synth_presets() { return kPresets; }

const SynthShape* find_synth_preset(std::string_view name) {
  for (const auto& p : kPresets) {
    if (p.preset == name) return &p;
  }
  return nullptr;
}

int64_t SynthTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::vector<SynthTensor> plan_synth_tensors(const SynthShape& s, QuantMix mix, bool pure) {
  const int64_t embd = s.n_embd, head_dim = s.n_embd / s.n_head;
  const int64_t n_q = head_dim * s.n_head, n_kv = head_dim * s.n_head_kv;
  const int n_layer = static_cast<int>(s.n_layer);
  const int n_gqa = static_cast<int>(s.n_head / s.n_head_kv);
  const TensorType base = quant_mix_info(mix).default_type;
  const MixModel mix_model{n_layer, n_gqa, !s.tied_output, s.n_expert};
  std::vector<SynthTensor> plan;
  // Biases and the router stay F32 (as llama-quantize leaves them); norms are the only tensors of ones.
  auto add = [&](std::string name, std::vector<int64_t> ne, int layer) {
    const bool is_norm = name.ends_with("_norm.weight");
    TensorType type = TensorType::F32;
    if (is_quantizable_tensor(name, static_cast<int>(ne.size()))) {
      type = pure ? fallback_for_row_length(base, ne[0]) : choose_tensor_type(mix, name, layer, ne[0], mix_model);
    }
    plan.push_back({std::move(name), type, std::move(ne), layer, is_norm});
  };
  // A matrix [n_in, n_out] and, with biases, its bias [n_out].
  auto add_projection = [&](const std::string& name, int64_t n_in, int64_t n_out, int layer, bool bias) {
    add(name + ".weight", {n_in, n_out}, layer);
    if (bias) add(name + ".bias", {n_out}, layer);
  };
  const int64_t n_ff = s.n_ff, n_expert = s.n_expert;
  // The order of a forward pass, so that reading the file front to back follows the computation.
  add("token_embd.weight", {embd, s.n_vocab}, -1);
  for (int l = 0; l < n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {embd}, l);
    add_projection(p + "attn_q", embd, n_q, l, s.qkv_bias);
    add_projection(p + "attn_k", embd, n_kv, l, s.qkv_bias);
    add_projection(p + "attn_v", embd, n_kv, l, s.qkv_bias);
    add(p + "attn_output.weight", {n_q, embd}, l);
    add(p + "ffn_norm.weight", {embd}, l);
    if (n_expert == 0) {
      add(p + "ffn_gate.weight", {embd, n_ff}, l);
      add(p + "ffn_up.weight", {embd, n_ff}, l);
      add(p + "ffn_down.weight", {n_ff, embd}, l);
    } else {
      add(p + "ffn_gate_inp.weight", {embd, n_expert}, l);
      add(p + "ffn_gate_exps.weight", {embd, n_ff, n_expert}, l);
      add(p + "ffn_up_exps.weight", {embd, n_ff, n_expert}, l);
      add(p + "ffn_down_exps.weight", {n_ff, embd, n_expert}, l);
    }
  }
  add("output_norm.weight", {embd}, -1);
  if (!s.tied_output) add("output.weight", {embd, s.n_vocab}, -1);
  return plan;
}

std::string size_label(uint64_t n) {
  double scaled;
  const char* suffix;
  if (n > 1e12) scaled = n * 1e-12, suffix = "T";
  else if (n > 1e9) scaled = n * 1e-9, suffix = "B";
  else if (n > 1e6) scaled = n * 1e-6, suffix = "M";
  else scaled = n * 1e-3, suffix = "K";
  // Two significant digits at least, as gguf-py's model_weight_count_rounded_notation.
  const long rounded = std::lround(scaled);
  const int digits = rounded == 0 ? 0 : static_cast<int>(std::to_string(rounded).size());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%s", std::max(2 - digits, 0), scaled, suffix);
  return buf;
}

std::string plan_size_label(const SynthShape& shape, const std::vector<SynthTensor>& plan) {
  uint64_t shared = 0, experts = 0;
  for (const auto& t : plan) {
    (t.name.find("_exps.") != std::string::npos ? experts : shared) += static_cast<uint64_t>(t.n_elements());
  }
  if (shape.n_expert == 0) return size_label(shared + experts);
  return std::to_string(shape.n_expert) + "x" + size_label(shared + experts / shape.n_expert);
}

Status write_synth_model(const SynthOptions& options, const std::string& path) {
  if (auto s = check_shape(options.shape); !s) return s.error();
  const auto plan = plan_synth_tensors(options.shape, options.mix, options.pure);
  uint64_t bytes_total = 0;
  for (const auto& t : plan) {
    bytes_total += cria::row_bytes(traits(t.type), t.ne[0]) * static_cast<uint64_t>(t.n_elements() / t.ne[0]);
  }

  gguf::Writer writer;
  set_hparams(options, plan_size_label(options.shape, plan), writer);
  if (auto s = copy_vocabulary(options.vocab_path, options.shape.n_vocab, writer); !s) return s.error();
  writer.set("general.quantization_version", uint32_t{2});

  ThreadPool pool(options.n_threads > 0 ? options.n_threads : ThreadPool::physical_cores());
  TensorFiller filler(options, pool);
  uint64_t bytes_before = 0;  // data of the tensors already written
  for (size_t i = 0; i < plan.size(); ++i) {
    const SynthTensor& tensor = plan[i];
    auto producer = [&, i](std::span<uint8_t> out) -> Status {
      auto report = [&](uint64_t done_in_tensor) {
        if (options.progress) {
          options.progress({i, plan.size(), &tensor, bytes_before + done_in_tensor, bytes_total});
        }
      };
      report(0);
      auto status = filler.fill(tensor, i, out, report);
      bytes_before += out.size();
      return status;
    };
    if (auto s = writer.add_tensor(tensor.name, tensor.type, tensor.ne, producer); !s) return s.error();
  }
  return writer.write(path);
}

}  // namespace cria::engine
