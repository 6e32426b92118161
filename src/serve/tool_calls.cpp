#include "serve/tool_calls.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <random>
#include <set>

#include "grammar/json_schema.h"

namespace cria::serve {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kThinkOpen = "<think>", kThinkClose = "</think>";
constexpr std::string_view kHermesOpen = "<tool_call>", kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>", kMistralTag = "[TOOL_CALLS]";
constexpr std::string_view kFunctionOpen = "<function=", kFunctionClose = "</function>";
constexpr std::string_view kSegment = ">>>", kAllSegment = "all\n";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

size_t skip_space(std::string_view s, size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

std::string_view trim(std::string_view s) {
  const size_t a = skip_space(s, 0);
  size_t b = s.size();
  while (b > a && is_space(s[b - 1])) --b;
  return s.substr(a, b - a);
}

// The length of the longest tail of `s` that is a proper start of `word` (text that may become it).
size_t partial_tail(std::string_view s, std::string_view word) {
  for (size_t n = std::min(s.size(), word.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == word.substr(0, n)) return n;
  }
  return 0;
}

std::string call_id() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return id;
}

std::optional<Json> parse_json(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// {"name": ..., "arguments" (or "parameters"): {...} or "{...}", "id"?} as a call; nullopt otherwise.
std::optional<ToolCall> call_from_json(const Json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  ToolCall call;
  call.name = j["name"].get<std::string>();
  const char* key = j.contains("arguments") ? "arguments" : "parameters";
  if (!j.contains(key)) {
    call.arguments = "{}";
  } else if (j[key].is_object()) {
    call.arguments = j[key].dump();
  } else if (j[key].is_string() && parse_json(j[key].get<std::string>()).value_or(Json()).is_object()) {
    call.arguments = j[key].get<std::string>();
  } else {
    return std::nullopt;
  }
  call.id = j.contains("id") && j["id"].is_string() && !j["id"].get<std::string>().empty() ? j["id"].get<std::string>()
                                                                                           : call_id();
  return call;
}

bool calls_from_array(const Json& j, std::vector<ToolCall>& out) {
  if (!j.is_array() || j.empty()) return false;
  for (const Json& item : j) {
    auto call = call_from_json(item);
    if (!call) return false;
    out.push_back(std::move(*call));
  }
  return true;
}

// A GBNF string literal of `text` (names are [A-Za-z0-9_.-], so only the quotes matter).
std::string literal(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

struct Tool {
  std::string name;
  Json parameters;
};

}  // namespace

ToolFormat detect_tool_format(std::string_view t) {
  if (t.find(">>>all") != std::string_view::npos) return ToolFormat::kFunctionaryV32;
  if (t.find(kFunctionOpen) != std::string_view::npos) return ToolFormat::kFunctionaryV31;
  if (t.find(kHermesOpen) != std::string_view::npos) return ToolFormat::kHermes;
  if (t.find(kMistralTag) != std::string_view::npos) return ToolFormat::kMistral;
  if (t.find("<|start_header_id|>") != std::string_view::npos && t.find("tools") != std::string_view::npos) {
    return ToolFormat::kLlama3;
  }
  return ToolFormat::kGeneric;
}

const char* tool_format_name(ToolFormat format) {
  switch (format) {
    case ToolFormat::kGeneric: return "generic";
    case ToolFormat::kHermes: return "hermes";
    case ToolFormat::kLlama3: return "llama3";
    case ToolFormat::kMistral: return "mistral";
    case ToolFormat::kFunctionaryV31: return "functionary-v3.1";
    case ToolFormat::kFunctionaryV32: return "functionary-v3.2";
  }
  return "generic";
}

Result<ToolPlan> plan_tools(ToolFormat format, const Json& tools, const Json& tool_choice) {
  ToolPlan plan;
  plan.format = format;
  const std::string choice = tool_choice.is_string() ? tool_choice.get<std::string>() : tool_choice.is_null() ? "auto" : "";
  const bool has_tools = tools.is_array() && !tools.empty();
  if (!has_tools) {
    if (choice == "required" || tool_choice.is_object()) return make_error("tool_choice: no tools are given to choose from");
    return plan;
  }
  if (choice == "none") return plan;
  std::vector<Tool> list;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string where = "tools[" + std::to_string(i) + "]";
    const Json& t = tools[i];
    if (t.contains("type") && t["type"] != "function") return make_error(where + ".type: only \"function\" tools exist");
    if (!t.contains("function") || !t["function"].is_object()) return make_error(where + ".function: missing");
    const Json& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string()) return make_error(where + ".function.name: missing");
    const std::string name = f["name"].get<std::string>();
    const bool valid = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (!valid) return make_error(where + ".function.name: '" + name + "' is not 1-64 of a-z, A-Z, 0-9, _, - and .");
    Json params = f.contains("parameters") ? f["parameters"] : Json{{"type", "object"}, {"properties", Json::object()}};
    if (!params.is_object()) return make_error(where + ".function.parameters: must be a JSON Schema object");
    list.push_back({name, params});
  }
  if (tool_choice.is_object()) {
    const Json* f = tool_choice.contains("function") ? &tool_choice["function"] : nullptr;
    if (f == nullptr || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) {
      return make_error("tool_choice.function.name: missing");
    }
    const std::string wanted = (*f)["name"].get<std::string>();
    std::erase_if(list, [&](const Tool& t) { return t.name != wanted; });
    if (list.empty()) return make_error("tool_choice.function.name: '" + wanted + "' is not among the tools");
    plan.forced = true;
  } else if (choice == "required") {
    plan.forced = true;
  } else if (choice != "auto") {
    return make_error("tool_choice: '" + choice + "' is not \"none\", \"auto\" or \"required\"");
  }
  plan.offered = true;
  if (!plan.forced && format != ToolFormat::kGeneric) return plan;  // the model decides, in its own format

