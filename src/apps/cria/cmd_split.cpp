// `cria split` and `cria merge`: llama-gguf-split's --split and --merge (gguf/gguf_split.h), with its
// option names and file naming.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_split.h"
#include "model_loading.h"

namespace cria::cli {

namespace {

struct SplitCommandOptions {
  std::string input, output;
  int max_tensors = 0;
  std::string max_size;
  bool no_tensor_first = false;
  bool dry_run = false;
};

int run_split(const SplitCommandOptions& o) {
  gguf::SplitOptions options;
  if (o.max_tensors > 0 && !o.max_size.empty()) return fail("give --split-max-tensors or --split-max-size, not both");
  if (!o.max_size.empty()) {
    auto bytes = gguf::parse_split_size(o.max_size);
    if (!bytes) return fail(bytes.error().message);
    options.max_bytes = *bytes;
  }
  if (o.max_tensors > 0) options.max_tensors = o.max_tensors;
  options.no_tensor_first = o.no_tensor_first;
  auto in = gguf::File::open(o.input);
  if (!in) return fail(in.error().message);
  if (o.dry_run) {
    auto plan = gguf::plan_split(*in, options);
    if (!plan) return fail(plan.error().message);
    const int n = plan->empty() ? 1 : plan->back() + 1;
    for (int s = 0; s < n; ++s) {
      uint64_t bytes = 0, count = 0;
      for (size_t i = 0; i < plan->size(); ++i) {
        if ((*plan)[i] != s) continue;
        bytes += in->tensors()[i].n_bytes;
        ++count;
      }
      std::printf("%s: %" PRIu64 " tensors, %.2f MB of tensor data\n", gguf::split_path(o.output, s, n).c_str(), count,
                  static_cast<double>(bytes) / 1e6);
    }
    return 0;
  }
  auto paths = gguf::split_gguf(*in, options, o.output);
  if (!paths) return fail(paths.error().message);
  for (const auto& p : *paths) std::fprintf(stderr, "cria split: wrote %s\n", p.c_str());
  return 0;
}

}  // namespace

void add_split_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<SplitCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "split", "Split a GGUF model into shards OUT-00001-of-0000N.gguf, as llama-gguf-split --split (the same bytes); "
               "every command opens the first shard as the whole model");
  cmd->add_option("input", opt->input, "GGUF file")->required();
  cmd->add_option("output", opt->output, "Output prefix (OUT gives OUT-00001-of-0000N.gguf)")->required();
  cmd->add_option("--split-max-tensors", opt->max_tensors, "At most N tensors per shard (default 128)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--split-max-size", opt->max_size, "At most this much tensor data per shard: N followed by M or G (10^6, 10^9 bytes)");
  cmd->add_flag("--no-tensor-first-split", opt->no_tensor_first, "The first shard holds the metadata only");
  cmd->add_flag("--dry-run", opt->dry_run, "Print the shards and write nothing");
  cmd->callback([opt, &run] { run = [opt] { return run_split(*opt); }; });

  auto merge = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* m = app.add_subcommand("merge", "Merge a split model into one GGUF file, as llama-gguf-split --merge");
  m->add_option("input", merge->first, "The first shard (NAME-00001-of-0000N.gguf)")->required();
  m->add_option("output", merge->second, "Output GGUF file (must not exist)")->required();
  m->callback([merge, &run] {
    run = [merge] {
      auto first = gguf::File::open(merge->first);
      if (!first) return fail(first.error().message);
      if (auto st = gguf::merge_gguf(*first, merge->second); !st) return fail(st.error().message);
      std::fprintf(stderr, "cria merge: wrote %s (%d shards, %zu tensors)\n", merge->second.c_str(), first->n_shards(),
                   first->tensors().size());
      return 0;
    };
  });
}

}  // namespace cria::cli
