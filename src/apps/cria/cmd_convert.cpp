// `cria convert DIR [--outfile FILE] [--outtype f32|f16|bf16|q8_0]`: a Meta or Hugging Face Llama
// checkpoint to GGUF, without Python.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "convert/converter.h"

namespace cria::cli {

namespace {

struct ConvertCliOptions {
  std::string dir;
  std::string outfile;
  std::string outtype = "f16";
  uint32_t context_length = 0;
};

// A bar redrawn in place on a terminal; one line per tensor when stderr is a file or a pipe.
void report_progress(const convert::ConvertProgress& p, bool terminal) {
  const double fraction = p.bytes_total == 0 ? 1.0 : static_cast<double>(p.bytes_done) / p.bytes_total;
  const std::string type(traits(p.type).name);
  if (!terminal) {
    std::fprintf(stderr, "[%zu/%zu] %-28s %-5s %5.1f%%\n", p.index + 1, p.count, p.name.c_str(), type.c_str(),
                 100.0 * fraction);
    return;
  }
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r[%s] %5.1f%% %zu/%zu %-28s %-5s", bar.c_str(), 100.0 * fraction, p.index + 1, p.count,
               p.name.c_str(), type.c_str());
  if (p.index + 1 == p.count) std::fputc('\n', stderr);
  std::fflush(stderr);
}

int run_convert(const ConvertCliOptions& cli) {
  auto outtype = convert::parse_outtype(cli.outtype);
  if (!outtype) {
    std::fprintf(stderr, "cria: error: %s\n", outtype.error().message.c_str());
    return 1;
  }
  convert::ConvertOptions options;
  options.dir = cli.dir;
  if (!cli.outfile.empty()) options.outfile = cli.outfile;
  options.outtype = *outtype;
  if (cli.context_length > 0) options.checkpoint.context_length = cli.context_length;
  const bool terminal = isatty(STDERR_FILENO) == 1;
  options.progress = [terminal](const convert::ConvertProgress& p) { report_progress(p, terminal); };

  auto summary = convert::convert_checkpoint(options);
  if (!summary) {
    if (terminal) std::fputc('\n', stderr);
    std::fprintf(stderr, "cria: error: %s\n", summary.error().message.c_str());
    return 1;
  }
  for (const auto& note : summary->notes) std::fprintf(stderr, "cria convert: note: %s\n", note.c_str());
  std::printf("%s checkpoint -> %s: %zu tensors, %" PRIu64 " parameters, %.2f MiB of %s data\n",
              summary->layout.c_str(), summary->output.string().c_str(), summary->n_tensors, summary->n_params,
              static_cast<double>(summary->data_bytes) / (1 << 20), std::string(convert::outtype_name(*outtype)).c_str());
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, Action& run) {
  auto opt = std::make_shared<ConvertCliOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Meta or Hugging Face Llama checkpoint directory to GGUF");
  cmd->add_option("dir", opt->dir, "Checkpoint directory (params.json + consolidated.NN.pth, or config.json + weights)")
      ->required();
  cmd->add_option("--outfile,-o", opt->outfile, "Output file (default: DIR/<Name>-<size>-<OUTTYPE>.gguf)");
  cmd->add_option("--outtype", opt->outtype, "Tensor type of the matrices: f32, f16 (default), bf16, q8_0");
  cmd->add_option("--context-length", opt->context_length,
                  "Training context length to record (Meta's params.json does not say; llama.cpp guesses)");
  cmd->callback([opt, &run] {
    run = [opt]() -> int { return run_convert(*opt); };
  });
}

}  // namespace cria::cli
