// OpenAI tool calling and reasoning text for the chat endpoint. The model writes a call in the format its
// chat template taught it; this file knows the common ones, makes the grammar that forces a call when
// tool_choice asks for one, and splits a reply into reasoning (`<think>...</think>`, as llama-server's
// --reasoning-format deepseek), content and tool calls, whole or as it streams.
//   hermes        <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Hermes 2/3, Qwen2.5, Qwen3)
//   llama3        {"name": ..., "parameters": {...}}, or after <|python_tag|> (Llama 3.1-3.3)
//   mistral       [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}] (Mistral Nemo, Large)
//   functionary   v3.1: <function=NAME>{...}</function>; v3.2: >>>NAME\n{...} (and >>>all\n for text)
//   generic       templates that know no tools: the tools are described in a system message and the
//                 reply is JSON, {"tool_calls": [{"name": ..., "arguments": {...}}]} or {"response": "..."},
//                 always under a grammar (as llama-server's generic format)
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cria::serve {

enum class ToolFormat { kGeneric, kHermes, kLlama3, kMistral, kFunctionaryV31, kFunctionaryV32 };

// The format a chat template's model writes calls in, from the template's text.
ToolFormat detect_tool_format(std::string_view template_text);
const char* tool_format_name(ToolFormat format);

struct ToolCall {
  std::string id;         // "call_..." (the model's own id where the format carries one)
  std::string name;
  std::string arguments;  // JSON text of an object
};

// How one request's tools are offered and read back.
struct ToolPlan {
  ToolFormat format = ToolFormat::kGeneric;
  bool offered = false;  // tools given and tool_choice is not "none": parse calls out of the reply
  bool forced = false;   // "required" or a named function: the grammar makes the reply calls only
  std::string grammar;   // GBNF the reply must follow ("" for none)
  std::string system_prompt;  // generic: the text describing the tools, to put before the messages
};

// The plan for `tools` (validated: each {"type": "function", "function": {"name", "parameters"?}}) and
// `tool_choice` (null, "none", "auto", "required" or {"type": "function", "function": {"name"}}).
// Errors name the field: a tool without a name, a named choice that is not among the tools, a parameters
// schema the grammar cannot express.
Result<ToolPlan> plan_tools(ToolFormat format, const nlohmann::ordered_json& tools,
                            const nlohmann::ordered_json& tool_choice);

struct AssistantReply {
  std::string reasoning;  // between <think> and </think>
  std::string content;
  std::vector<ToolCall> tool_calls;
};

// A reply as it streams: push() gives the reasoning and content that are final (held back: a tail that
// may be the start of </think> or of a tool call); finish() parses the whole reply, whose reasoning and
// content begin with what push() gave.
class ReplyParser {
 public:
  // `starts_thinking`: the prompt opened a <think> block (DeepSeek-R1 templates do); `split_reasoning`
  // false keeps <think> in the content.
  ReplyParser(const ToolPlan& plan, bool split_reasoning, bool starts_thinking);

  struct Delta {
    std::string reasoning, content;
  };
  Delta push(std::string_view text);
  AssistantReply finish();
  // What of the finished reply push() has not given.
  Delta unsent(const AssistantReply& reply) const;

 private:
  AssistantReply parse(bool final) const;

  ToolPlan plan_;
  bool split_reasoning_, starts_thinking_;
  std::string text_;
  size_t sent_reasoning_ = 0, sent_content_ = 0;
};

// Whether a rendered prompt leaves the reply inside a <think> block.
bool prompt_opens_thinking(std::string_view prompt);

}  // namespace cria::serve
