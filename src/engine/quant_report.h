// The quantization report of `cria quant-report`: one entry per type (the unquantized base first) with
// its size, perplexity, KL divergence from the base and speed, rendered as a Markdown table and as an
// SVG scatter plot of perplexity against bits per weight (circle area: generation speed).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "engine/kl_divergence.h"

namespace cria::engine {

struct QuantReportEntry {
  std::string label;       // "Q4_K_M", or the base's type
  bool is_base = false;
  uint64_t weight_bytes = 0;  // tensor data, as bench and quantize count a model's size
  double bits_per_weight = 0;  // tensor data bits / parameters
  double ppl = 0, ppl_error = 0;
  KlStats kl;                  // zero for the base
  double pp_ts = 0, tg_ts = 0; // tokens per second; 0 when not measured
};

struct QuantReportInfo {
  std::string model;      // path of the base model
  std::string text;       // path of the text
  int n_ctx = 0;
  int n_chunks = 0;
  int n_threads = 0;
  int n_prompt = 0, n_gen = 0;  // the speed tests' sizes
};

std::string render_report_markdown(const QuantReportInfo& info, std::span<const QuantReportEntry> entries);
std::string render_report_svg(const QuantReportInfo& info, std::span<const QuantReportEntry> entries);

}  // namespace cria::engine
