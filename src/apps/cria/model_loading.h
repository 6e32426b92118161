// What the model-running subcommands share: finding the bundled model, loading a model with its
// tokenizer, and reading the prompt from -p / -f.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace cria::cli {

// models/kjv-Q8_0.gguf shipped with cria: next to the executable's build tree or installed beside it.
std::string default_model_path();

struct LoadedModel {
  std::shared_ptr<const model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
};

Result<LoadedModel> load_model(const std::string& path);

// The weights this process runs: the whole model, or under `mpirun -np K` its pipeline stage's layers,
// the other ranks loading theirs (src/dist).
Result<std::shared_ptr<const model::Model>> load_weights(gguf::File file);
Result<std::shared_ptr<const model::Model>> load_weights(const std::string& path);

// With CRIA_MEMORY_REPORT=1: the resident weight memory of the last model loaded, on stderr (at exit).
void report_resident_weights();

// What the load banners of run and bench say of a model: "architecture: qwen2 (NEOX rope, Q/K/V biases,
// tied output), 28 layers of 1536, 151936 tokens".
std::string model_banner(const model::Model& model);

// A warning when the context per sequence is longer than the model was trained on (llama.cpp warns of a
// "training context overflow"): positions past it are ones the model never saw.
void warn_past_training_context(const model::Model& model, int n_ctx_per_seq);

// The prompt from -p (escapes processed when `escapes`) or the bytes of -f.
Result<std::string> read_prompt(const std::string& prompt, const std::string& file, bool escapes);

// Prints "cria: error: MESSAGE" on one line and returns 1.
int fail(const std::string& message);

}  // namespace cria::cli