  // One call per function, its arguments under the function's parameters schema.
  std::string rules, calls;
  std::set<std::string> seen;
  const std::string args_key = format == ToolFormat::kLlama3 ? "parameters" : "arguments";
  for (size_t k = 0; k < list.size(); ++k) {
    const std::string args = "fn" + std::to_string(k) + "-args";
    auto text = grammar::json_schema_to_gbnf(list[k].parameters, args);
    if (!text) return make_error("tools: function '" + list[k].name + "' parameters: " + text.error().message);
    for (size_t at = 0; at < text->size();) {
      const size_t end = text->find('\n', at);
      const std::string line = text->substr(at, end - at);
      if (!line.empty() && seen.insert(line).second) rules += line + "\n";
      at = end == std::string::npos ? text->size() : end + 1;
    }
    std::string call;
    switch (format) {
      case ToolFormat::kFunctionaryV31: call = literal("<function=" + list[k].name + ">") + " " + args + " " + literal("</function>"); break;
      case ToolFormat::kFunctionaryV32: call = literal(list[k].name + "\n") + " " + args; break;
      default:
        call = R"("{" tc-ws "\"name\"" tc-ws ":" tc-ws )" + literal("\"" + list[k].name + "\"") + R"( tc-ws "," tc-ws )" +
               literal("\"" + args_key + "\"") + " tc-ws \":\" tc-ws " + args + R"( "}" tc-ws)";
    }
    calls += (calls.empty() ? "" : " | ") + call;
  }
  rules += "tc-call ::= " + calls + "\n";
  rules += "tc-ws ::= | \" \" | \"\\n\"\n";
  switch (format) {
    case ToolFormat::kHermes: rules += "root ::= \"<tool_call>\\n\" tc-call \"\\n\"? \"</tool_call>\"\n"; break;
    case ToolFormat::kMistral: rules += "root ::= \"[\" tc-ws tc-call \"]\"\n"; break;
    case ToolFormat::kGeneric: {
      rules += R"(tc-calls ::= "{" tc-ws "\"tool_calls\"" tc-ws ":" tc-ws "[" tc-ws tc-call "]" tc-ws "}" tc-ws)" "\n";
      if (plan.forced) {
        rules += "root ::= tc-calls\n";
      } else {
        rules += R"(tc-char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))" "\n";
        rules += R"(tc-response ::= "{" tc-ws "\"response\"" tc-ws ":" tc-ws "\"" tc-char* "\"" tc-ws "}" tc-ws)" "\n";
        rules += "root ::= tc-calls | tc-response\n";
      }
      Json described = Json::array();
      for (const Tool& t : list) described.push_back({{"name", t.name}, {"parameters", t.parameters}});
      plan.system_prompt =
          "You can call these tools: " + described.dump() +
          "\n\nTo call a tool, answer with only this JSON: {\"tool_calls\": [{\"name\": \"TOOL NAME\", \"arguments\": "
          "{ARGUMENTS}}]}" +
          (plan.forced ? std::string(". Always call a tool.") : std::string(". Otherwise answer with {\"response\": \"YOUR ANSWER\"}."));
      break;
    }
    default: rules += "root ::= tc-call\n";
  }
  plan.grammar = std::move(rules);
  return plan;
}

