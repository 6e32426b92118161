// Quantization mixes: which tensor type each tensor of a model gets when a file is written as "Q4_K_M",
// "Q4_0", ... (llama-quantize's `llama_tensor_get_type`, FORMATS.md 3.4). A mix has a default type; the
// rules raise the precision of the tensors that hurt most when quantized (output, attn_v, ffn_down in
// chosen layers) and fall back to another type when a row length does not fit the block size.
// Shared by `cria synth` and `cria quantize`, so that both produce the files llama-quantize would.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "quant/type_table.h"

namespace cria {

// One value per llama.cpp file type that cria can produce.
enum class QuantMix {
  F32,
  F16,
  BF16,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q2_K,
  Q3_K_S,
  Q3_K_M,
  Q3_K_L,
  Q4_K_S,
  Q4_K_M,
  Q5_K_S,
  Q5_K_M,
  Q6_K,
  IQ4_NL,
  IQ4_XS,
  TQ1_0,
  TQ2_0,
};

struct QuantMixInfo {
  QuantMix mix;
  std::string_view name;     // as llama-quantize spells it: "Q4_K_M"
  TensorType default_type;   // the type of every weight no rule changes
  uint32_t file_type;        // general.file_type (llama_ftype; not the same numbers as TensorType)
};

std::span<const QuantMixInfo> all_quant_mixes();
const QuantMixInfo& quant_mix_info(QuantMix mix);

// Case-insensitive. Accepts llama-quantize's aliases: Q3_K, Q4_K and Q5_K mean their _M mixes.
std::optional<QuantMix> find_quant_mix(std::string_view name);

// Every accepted name, comma-separated, for help texts and error messages.
std::string quant_mix_names();

// llama.cpp's description of a general.file_type value ("Q4_K - Medium"), as llama-bench and
// llama-cli print it; "unknown, may not work" for values it does not know.
std::string_view file_type_description(uint32_t file_type);

// llama-quantize's use_more_bits: the first and last eighth of the layers and every third one between.
bool use_more_bits(int layer, int n_layer);

// Whether a tensor is quantized at all: 2-D weights and 3-D expert weights are; norms, biases, rope factors
// and MoE routers (ffn_gate_inp) stay as they are.
bool is_quantizable_tensor(std::string_view tensor_name, int n_dims);

// What the rules need to know of the model as a whole (llama-quantize reads it from the hyperparameters
// and the tensor list).
struct MixModel {
  int n_layer = 0;
  int n_gqa = 1;            // n_head / n_head_kv
  bool has_output = true;   // whether output.weight exists; without it token_embd.weight is the output head
  uint32_t n_expert = 0;    // expert_count (0: a dense model); the Mixtral rules apply at exactly 8
};

// The type of one quantizable tensor in a `mix` file. `layer` is the tensor's block index (ignored for
// tensors outside blocks), `ne0` the row length. F32/F16/BF16 mixes put every quantizable tensor in that
// type. Expert tensors (ffn_*_exps, 3-D) follow the rules of their dense counterparts, by layer.
TensorType choose_tensor_type(QuantMix mix, const std::string& tensor_name, int layer, int64_t ne0,
                              const MixModel& model);

// The type llama-quantize substitutes when `type`'s block size does not divide `ne0` (Q4_K -> Q5_0, ...,
// F16 when even the substitute does not fit); `type` itself when it fits.
TensorType fallback_for_row_length(TensorType type, int64_t ne0);

}  // namespace cria
