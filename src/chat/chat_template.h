// Chat templates: render a conversation the way Hugging Face's apply_chat_template does (Jinja2 with
// trim_blocks and lstrip_blocks, tojson, raise_exception, strftime_now), and the built-in named
// templates used when a model carries none.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_eval.h"
#include "core/result.h"
#include "gguf/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace cria::chat {

struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{"role": ..., "content": ...}, ...]
  nlohmann::ordered_json tools = nullptr;                              // null unless tools are offered
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  std::optional<std::time_t> now;  // strftime_now and date_string; default: the current time
  jinja::RenderLimits limits;
};

// Renders `template_source`. An exception the template raises, or an exceeded limit, is the error.
Result<std::string> apply_chat_template(std::string_view template_source, const ChatTemplateInputs& inputs);

// Built-in templates by name ("llama2", "chatml", "llama3", ...); nullptr for an unknown name.
const char* builtin_template(std::string_view name);
std::vector<std::string> builtin_template_names();

// The model's BOS and EOS token texts, as templates receive them in bos_token / eos_token.
void set_special_token_texts(const tokenizer::Tokenizer& tok, ChatTemplateInputs& inputs);

// The template text to use: `choice` is a built-in name or a template file; empty means the model's
// tokenizer.chat_template (`model` may be null when there is no model). Errors name what was missing.
Result<std::string> select_template(const gguf::File* model, const std::string& choice);

}  // namespace cria::chat
