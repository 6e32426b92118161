#include "convert/converter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "gguf/gguf_writer.h"

namespace cria::convert {

namespace {

namespace fs = std::filesystem;

// general.file_type (llama_ftype) of each output type.
uint32_t file_type_of(OutType t) {
  switch (t) {
    case OutType::F32: return 0;
    case OutType::F16: return 1;
    case OutType::BF16: return 32;
    case OutType::Q8_0: return 7;
  }
  return 0;
}

// Keys in the order llama.cpp's convert_hf_to_gguf.py writes them for a Llama model.
void write_metadata(gguf::Writer& w, const Checkpoint& c, OutType out, uint64_t n_params) {
  const LlamaHParams& hp = c.hparams;
  w.set("general.architecture", "llama");
  w.set("general.type", "model");
  w.set("general.name", c.model_name);
  w.set("general.size_label", size_label(n_params));
  w.set("llama.block_count", hp.n_layer);
  if (hp.n_ctx) w.set("llama.context_length", *hp.n_ctx);
  w.set("llama.embedding_length", hp.n_embd);
  w.set("llama.feed_forward_length", hp.n_ff);
  w.set("llama.attention.head_count", hp.n_head);
  w.set("llama.attention.head_count_kv", hp.n_head_kv);
  if (hp.rope_theta) w.set("llama.rope.freq_base", *hp.rope_theta);
  w.set("llama.attention.layer_norm_rms_epsilon", hp.rms_eps);
  if (hp.write_head_dim) {
    w.set("llama.attention.key_length", hp.head_dim);
    w.set("llama.attention.value_length", hp.head_dim);
  }
  w.set("general.file_type", file_type_of(out));
  w.set("llama.vocab_size", hp.vocab_size);
  w.set("llama.rope.dimension_count", hp.head_dim);
  if (hp.rope_linear_factor) {
    w.set("llama.rope.scaling.type", "linear");
    w.set("llama.rope.scaling.factor", *hp.rope_linear_factor);
  }
  c.tokenizer.write_to(w);
  w.set("general.quantization_version", uint32_t{2});
}

}  // namespace

Result<OutType> parse_outtype(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower == "f32") return OutType::F32;
  if (lower == "f16") return OutType::F16;
  if (lower == "bf16") return OutType::BF16;
  if (lower == "q8_0") return OutType::Q8_0;
  return make_error("output type '" + std::string(text) + "' is not one of f32, f16, bf16, q8_0");
}

std::string_view outtype_name(OutType t) {
  switch (t) {
    case OutType::F32: return "F32";
    case OutType::F16: return "F16";
    case OutType::BF16: return "BF16";
    case OutType::Q8_0: return "Q8_0";
  }
  return "?";
}

TensorType tensor_type_for(const PlannedTensor& tensor, OutType out) {
  if (tensor.ne.size() <= 1 || tensor.name.ends_with("_norm.weight")) return TensorType::F32;
  switch (out) {
    case OutType::F32: return TensorType::F32;
    case OutType::F16: return TensorType::F16;
    case OutType::BF16: return TensorType::BF16;
    case OutType::Q8_0: return tensor.ne[0] % 32 == 0 ? TensorType::Q8_0 : TensorType::F16;
  }
  return TensorType::F32;
}

std::string size_label(uint64_t n_params) {
  const double n = static_cast<double>(n_params);
  double scaled = n * 1e-3;
  const char* suffix = "K";
  if (n > 1e12) scaled = n * 1e-12, suffix = "T";
  else if (n > 1e9) scaled = n * 1e-9, suffix = "B";
  else if (n > 1e6) scaled = n * 1e-6, suffix = "M";
  // At least two significant digits: "6.8M", "13B", "0.5K" style, as llama.cpp prints them.
  const std::string whole = std::to_string(static_cast<int64_t>(std::nearbyint(scaled)));
  const size_t digits = whole == "0" ? 0 : whole.size();
  const int decimals = static_cast<int>(std::max<int64_t>(2 - static_cast<int64_t>(digits), 0));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, scaled, suffix);
  return buf;
}

Result<ConvertSummary> convert_checkpoint(const ConvertOptions& options) {
  auto checkpoint = open_checkpoint(options.dir, options.checkpoint);
  if (!checkpoint) return checkpoint.error();
  const Checkpoint& c = *checkpoint;

  ConvertSummary summary;
  summary.layout = c.layout;
  summary.n_tensors = c.tensors.size();
  summary.notes = c.notes;
  for (const auto& t : c.tensors) summary.n_params += static_cast<uint64_t>(t.n_elements());
  if (options.outfile) {
    summary.output = *options.outfile;
  } else {
    std::string name = c.model_name.empty() ? "ggml-model" : c.model_name;
    std::replace(name.begin(), name.end(), ' ', '-');
    std::replace(name.begin(), name.end(), '/', '-');
    summary.output = options.dir / (name + "-" + size_label(summary.n_params) + "-" +
                                    std::string(outtype_name(options.outtype)) + ".gguf");
  }

  gguf::Writer writer;
  write_metadata(writer, c, options.outtype, summary.n_params);
  std::vector<uint64_t> sizes;
  for (const auto& t : c.tensors) {
    const TensorType type = tensor_type_for(t, options.outtype);
    sizes.push_back(row_bytes(traits(type), t.ne[0]) * static_cast<uint64_t>(t.n_elements() / t.ne[0]));
    summary.data_bytes += sizes.back();
  }
  uint64_t done = 0;
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const PlannedTensor& t = c.tensors[i];
    const TensorType type = tensor_type_for(t, options.outtype);
    auto producer = [&, i, type](std::span<uint8_t> out) -> Status {
      std::vector<float> values(static_cast<size_t>(t.n_elements()));
      if (auto s = t.load(values); !s) return s;
      traits(type).quantize(values.data(), out.data(), static_cast<int64_t>(values.size()));
      done += sizes[i];
      if (options.progress) options.progress({i, c.tensors.size(), t.name, type, done, summary.data_bytes});
      return Ok{};
    };
    if (auto s = writer.add_tensor(t.name, type, t.ne, producer); !s) return s.error();
  }
  if (auto s = writer.write(summary.output.string()); !s) return s.error();
  return summary;
}

}  // namespace cria::convert
