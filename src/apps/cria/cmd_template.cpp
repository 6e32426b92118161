// `cria template`: renders a chat template for a conversation and prints exactly the text, nothing
// added, so a template can be checked against Hugging Face's apply_chat_template output.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "commands.h"
#include "model_loading.h"
#include "tokenizer/tokenizer.h"

namespace cria::cli {

namespace {

struct TemplateOptions {
  std::string template_choice;
  std::string model;
  std::string messages_file;
  std::string tools_file;
  bool add_generation_prompt = false;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

Result<nlohmann::ordered_json> read_json(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open the " + std::string(what) + " file");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    return make_error(path + ": not valid JSON: " + e.what());
  }
}

int run(const TemplateOptions& opt) {
  if (opt.template_choice.empty() && opt.model.empty()) return fail("give --template FILE or -m MODEL");
  chat::ChatTemplateInputs in;
  auto messages = read_json(opt.messages_file, "messages");
  if (!messages) return fail(messages.error().message);
  if (!messages->is_array()) return fail(opt.messages_file + ": messages must be a JSON array of {role, content}");
  in.messages = std::move(*messages);
  if (!opt.tools_file.empty()) {
    auto tools = read_json(opt.tools_file, "tools");
    if (!tools) return fail(tools.error().message);
    in.tools = std::move(*tools);
  }
  in.add_generation_prompt = opt.add_generation_prompt;

  std::optional<gguf::File> file;
  if (!opt.model.empty()) {
    auto f = gguf::File::open(opt.model);
    if (!f) return fail(f.error().message);
    auto tok = tokenizer::Tokenizer::load(*f);
    if (!tok) return fail(tok.error().message);
    chat::set_special_token_texts(*tok, in);
    file = std::move(*f);
  }
  if (opt.bos_token) in.bos_token = *opt.bos_token;
  if (opt.eos_token) in.eos_token = *opt.eos_token;

  auto source = chat::select_template(file ? &*file : nullptr, opt.template_choice);
  if (!source) return fail(source.error().message);
  auto text = chat::apply_chat_template(*source, in);
  if (!text) return fail("template: " + text.error().message);
  std::fwrite(text->data(), 1, text->size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

void add_template_command(CLI::App& app, Action& run_action) {
  auto opt = std::make_shared<TemplateOptions>();
  CLI::App* cmd = app.add_subcommand("template", "Render a chat template for a conversation (as Hugging Face does)");
  cmd->add_option("--template", opt->template_choice, "Template file, or a built-in name (llama2, chatml, ...)");
  cmd->add_option("-m,--model", opt->model, "GGUF model: its tokenizer.chat_template and BOS/EOS token texts");
  cmd->add_option("--messages", opt->messages_file, "JSON file: [{\"role\": ..., \"content\": ...}, ...]")->required();
  cmd->add_option("--tools", opt->tools_file, "JSON file with the tools list");
  cmd->add_flag("--add-generation-prompt", opt->add_generation_prompt, "End with the assistant turn's opening");
  cmd->add_option("--bos-token", opt->bos_token, "BOS token text (default: the model's, or empty)");
  cmd->add_option("--eos-token", opt->eos_token, "EOS token text (default: the model's, or empty)");
  cmd->callback([opt, &run_action] { run_action = [opt] { return run(*opt); }; });
}

}  // namespace cria::cli
