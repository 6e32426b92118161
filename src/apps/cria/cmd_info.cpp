// `cria info FILE [--json] [--check]`: what a GGUF file holds, without loading a model.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "gguf/gguf_reader.h"
#include "model/hparams.h"

namespace cria::cli {

namespace {

struct InfoOptions {
  std::string path;
  bool json = false;
  bool check = false;
  size_t max_items = 8;
};

struct Totals {
  uint64_t parameters = 0;
  uint64_t bytes = 0;
  double bits_per_weight() const { return parameters == 0 ? 0.0 : 8.0 * static_cast<double>(bytes) / parameters; }
};

Totals totals_of(const gguf::File& file) {
  Totals t;
  for (const auto& tensor : file.tensors()) {
    t.parameters += static_cast<uint64_t>(tensor.n_elements());
    t.bytes += tensor.n_bytes;
  }
  return t;
}

std::string human_count(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1000000ull) std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1000ull) std::snprintf(buf, sizeof buf, "%.2fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%" PRIu64, n);
  return buf;
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", n / 1073741824.0);
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", n / 1048576.0);
  else if (n >= (1ull << 10)) std::snprintf(buf, sizeof buf, "%.2f KiB", n / 1024.0);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  return buf;
}

std::string value_type_label(const gguf::Value& v) {
  std::string label(gguf::value_type_name(v.type()));
  if (const auto* a = v.as_array()) label += "[" + std::string(gguf::value_type_name(a->element_type)) + "]";
  return label;
}

// Decodes every tensor and counts non-finite values: proves each type decodes, and finds broken data.
int check_tensors(const gguf::File& file) {
  int failures = 0;
  for (const auto& tensor : file.tensors()) {
    auto values = gguf::dequantize_tensor(tensor);
    if (!values) {
      std::fprintf(stderr, "%s: %s\n", file.path().c_str(), values.error().message.c_str());
      ++failures;
      continue;
    }
    size_t non_finite = 0;
    for (float v : *values) non_finite += std::isfinite(v) ? 0 : 1;
    if (non_finite > 0) {
      std::fprintf(stderr, "%s: tensor '%s': %zu non-finite values\n", file.path().c_str(), tensor.name.c_str(),
                   non_finite);
      ++failures;
    }
  }
  if (failures == 0) std::printf("check: all %zu tensors decode to finite values\n", file.tensors().size());
  return failures == 0 ? 0 : 1;
}

// Strings from a file need not be valid UTF-8; the final dump replaces invalid bytes.
nlohmann::json value_to_json(const gguf::Value& v, size_t max_items) {
  return std::visit(
      [max_items](const auto& x) -> nlohmann::json {
        using V = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<V, gguf::Array>) {
          nlohmann::json items = nlohmann::json::array();
          std::visit(
              [&](const auto& list) {
                using L = std::decay_t<decltype(list)>;
                if constexpr (!std::is_same_v<L, std::monostate>) {
                  for (size_t i = 0; i < list.size() && i < max_items; ++i) {
                    items.push_back(static_cast<typename L::value_type>(list[i]));
                  }
                }
              },
              x.items);
          return {{"element_type", std::string(gguf::value_type_name(x.element_type))},
                  {"length", x.size()},
                  {"first", items}};
        } else {
          return x;
        }
      },
      v.storage());
}

