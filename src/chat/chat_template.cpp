#include "chat/chat_template.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/jinja_json.h"
#include "chat/jinja_template.h"

namespace cria::chat {

namespace {

using jinja::CallArgs;
using jinja::Evaluator;
using jinja::Value;

std::string format_time(const std::string& fmt, std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  for (size_t cap = 256; cap <= (1u << 16); cap *= 4) {
    std::string buf(cap, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0 || fmt.empty()) {
      buf.resize(n);
      return buf;
    }
  }
  jinja::throw_error("ValueError", "strftime_now: the formatted date is too long");
}

// The built-in templates: our own renderings of each family's published prompt format, for models whose
// GGUF carries no tokenizer.chat_template.
struct NamedTemplate {
  const char* name;
  const char* source;
};

constexpr std::array kBuiltins = {
    NamedTemplate{"llama2", R"({%- if messages and messages[0]['role'] == 'system' -%}
{%- set system = messages[0]['content'] -%}{%- set rest = messages[1:] -%}
{%- else -%}{%- set system = '' -%}{%- set rest = messages -%}{%- endif -%}
{%- for message in rest -%}
{%- if message['role'] == 'user' -%}
{{ bos_token }}[INST] {% if loop.first and system %}<<SYS>>
{{ system }}
<</SYS>>

{% endif %}{{ message['content'] | trim }} [/INST]
{%- elif message['role'] == 'assistant' -%}
{{ ' ' + message['content'] | trim + ' ' + eos_token }}
{%- endif -%}
{%- endfor -%})"},
    NamedTemplate{"chatml", R"({%- for message in messages -%}
{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%})"},
    NamedTemplate{"llama3", R"({{- bos_token -}}
{%- for message in messages -%}
{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif -%})"},
    NamedTemplate{"mistral", R"({{- bos_token -}}
{%- set ns = namespace(system='') -%}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] + '\n\n' -%}
{%- elif message['role'] == 'user' -%}{{ '[INST] ' + ns.system + message['content'] + ' [/INST]' }}{%- set ns.system = '' -%}
{%- elif message['role'] == 'assistant' -%}{{ message['content'] + eos_token }}
{%- endif -%}
{%- endfor -%})"},
    NamedTemplate{"gemma", R"({{- bos_token -}}
{%- set ns = namespace(system='') -%}
{%- for message in messages -%}
{%- if message['role'] == 'system' -%}{%- set ns.system = message['content'] + '\n\n' -%}
{%- else -%}
{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role']) + '\n' }}
{%- if message['role'] == 'user' -%}{{ ns.system }}{%- set ns.system = '' -%}{%- endif -%}
{{ message['content'] | trim + '<end_of_turn>\n' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%})"},
    NamedTemplate{"phi3", R"({%- for message in messages -%}
{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%})"},
    NamedTemplate{"zephyr", R"({%- for message in messages -%}
{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%})"},
    NamedTemplate{"vicuna", R"({%- for message in messages -%}
{%- if message['role'] == 'system' -%}{{ message['content'] + '\n\n' }}
{%- elif message['role'] == 'user' -%}{{ 'USER: ' + message['content'] + '\n' }}
{%- elif message['role'] == 'assistant' -%}{{ 'ASSISTANT: ' + message['content'] + eos_token + '\n' }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%})"},
};

}  // namespace

Result<std::string> apply_chat_template(std::string_view template_source, const ChatTemplateInputs& inputs) {
  jinja::TemplateOptions options;
  options.limits = inputs.limits;
  auto tmpl = jinja::Template::parse(template_source, options);
  if (!tmpl) return tmpl.error();
  const std::time_t now = inputs.now ? *inputs.now : std::time(nullptr);

  jinja::Dict vars;
  try {
    vars.set("messages", jinja::value_from_json(inputs.messages));
    vars.set("tools", jinja::value_from_json(inputs.tools));
  } catch (const jinja::TemplateError& e) {
    return make_error(e.kind + ": " + e.what());
  }
  vars.set("add_generation_prompt", Value::boolean(inputs.add_generation_prompt));
  vars.set("bos_token", Value::string(inputs.bos_token));
  vars.set("eos_token", Value::string(inputs.eos_token));
  vars.set("date_string", Value::string(format_time("%d %b %Y", now)));
  vars.set("raise_exception", Value::callable("raise_exception", [](Evaluator&, CallArgs& args) -> Value {
             jinja::throw_error("TemplateError", args.positional.empty() ? "" : jinja::py_str(args.positional[0]));
           }));
  vars.set("strftime_now", Value::callable("strftime_now", [now](Evaluator&, CallArgs& args) {
             if (args.positional.empty() || !args.positional[0].is_string()) {
               jinja::throw_error("TypeError", "strftime_now needs a format string");
             }
             return Value::string(format_time(args.positional[0].str, now));
           }));
  return tmpl->render(vars);
}

const char* builtin_template(std::string_view name) {
  for (const auto& t : kBuiltins) {
    if (name == t.name) return t.source;
  }
  return nullptr;
}

std::vector<std::string> builtin_template_names() {
  std::vector<std::string> names;
  for (const auto& t : kBuiltins) names.emplace_back(t.name);
  return names;
}

namespace {

std::string joined_builtin_names() {
  std::string names;
  for (const auto& n : builtin_template_names()) names += (names.empty() ? "" : ", ") + n;
  return names;
}

}  // namespace

void set_special_token_texts(const tokenizer::Tokenizer& tok, ChatTemplateInputs& inputs) {
  const auto& vocab = tok.vocab();
  if (vocab.valid(tok.bos())) inputs.bos_token = vocab.texts[static_cast<size_t>(tok.bos())];
  if (vocab.valid(tok.eos())) inputs.eos_token = vocab.texts[static_cast<size_t>(tok.eos())];
}

Result<std::string> select_template(const gguf::File* model, const std::string& choice) {
  if (choice.empty()) {
    if (!model) return make_error("no chat template: give a template file or a built-in name");
    const gguf::Value* v = model->find("tokenizer.chat_template");
    if (!v || !v->as_string()) {
      return make_error(model->path() + ": the model has no tokenizer.chat_template; choose a built-in one (" +
                        joined_builtin_names() + ") or a template file");
    }
    return *v->as_string();
  }
  std::error_code ec;
  if (std::filesystem::is_regular_file(choice, ec)) {
    std::ifstream in(choice, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) return make_error(choice + ": cannot read the template file");
    return ss.str();
  }
  if (const char* builtin = builtin_template(choice)) return std::string(builtin);
  return make_error("'" + choice + "' is neither a template file nor a built-in template (" + joined_builtin_names() + ")");
}

}  // namespace cria::chat
