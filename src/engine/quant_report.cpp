#include "engine/quant_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <vector>

namespace cria::engine {

namespace {

std::string format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

double mib(uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

std::string base_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

const QuantReportEntry* find_base(std::span<const QuantReportEntry> entries) {
  for (const auto& e : entries) {
    if (e.is_base) return &e;
  }
  return nullptr;
}

// Colour by family, so that the kinds of quantization read apart at a glance.
const char* family_colour(const QuantReportEntry& e) {
  const std::string_view l = e.label;
  if (e.is_base || l.starts_with("F") || l.starts_with("BF")) return "#444444";
  if (l.starts_with("TQ")) return "#c0392b";
  if (l.starts_with("IQ")) return "#e67e22";
  if (l.find("_K") != std::string_view::npos) return "#2e6fd1";
  return "#27ae60";  // Q4_0 .. Q8_0
}

// An axis mapping values to pixels, linear or logarithmic.
struct Axis {
  double lo, hi;  // in value space
  bool log;
  double px0, px1;
  double t(double v) const { return log ? std::log(v) : v; }
  double map(double v) const { return px0 + (t(v) - t(lo)) / (t(hi) - t(lo)) * (px1 - px0); }
};

Axis value_axis(double lo, double hi, double px0, double px1) {
  const bool log = lo > 0 && hi / lo > 2.5;
  if (log) return {lo / 1.08, hi * 1.08, true, px0, px1};
  const double pad = std::max((hi - lo) * 0.08, std::abs(hi) * 0.01 + 1e-9);
  return {lo - pad, hi + pad, false, px0, px1};
}

}  // namespace

std::string render_report_markdown(const QuantReportInfo& info, std::span<const QuantReportEntry> entries) {
  const QuantReportEntry* base = find_base(entries);
  std::string md = "# Quantization report: " + base_name(info.model) + "\n\n";
  md += "Perplexity on `" + base_name(info.text) + "` with a context of " + std::to_string(info.n_ctx) + " (" +
        std::to_string(info.n_chunks) + " chunks, llama-perplexity's method); KL divergence from the unquantized " +
        "model at the same positions; speed with " + std::to_string(info.n_threads) + " threads (pp" +
        std::to_string(info.n_prompt) + ": prompt processing, tg" + std::to_string(info.n_gen) +
        ": generation). Smaller files run faster; the table shows what each costs in quality.\n\n";
  md += "| type | weights (MiB) | bits/weight | perplexity | vs base | mean KL divergence | same top token | pp" +
        std::to_string(info.n_prompt) + " t/s | tg" + std::to_string(info.n_gen) + " t/s |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& e : entries) {
    md += "| " + e.label + (e.is_base ? " (base)" : "") + " | " + format("%.2f", mib(e.weight_bytes)) + " | " +
          format("%.2f", e.bits_per_weight) + " | " + format("%.4f", e.ppl) + " ± " + format("%.4f", e.ppl_error) +
          " | ";
    md += base != nullptr && !e.is_base && base->ppl > 0 ? format("%+.2f%%", 100.0 * (e.ppl / base->ppl - 1.0)) : "-";
    md += " | ";
    md += e.is_base ? "-" : format("%.5f", e.kl.mean) + " ± " + format("%.5f", e.kl.mean_error);
    md += " | ";
    md += e.is_base ? "-" : format("%.2f%%", 100.0 * e.kl.same_top);
    md += " | " + (e.pp_ts > 0 ? format("%.1f", e.pp_ts) : "-") + " | " + (e.tg_ts > 0 ? format("%.1f", e.tg_ts) : "-") +
          " |\n";
  }
  md += "\n![perplexity against bits per weight](report.svg)\n";
  return md;
}

namespace {

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

// Where a point's two-line label goes: beside the point, else further up or down, the first place that
// overlaps no label placed before and stays inside the plot.
Box place_label(double px, double py, double r, double width, const std::vector<Box>& placed, const Box& plot) {
  constexpr double kHeight = 26;
  Box best{};
  int best_hits = 1 << 30;
  for (double dy : {0.0, -28.0, 28.0, -56.0, 56.0, -84.0, 84.0, -112.0, 112.0}) {
    for (int side : {1, -1, 2, -2, 3, -3, 4, -4}) {
      const double shift = 90.0 * (std::abs(side) - 1);
      const double x0 = side > 0 ? px + r + 4 + shift : px - r - 4 - width - shift;
      const Box b{x0, py + dy - 13, x0 + width, py + dy - 13 + kHeight};
      if (b.x0 < plot.x0 || b.x1 > plot.x1 || b.y0 < plot.y0 - 40 || b.y1 > plot.y1) continue;
      int hits = 0;
      for (const Box& o : placed) hits += b.overlaps(o);
      if (hits == 0) return b;
      if (hits < best_hits) best_hits = hits, best = b;
    }
  }
  return best_hits == (1 << 30) ? Box{px + r + 4, py - 13, px + r + 4 + width, py + 13} : best;
}

}  // namespace

std::string render_report_svg(const QuantReportInfo& info, std::span<const QuantReportEntry> entries) {
  constexpr double kWidth = 960, kHeight = 600, kLeft = 90, kRight = 40, kTop = 90, kBottom = 70;
  const QuantReportEntry* base = find_base(entries);
  double bpw_lo = 1e30, bpw_hi = 0, ppl_lo = 1e30, tg_max = 0;
  for (const auto& e : entries) {
    bpw_lo = std::min(bpw_lo, e.bits_per_weight);
    bpw_hi = std::max(bpw_hi, e.bits_per_weight);
    ppl_lo = std::min(ppl_lo, e.ppl);
    tg_max = std::max(tg_max, e.tg_ts);
  }
  if (entries.empty()) bpw_lo = 1, bpw_hi = 32, ppl_lo = 1;
  // Types that wreck the model (ternary types on a model not trained for them) would squash every other
  // point into one line: they go in a band above the plot, marked with their perplexity.
  const double cap = 1.6 * (base != nullptr ? base->ppl : ppl_lo);
  double ppl_hi = ppl_lo;
  for (const auto& e : entries) {
    if (e.ppl <= cap) ppl_hi = std::max(ppl_hi, e.ppl);
  }
  // Bits per weight span 1.5 to 32: a log2 axis gives every type room.
  const Axis x{std::exp2(std::floor(std::log2(bpw_lo))), std::exp2(std::ceil(std::log2(bpw_hi) + 1e-9)), true, kLeft,
               kWidth - kRight};
  const Axis y = value_axis(ppl_lo, ppl_hi, kHeight - kBottom, kTop);
  const Box plot{kLeft, kTop, kWidth - kRight, kHeight - kBottom};

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"600\" viewBox=\"0 0 960 600\" "
                    "font-family=\"sans-serif\">\n<rect width=\"960\" height=\"600\" fill=\"white\"/>\n";
  svg += "<text x=\"" + format("%.0f", kLeft) + "\" y=\"28\" font-size=\"18\" font-weight=\"bold\">" +
         xml_escape(base_name(info.model)) + ": perplexity against size</text>\n";
  svg += "<text x=\"" + format("%.0f", kLeft) + "\" y=\"48\" font-size=\"12\" fill=\"#555\">lower left is better; " +
         "circle area: generation speed (tg" + std::to_string(info.n_gen) + ", " + std::to_string(info.n_threads) +
         " threads); text " + xml_escape(base_name(info.text)) + ", context " + std::to_string(info.n_ctx) + "</text>\n";
  // Axes and grid.
  svg += "<g stroke=\"#ccc\" font-size=\"11\" fill=\"#333\">\n";
  for (double b = x.lo; b <= x.hi * 1.0001; b *= 2) {
    const double px = x.map(b);
    svg += "<line x1=\"" + format("%.1f", px) + "\" y1=\"" + format("%.1f", kTop) + "\" x2=\"" + format("%.1f", px) +
           "\" y2=\"" + format("%.1f", kHeight - kBottom) + "\"/>";
    svg += "<text stroke=\"none\" text-anchor=\"middle\" x=\"" + format("%.1f", px) + "\" y=\"" +
           format("%.1f", kHeight - kBottom + 18) + "\">" + format("%g", b) + "</text>\n";
  }
  for (int i = 0; i <= 5; ++i) {
    const double tv = y.t(y.lo) + (y.t(y.hi) - y.t(y.lo)) * i / 5.0;
    const double v = y.log ? std::exp(tv) : tv;
    const double py = y.map(v);
    svg += "<line x1=\"" + format("%.1f", kLeft) + "\" y1=\"" + format("%.1f", py) + "\" x2=\"" +
           format("%.1f", kWidth - kRight) + "\" y2=\"" + format("%.1f", py) + "\"/>";
    svg += "<text stroke=\"none\" text-anchor=\"end\" x=\"" + format("%.1f", kLeft - 6) + "\" y=\"" +
           format("%.1f", py + 4) + "\">" + format("%.4g", v) + "</text>\n";
  }
  svg += "</g>\n";
  svg += "<text x=\"" + format("%.1f", (kLeft + kWidth - kRight) / 2) + "\" y=\"" + format("%.1f", kHeight - 22) +
         "\" font-size=\"13\" text-anchor=\"middle\">bits per weight (log scale)</text>\n";
  svg += "<text transform=\"translate(22," + format("%.1f", (kTop + kHeight - kBottom) / 2) +
         ") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">perplexity" + (y.log ? " (log scale)" : "") +
         "</text>\n";
  // One labelled point per type; labels placed from the best perplexity down, so the crowded low corner
  // is laid out first.
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return entries[a].ppl < entries[b].ppl; });
  struct Point {
    double x, y, r;
  };
  auto position = [&](const QuantReportEntry& e) {
    const double r = tg_max > 0 ? 4 + 14 * std::sqrt(e.tg_ts / tg_max) : 6;
    return Point{x.map(e.bits_per_weight), e.ppl > cap ? kTop - 18 : y.map(e.ppl), r};
  };
  std::vector<Box> placed;  // every circle first, then each label as it is placed
  for (const auto& e : entries) {
    const Point p = position(e);
    placed.push_back({p.x - p.r, p.y - p.r, p.x + p.r, p.y + p.r});
  }
  for (size_t i : order) {
    const auto& e = entries[i];
    const bool off_scale = e.ppl > cap;
    const auto [px, py, r] = position(e);
    const std::string title = e.label + (e.is_base ? " (base)" : "");
    const std::string detail = (off_scale ? "off scale: " : "") + format("%.2f", e.ppl) +
                               (e.tg_ts > 0 ? ", " + format("%.0f", e.tg_ts) + " t/s" : "");
    const double width = std::max(7.5 * static_cast<double>(title.size()), 6.0 * static_cast<double>(detail.size()));
    const Box b = place_label(px, py, r, width, placed, plot);
    placed.push_back(b);
    svg += "<circle cx=\"" + format("%.1f", px) + "\" cy=\"" + format("%.1f", py) + "\" r=\"" + format("%.1f", r) +
           "\" fill=\"" + family_colour(e) + "\" fill-opacity=\"0.55\" stroke=\"" + family_colour(e) + "\"/>\n";
    const double gap = b.x0 > px ? b.x0 - (px + r) : (px - r) - b.x1;
    if (std::abs((b.y0 + 13) - py) > 1 || gap > 8) {  // a label away from its point gets a leader line
      const double lx = b.x0 > px ? b.x0 : b.x1;
      svg += "<line x1=\"" + format("%.1f", px) + "\" y1=\"" + format("%.1f", py) + "\" x2=\"" + format("%.1f", lx) +
             "\" y2=\"" + format("%.1f", b.y0 + 9) + "\" stroke=\"#999\" stroke-width=\"0.8\"/>\n";
    }
    const char* anchor = b.x0 > px ? "start" : "end";
    const double tx = b.x0 > px ? b.x0 : b.x1;
    svg += "<text x=\"" + format("%.1f", tx) + "\" y=\"" + format("%.1f", b.y0 + 11) + "\" text-anchor=\"" + anchor +
           "\" font-size=\"12\" font-weight=\"bold\">" + xml_escape(title) + "</text><text x=\"" + format("%.1f", tx) +
           "\" y=\"" + format("%.1f", b.y0 + 24) + "\" text-anchor=\"" + anchor + "\" font-size=\"10\" fill=\"#555\">" +
           xml_escape(detail) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace cria::engine