int print_json(const gguf::File& file, const InfoOptions& opt) {
  nlohmann::json doc;
  doc["file"] = file.path();
  doc["version"] = file.version();
  doc["alignment"] = file.alignment();
  doc["data_offset"] = file.data_offset();
  doc["file_size"] = file.file_size();
  doc["shards"] = file.n_shards();
  const std::string architecture = model::describe_architecture(file);
  doc["architecture"] = architecture.empty() ? nlohmann::json(nullptr) : nlohmann::json(architecture);
  nlohmann::json metadata = nlohmann::json::array();
  for (const auto& [key, value] : file.metadata()) {
    metadata.push_back({{"key", key}, {"type", std::string(gguf::value_type_name(value.type()))},
                        {"value", value_to_json(value, opt.max_items)}});
  }
  doc["metadata"] = metadata;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : file.tensors()) {
    nlohmann::json shape = nlohmann::json::array();
    for (uint32_t d = 0; d < t.n_dims; ++d) shape.push_back(t.ne[d]);
    tensors.push_back({{"name", t.name}, {"type", std::string(t.traits().name)}, {"shape", shape},
                       {"offset", t.offset}, {"bytes", t.n_bytes}});
  }
  doc["tensors"] = tensors;
  const Totals totals = totals_of(file);
  doc["totals"] = {{"tensors", file.tensors().size()}, {"parameters", totals.parameters}, {"bytes", totals.bytes},
                   {"bits_per_weight", totals.bits_per_weight()}};
  std::printf("%s\n", doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  return 0;
}

int print_text(const gguf::File& file, const InfoOptions& opt) {
  std::printf("file:        %s\n", file.path().c_str());
  std::printf("version:     GGUF v%u\n", file.version());
  std::printf("alignment:   %u\n", file.alignment());
  std::printf("data offset: %" PRIu64 "\n", file.data_offset());
  std::printf("file size:   %" PRIu64 " (%s)\n", file.file_size(), human_bytes(file.file_size()).c_str());
  if (file.n_shards() > 1) {
    std::printf("shards:      %d (the sizes and offsets above and below are the first shard's and each tensor's own)\n",
                file.n_shards());
  }
  if (const std::string architecture = model::describe_architecture(file); !architecture.empty()) {
    std::printf("architecture: %s\n", architecture.c_str());
  }

  size_t key_width = 3;
  for (const auto& kv : file.metadata()) key_width = std::max(key_width, kv.first.size());
  std::printf("\nmetadata: %zu keys\n", file.metadata().size());
  for (const auto& [key, value] : file.metadata()) {
    std::printf("  %-*s  %-16s %s\n", static_cast<int>(key_width), key.c_str(), value_type_label(value).c_str(),
                value.to_display_string(opt.max_items).c_str());
  }

  size_t name_width = 4;
  for (const auto& t : file.tensors()) name_width = std::max(name_width, t.name.size());
  std::printf("\ntensors: %zu\n", file.tensors().size());
  if (!file.tensors().empty()) {
    std::printf("  %-*s  %-8s %-22s %12s %12s\n", static_cast<int>(name_width), "name", "type", "shape", "offset",
                "bytes");
  }
  for (const auto& t : file.tensors()) {
    std::printf("  %-*s  %-8s %-22s %12" PRIu64 " %12" PRIu64 "\n", static_cast<int>(name_width), t.name.c_str(),
                std::string(t.traits().name).c_str(), t.shape_string().c_str(), t.offset, t.n_bytes);
  }
  const Totals totals = totals_of(file);
  std::printf("\ntotals: %" PRIu64 " parameters (%s), %" PRIu64 " bytes (%s), %.4f bits per weight\n",
              totals.parameters, human_count(totals.parameters).c_str(), totals.bytes,
              human_bytes(totals.bytes).c_str(), totals.bits_per_weight());
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Show a GGUF file's header, metadata, tensors and totals");
  cmd->add_option("file", opt->path, "GGUF file")->required();
  cmd->add_flag("--json", opt->json, "Print one JSON document");
  cmd->add_flag("--check", opt->check, "Also decode every tensor and check that the values are finite");
  cmd->add_option("--max-items", opt->max_items, "Array items shown before abbreviating (default 8)");
  cmd->callback([opt, &run] {
    run = [opt]() -> int {
      auto file = gguf::File::open(opt->path);
      if (!file) {
        std::fprintf(stderr, "cria: error: %s\n", file.error().message.c_str());
        return 1;
      }
      const int rc = opt->json ? print_json(*file, *opt) : print_text(*file, *opt);
      return (rc == 0 && opt->check) ? check_tensors(*file) : rc;
    };
  });
}

}  // namespace cria::cli