bool prompt_opens_thinking(std::string_view prompt) {
  const std::string_view t = trim(prompt);
  return t.size() >= kThinkOpen.size() && t.substr(t.size() - kThinkOpen.size()) == kThinkOpen;
}

ReplyParser::ReplyParser(const ToolPlan& plan, bool split_reasoning, bool starts_thinking)
    : plan_(plan), split_reasoning_(split_reasoning), starts_thinking_(starts_thinking) {}

// The reply so far split into reasoning, content and calls; unless `final`, text that may still change
// meaning (the start of a tag, a call being written) is left out.
AssistantReply ReplyParser::parse(bool final) const {
  AssistantReply out;
  const std::string_view text = text_;
  size_t pos = 0;
  if (split_reasoning_) {
    bool thinking = starts_thinking_;
    if (!thinking) {
      const size_t q = skip_space(text, 0);
      const std::string_view rest = text.substr(q);
      if (rest.starts_with(kThinkOpen)) {
        thinking = true;
        pos = q + kThinkOpen.size();
      } else if (!final && kThinkOpen.starts_with(rest)) {
        return out;  // "<thi" or only spaces: not known yet
      }
    }
    if (thinking) {
      const size_t close = text.find(kThinkClose, pos);
      if (close == std::string_view::npos) {
        const std::string_view r = text.substr(pos);
        out.reasoning = final ? r : r.substr(0, r.size() - partial_tail(r, kThinkClose));
        return out;
      }
      out.reasoning = text.substr(pos, close - pos);
      pos = skip_space(text, close + kThinkClose.size());
    }
  }
  const std::string_view region = text.substr(pos);
  if (!plan_.offered) {
    out.content = region;
    return out;
  }
  const std::string_view lead = region.substr(skip_space(region, 0));
  // Where calls may start, and what they are; content is the text before.
  switch (plan_.format) {
    case ToolFormat::kGeneric: {
      if (!final) return out;  // the whole reply is one JSON document
      auto j = parse_json(lead);
      if (j && j->is_object()) {
        if (j->contains("tool_calls") && calls_from_array((*j)["tool_calls"], out.tool_calls)) return out;
        out.tool_calls.clear();
        if (j->contains("tool_call")) {
          if (auto call = call_from_json((*j)["tool_call"])) {
            out.tool_calls.push_back(std::move(*call));
            return out;
          }
        }
        if (j->contains("response") && (*j)["response"].is_string()) {
          out.content = (*j)["response"].get<std::string>();
          return out;
        }
      }
      out.content = region;
      return out;
    }
    case ToolFormat::kFunctionaryV32: {
      // Segments after the prompt's ">>>": "all\nTEXT" or "NAME\n{...}", joined by ">>>".
      std::vector<std::string_view> segments;
      for (size_t at = 0;;) {
        const size_t next = region.find(kSegment, at);
        segments.push_back(region.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
        if (next == std::string_view::npos) break;
        at = next + kSegment.size();
      }
      for (size_t i = 0; i < segments.size(); ++i) {
        const std::string_view seg = segments[i];
        const bool last = i + 1 == segments.size();
        if (seg.starts_with(kAllSegment)) {
          std::string_view body = seg.substr(kAllSegment.size());
          if (!final && last) body = body.substr(0, body.size() - partial_tail(body, kSegment));
          out.content += body;
          continue;
        }
        if (!final) break;  // a call being written: read at the end
        const size_t nl = seg.find('\n');
        auto args = nl == std::string_view::npos ? std::nullopt : parse_json(trim(seg.substr(nl + 1)));
        if (!args || !args->is_object()) {
          out.tool_calls.clear();
          out.content = region;
          return out;
        }
        out.tool_calls.push_back({call_id(), std::string(trim(seg.substr(0, nl))), args->dump()});
      }
      return out;
    }
    default: break;
  }
  // Tagged formats: the first marker, or (llama3, and mistral when forced) a JSON value opening the reply.
  size_t start = std::string_view::npos;
  std::vector<std::string_view> markers;
  if (plan_.format == ToolFormat::kHermes) markers = {kHermesOpen};
  if (plan_.format == ToolFormat::kLlama3) markers = {kPythonTag};
  if (plan_.format == ToolFormat::kMistral) markers = {kMistralTag};
  if (plan_.format == ToolFormat::kFunctionaryV31) markers = {kFunctionOpen, kPythonTag};
  for (auto m : markers) start = std::min(start, region.find(m));
  const bool json_first = (plan_.format == ToolFormat::kLlama3 && lead.starts_with("{")) ||
                          (plan_.format == ToolFormat::kMistral && plan_.forced && lead.starts_with("["));
  if (json_first) start = region.size() - lead.size();
  if (!final) {
    if (start == std::string_view::npos) {
      if (plan_.format == ToolFormat::kLlama3 && lead.empty()) return out;  // may open with '{'
      size_t hold = 0;
      for (auto m : markers) hold = std::max(hold, partial_tail(region, m));
      out.content = region.substr(0, region.size() - hold);
    } else {
      out.content = region.substr(0, start);
    }
    return out;
  }
  if (start == std::string_view::npos) {
    out.content = region;
    return out;
  }
  out.content = region.substr(0, start);
  const std::string_view calls = region.substr(start);
  bool ok = false;
  if (plan_.format == ToolFormat::kHermes || plan_.format == ToolFormat::kFunctionaryV31) {
    ok = true;
    for (size_t at = 0; ok;) {
      at = skip_space(calls, at);
      if (at >= calls.size()) break;
      if (calls.substr(at).starts_with(kHermesOpen)) {
        const size_t body = at + kHermesOpen.size(), close = calls.find(kHermesClose, body);
        auto j = parse_json(trim(calls.substr(body, close == std::string_view::npos ? std::string_view::npos : close - body)));
        auto call = j ? call_from_json(*j) : std::nullopt;
        ok = call.has_value();
        if (ok) out.tool_calls.push_back(std::move(*call));
        at = close == std::string_view::npos ? calls.size() : close + kHermesClose.size();
      } else if (calls.substr(at).starts_with(kFunctionOpen)) {
        const size_t name_end = calls.find('>', at);
        const size_t close = calls.find(kFunctionClose, at);
        ok = name_end != std::string_view::npos && (close == std::string_view::npos || name_end < close);
        if (!ok) break;
        const size_t body = name_end + 1;
        auto j = parse_json(trim(calls.substr(body, close == std::string_view::npos ? std::string_view::npos : close - body)));
        ok = j && j->is_object();
        if (ok) {
          out.tool_calls.push_back({call_id(), std::string(calls.substr(at + kFunctionOpen.size(), name_end - at - kFunctionOpen.size())), j->dump()});
        }
        at = close == std::string_view::npos ? calls.size() : close + kFunctionClose.size();
      } else if (calls.substr(at).starts_with(kPythonTag)) {
        auto j = parse_json(trim(calls.substr(at + kPythonTag.size())));
        auto call = j ? call_from_json(*j) : std::nullopt;
        ok = call.has_value();
        if (ok) out.tool_calls.push_back(std::move(*call));
        break;
      } else {
        ok = false;
      }
    }
  } else if (plan_.format == ToolFormat::kLlama3) {
    std::string_view body = calls.starts_with(kPythonTag) ? calls.substr(kPythonTag.size()) : calls;
    auto j = parse_json(trim(body));
    if (j && j->is_array()) {
      ok = calls_from_array(*j, out.tool_calls);
    } else if (auto call = j ? call_from_json(*j) : std::nullopt) {
      out.tool_calls.push_back(std::move(*call));
      ok = true;
    }
  } else if (plan_.format == ToolFormat::kMistral) {
    std::string_view body = calls.starts_with(kMistralTag) ? calls.substr(kMistralTag.size()) : calls;
    auto j = parse_json(trim(body));
    ok = j && calls_from_array(*j, out.tool_calls);
  }
  if (!ok || out.tool_calls.empty()) {
    out.tool_calls.clear();
    out.content = region;  // not calls after all: all of it is text
  }
  return out;
}

ReplyParser::Delta ReplyParser::push(std::string_view text) {
  text_ += text;
  const AssistantReply now = parse(false);
  Delta d;
  if (now.reasoning.size() > sent_reasoning_) {
    d.reasoning = now.reasoning.substr(sent_reasoning_);
    sent_reasoning_ = now.reasoning.size();
  }
  if (now.content.size() > sent_content_) {
    d.content = now.content.substr(sent_content_);
    sent_content_ = now.content.size();
  }
  return d;
}

AssistantReply ReplyParser::finish() { return parse(true); }

ReplyParser::Delta ReplyParser::unsent(const AssistantReply& reply) const {
  // push() gave a start of each (the parse only grows), so the rest is what follows it.
  Delta d;
  if (reply.reasoning.size() > sent_reasoning_) d.reasoning = reply.reasoning.substr(sent_reasoning_);
  if (reply.content.size() > sent_content_) d.content = reply.content.substr(sent_content_);
  return d;
}

}  // namespace cria::serve
