// Small synth models for tests: a preset shrunk to a couple of layers, written with the bundled llama-spm
// vocabulary.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/synth_model.h"

namespace cria::test {

inline std::string bundled_vocab_path() {
  return (std::filesystem::path(CRIA_SOURCE_DIR) / "models" / "vocab" / "ggml-vocab-llama-spm.gguf").string();
}

// `preset` with 2 layers of n_embd (4 heads over 2 KV heads) and n_ff hidden units (per expert), the
// preset's architecture, biases, tied output and experts kept.
inline engine::SynthShape tiny_synth_shape(std::string_view preset, uint32_t n_embd, uint32_t n_ff) {
  engine::SynthShape shape = *engine::find_synth_preset(preset);
  shape.n_embd = n_embd;
  shape.n_layer = 2;
  shape.n_head = 4;
  shape.n_head_kv = 2;
  shape.n_ff = n_ff;
  shape.n_ctx = 128;
  return shape;
}

// Writes `shape` as `mix` (2 threads, seed 0).
inline Status write_synth(const engine::SynthShape& shape, QuantMix mix, const std::string& path) {
  engine::SynthOptions options;
  options.shape = shape;
  options.mix = mix;
  options.n_threads = 2;
  options.vocab_path = bundled_vocab_path();
  return engine::write_synth_model(options, path);
}

}  // namespace cria::test
