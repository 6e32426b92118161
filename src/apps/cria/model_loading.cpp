#include "model_loading.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/escapes.h"
#include "llama_cpp_compat.h"
#ifdef CRIA_HAVE_MPI
#include "dist/pipeline.h"
#endif

namespace cria::cli {

std::string default_model_path() {
  namespace fs = std::filesystem;
  const char* name = "kjv-Q8_0.gguf";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    const fs::path dir = exe.parent_path();
    candidates = {dir / "models" / name, dir / ".." / "models" / name, dir / ".." / ".." / "models" / name,
                  dir / ".." / "share" / "cria" / "models" / name};
  }
  candidates.push_back(fs::path(CRIA_SOURCE_MODELS_DIR) / name);
  for (const auto& c : candidates) {
    if (fs::exists(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  return (fs::path(CRIA_SOURCE_MODELS_DIR) / name).string();
}

namespace {

// With CRIA_MEMORY_REPORT, the last model loaded is kept until exit, when its resident weights are shown.
std::shared_ptr<const model::Model>& reported_model() {
  static std::shared_ptr<const model::Model> model;
  return model;
}

bool memory_report_asked() {
  const char* env = std::getenv("CRIA_MEMORY_REPORT");
  return env != nullptr && std::string(env) != "0";
}

}  // namespace

Result<std::shared_ptr<const model::Model>> load_weights(gguf::File file) {
#ifdef CRIA_HAVE_MPI
  auto model = dist::pipelined() ? dist::load_stage_model(std::move(file)) : model::Model::from_file(std::move(file));
  if (model && dist::pipelined() && !logs_disabled()) std::fprintf(stderr, "cria: %s\n", dist::describe_stages().c_str());
#else
  auto model = model::Model::from_file(std::move(file));
#endif
  if (model && memory_report_asked()) reported_model() = *model;
  return model;
}

Result<std::shared_ptr<const model::Model>> load_weights(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  return load_weights(std::move(*file));
}

Result<LoadedModel> load_model(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  auto tok = tokenizer::Tokenizer::load(*file);
  if (!tok) return tok.error();
  auto model = load_weights(std::move(*file));
  if (!model) return model.error();
  return LoadedModel{*model, std::make_shared<const tokenizer::Tokenizer>(std::move(*tok))};
}

void report_resident_weights() {
  const auto& model = reported_model();
  if (!model) return;
  std::fprintf(stderr, "cria: rank 0: layers %s: resident weights %.1f MiB\n", model->held_layers().text().c_str(),
               static_cast<double>(model->resident_weight_bytes()) / (1 << 20));
}

std::string model_banner(const model::Model& model) {
  const model::ModelHparams& hp = model.hparams();
  return "architecture: " + model::describe(hp, model.file()) + ", " + std::to_string(hp.n_layer) + " layers of " +
         std::to_string(hp.n_embd) + ", " + std::to_string(model.n_vocab()) + " tokens";
}

Result<std::string> read_prompt(const std::string& prompt, const std::string& file, bool escapes) {
  if (!file.empty()) {
    // A directory opens as a stream on Linux and reads as nothing: refuse it rather than run an empty prompt.
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) return make_error("-f " + file + ": is a directory, not a text file");
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error("-f " + file + ": cannot open the file");
    // Read in pieces up to a limit, so that /dev/zero or a stray multi-gigabyte file is an error, not a
    // machine out of memory: 128 MiB is far more text than any context holds.
    constexpr size_t kMaxPromptBytes = size_t{128} << 20;
    std::string text;
    std::vector<char> buffer(size_t{1} << 20);
    while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
      text.append(buffer.data(), static_cast<size_t>(in.gcount()));
      if (text.size() > kMaxPromptBytes) {
        return make_error("-f " + file + ": more than 128 MiB of text; no context holds that much");
      }
    }
    if (in.bad()) return make_error("-f " + file + ": cannot read the file");
    return text;
  }
  return escapes ? process_escapes(prompt) : prompt;
}

void warn_past_training_context(const model::Model& model, int n_ctx_per_seq) {
  const uint32_t train = model.hparams().n_ctx_train;
  if (train > 0 && n_ctx_per_seq > static_cast<int64_t>(train)) {
    std::fprintf(stderr,
                 "cria: warning: context %d (-c) is longer than the %u tokens the model was trained on: expect "
                 "worse text past %u\n",
                 n_ctx_per_seq, train, train);
  }
}

int fail(const std::string& message) {
  std::fprintf(stderr, "cria: error: %s\n", message.c_str());
  return 1;
}

}  // namespace cria::cli
