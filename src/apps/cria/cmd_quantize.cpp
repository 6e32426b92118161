// `cria quantize [options] IN [OUT] TYPE [THREADS]`: llama-quantize's command line. TYPE is a tensor type
// or a mix (Q4_K_M, ...) or its llama_ftype number; without OUT the file is ggml-model-TYPE.gguf beside IN.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "engine/quantize_model.h"
#include "model_loading.h"
#include "quant/quant_mix.h"

namespace cria::cli {

namespace {

struct QuantizeCommandOptions {
  std::vector<std::string> positional;
  bool allow_requantize = false;
  bool pure = false;
  bool leave_output_tensor = false;
  std::string output_tensor_type;
  std::string token_embedding_type;
  bool quiet = false;
};

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// A mix name, or llama-quantize's numeric file type ("15" for Q4_K_M).
std::optional<QuantMix> parse_mix(const std::string& text) {
  if (all_digits(text) && text.size() < 4) {
    const uint32_t number = static_cast<uint32_t>(std::stoul(text));
    for (const auto& m : all_quant_mixes()) {
      if (m.file_type == number) return m.mix;
    }
    return std::nullopt;
  }
  return find_quant_mix(text);
}

Result<TensorType> parse_tensor_type(const std::string& flag, const std::string& text) {
  const TypeTraits* t = find_type(text);
  if (t == nullptr || !t->in_model_files) {
    return make_error(flag + ": unknown tensor type '" + text + "'");
  }
  return t->type;
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

struct Arguments {
  std::string input, output;
  QuantMix mix;
  int threads = 0;
};

// IN TYPE | IN OUT TYPE | IN TYPE THREADS | IN OUT TYPE THREADS, decided as llama-quantize does: the
// argument after IN is the type when it names one.
Result<Arguments> parse_positional(const std::vector<std::string>& args) {
  const std::string usage = "usage: cria quantize [options] IN [OUT] TYPE [THREADS]";
  if (args.size() < 2 || args.size() > 4) return make_error(usage);
  Arguments a;
  a.input = args[0];
  size_t next = 1;
  auto mix = parse_mix(args[next]);
  if (!mix) {
    if (args.size() < 3) return make_error("unknown type '" + args[1] + "' (choose from: " + quant_mix_names() + ")");
    a.output = args[next++];
    mix = parse_mix(args[next]);
    if (!mix) return make_error("unknown type '" + args[next] + "' (choose from: " + quant_mix_names() + ")");
  }
  a.mix = *mix;
  ++next;
  if (next < args.size()) {
    if (!all_digits(args[next]) || args[next].size() > 4 || std::stoi(args[next]) < 1) {
      return make_error("THREADS must be a positive number, got '" + args[next] + "'");
    }
    a.threads = std::stoi(args[next++]);
  }
  if (next != args.size()) return make_error(usage);
  if (a.output.empty()) a.output = engine::default_quantized_path(a.input, a.mix);
  return a;
}

int run_quantize(const QuantizeCommandOptions& opt) {
  auto args = parse_positional(opt.positional);
  if (!args) return fail(args.error().message);
  engine::QuantizeOptions options;
  options.mix = args->mix;
  options.pure = opt.pure;
  options.allow_requantize = opt.allow_requantize;
  options.n_threads = args->threads;
  if (!opt.output_tensor_type.empty()) {
    auto t = parse_tensor_type("--output-tensor-type", opt.output_tensor_type);
    if (!t) return fail(t.error().message);
    options.output_tensor_type = *t;
  }
  if (!opt.token_embedding_type.empty()) {
    auto t = parse_tensor_type("--token-embedding-type", opt.token_embedding_type);
    if (!t) return fail(t.error().message);
    options.token_embedding_type = *t;
  }
  auto input = gguf::File::open(args->input);
  if (!input) return fail(input.error().message);
  if (opt.leave_output_tensor) {
    if (const auto* out = input->find_tensor("output.weight")) options.output_tensor_type = out->type;
  }
  if (args->input == args->output) return fail("the output would overwrite the input '" + args->input + "'");
  if (auto plan = engine::plan_quantization(*input, options); !plan) return fail(plan.error().message);

  const bool tty = isatty(STDERR_FILENO) != 0;
  if (!opt.quiet) {
    std::fprintf(stderr, "quantize: %s -> %s as %s%s\n", args->input.c_str(), args->output.c_str(),
                 std::string(quant_mix_info(args->mix).name).c_str(), opt.pure ? " (pure)" : "");
  }
  uint64_t total_in = 0, total_out = 0;
  auto progress = [&](const engine::QuantizeProgress& p) {
    total_in += p.bytes_in;
    total_out += p.bytes_out;
    if (opt.quiet) return;
    const auto& t = *p.step->tensor;
    char line[256];
    std::snprintf(line, sizeof line, "[%4zu/%4zu] %-32s %-12s %6s -> %-6s %9.2f MiB -> %9.2f MiB", p.index + 1,
                  p.n_tensors, t.name.c_str(), t.shape_string().c_str(), std::string(t.traits().name).c_str(),
                  std::string(traits(p.step->to).name).c_str(), mib(p.bytes_in), mib(p.bytes_out));
    // A line rewritten in place on a terminal; one line per tensor in a log.
    std::fprintf(stderr, tty ? "\r%s\x1b[K" : "%s\n", line);
    std::fflush(stderr);
  };
  const auto start = std::chrono::steady_clock::now();
  auto status = engine::quantize_model(*input, args->output, options, progress);
  if (tty && !opt.quiet) std::fputc('\n', stderr);
  if (!status) return fail(status.error().message);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "quantize: model size = %.2f MiB, quant size = %.2f MiB, %.1f s\n", mib(total_in),
               mib(total_out), seconds);
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<QuantizeCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Rewrite a GGUF model in another tensor type or llama-quantize mix: IN [OUT] TYPE [THREADS]");
  cmd->add_option("args", opt->positional, "IN [OUT] TYPE [THREADS]; TYPE: " + quant_mix_names())
      ->required()
      ->expected(2, 4);
  cmd->add_flag("--allow-requantize", opt->allow_requantize, "Accept weights that are already quantized");
  cmd->add_flag("--pure", opt->pure, "Every matrix in TYPE itself: no mix rules");
  cmd->add_flag("--leave-output-tensor", opt->leave_output_tensor, "Keep output.weight in its input type");
  cmd->add_option("--output-tensor-type", opt->output_tensor_type, "Type of output.weight");
  cmd->add_option("--token-embedding-type", opt->token_embedding_type, "Type of token_embd.weight");
  cmd->add_flag("-q,--quiet", opt->quiet, "Only the final summary");
  cmd->callback([opt, &run] { run = [opt] { return run_quantize(*opt); }; });
}

}  // namespace cria::cli
