#include "engine/quantize_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "core/thread_pool.h"
#include "gguf/gguf_writer.h"

namespace cria::engine {

namespace {

// The block index of "blk.N.<...>", or -1.
int layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int layer = 0;
  size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) layer = layer * 10 + (name[i] - '0');
  return layer;
}

bool is_float_type(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// What the mix rules need from the hyperparameters and the tensor list.
MixModel mix_context(const gguf::File& input) {
  MixModel ctx;
  auto arch = input.get_string("general.architecture");
  const std::string prefix = arch ? *arch + "." : std::string("llama.");
  if (auto n = input.get_u32(prefix + "block_count")) ctx.n_layer = static_cast<int>(*n);
  auto n_head = input.get_u32(prefix + "attention.head_count");
  auto n_head_kv = input.get_u32(prefix + "attention.head_count_kv");
  if (n_head && n_head_kv && *n_head_kv > 0) ctx.n_gqa = static_cast<int>(*n_head / *n_head_kv);
  ctx.has_output = input.find_tensor("output.weight") != nullptr;
  if (auto n = input.get_u32(prefix + "expert_count")) ctx.n_expert = *n;
  // Without the key, count the blocks as llama-quantize would find them.
  if (ctx.n_layer == 0) {
    for (const auto& t : input.tensors()) ctx.n_layer = std::max(ctx.n_layer, layer_of(t.name) + 1);
  }
  return ctx;
}

TensorType type_for(const gguf::TensorInfo& t, const QuantizeOptions& options, const MixModel& ctx) {
  const TensorType base = quant_mix_info(options.mix).default_type;
  TensorType type = options.pure ? base : choose_tensor_type(options.mix, t.name, layer_of(t.name), t.ne[0], ctx);
  // The explicit overrides win over --pure and the mix, as in llama-quantize.
  const bool is_output = t.name == "output.weight" || (!ctx.has_output && t.name == "token_embd.weight");
  if (options.token_embedding_type && t.name == "token_embd.weight") type = *options.token_embedding_type;
  if (options.output_tensor_type && is_output) type = *options.output_tensor_type;
  return fallback_for_row_length(type, t.ne[0]);
}

}  // namespace

Result<std::vector<QuantizeStep>> plan_quantization(const gguf::File& input, const QuantizeOptions& options) {
  const MixModel ctx = mix_context(input);
  std::vector<QuantizeStep> plan;
  plan.reserve(input.tensors().size());
  for (const auto& t : input.tensors()) {
    QuantizeStep step{&t, t.type, true};
    if (is_quantizable_tensor(t.name, static_cast<int>(t.n_dims))) {
      step.to = type_for(t, options, ctx);
      step.copy = step.to == t.type;
    }
    if (!step.copy) {
      const TypeTraits& from = t.traits();
      const TypeTraits& to = traits(step.to);
      if (!is_float_type(t.type) && !options.allow_requantize) {
        return make_error("tensor '" + t.name + "' is already " + std::string(from.name) +
                          "; requantizing loses quality, pass --allow-requantize to do it anyway");
      }
      if (to.quantize == nullptr) {
        return make_error("tensor '" + t.name + "': cria cannot write type " + std::string(to.name) +
                          " (its quantizer needs an importance matrix, which cria does not support yet)");
      }
      if (from.dequantize == nullptr) {
        return make_error("tensor '" + t.name + "': cannot decode type " + std::string(from.name));
      }
    }
    plan.push_back(step);
  }
  return plan;
}

Status quantize_model(const gguf::File& input, const std::string& output, const QuantizeOptions& options,
                      const std::function<void(const QuantizeProgress&)>& progress) {
  auto planned = plan_quantization(input, options);
  if (!planned) return planned.error();
  const std::vector<QuantizeStep>& plan = *planned;

  gguf::Writer writer;
  for (const auto& [key, value] : input.metadata()) writer.set(key, value);
  writer.set("general.quantization_version", uint32_t{2});
  writer.set("general.file_type", quant_mix_info(options.mix).file_type);

  ThreadPool pool(options.n_threads > 0 ? options.n_threads : ThreadPool::physical_cores());
  std::vector<std::vector<float>> rows(static_cast<size_t>(pool.size()));
  for (size_t i = 0; i < plan.size(); ++i) {
    const QuantizeStep& step = plan[i];
    const gguf::TensorInfo& t = *step.tensor;
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    auto producer = [&, i](std::span<uint8_t> out) -> Status {
      if (step.copy) {
        std::memcpy(out.data(), t.data, out.size());
      } else {
        const TypeTraits& from = t.traits();
        const TypeTraits& to = traits(step.to);
        const int64_t ne0 = t.ne[0];
        const size_t in_row = t.row_bytes(), out_row = row_bytes(to, ne0);
        pool.parallel_for(t.n_rows(), [&](int64_t begin, int64_t end, int thread) {
          std::vector<float>& values = rows[static_cast<size_t>(thread)];
          values.resize(static_cast<size_t>(ne0));
          for (int64_t r = begin; r < end; ++r) {
            from.dequantize(t.data + static_cast<size_t>(r) * in_row, values.data(), ne0);
            to.quantize(values.data(), out.data() + static_cast<size_t>(r) * out_row, ne0);
          }
        });
      }
      if (progress) progress({i, plan.size(), &step, t.n_bytes, out.size()});
      return Ok{};
    };
    if (auto s = writer.add_tensor(t.name, step.to, std::move(ne), producer); !s) return s.error();
  }
  return writer.write(output);
}

std::string default_quantized_path(const std::string& input, QuantMix mix) {
  const std::filesystem::path dir = std::filesystem::path(input).parent_path();
  return (dir / ("ggml-model-" + std::string(quant_mix_info(mix).name) + ".gguf")).string();
}

}  // namespace cria::engine
