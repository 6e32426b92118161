// The response objects of the OpenAI-compatible API. Key order follows OpenAI's API reference, since
// some clients and many tests compare text. Every string that may hold bytes from a model (token
// texts, generated text, names from a GGUF file) is made valid UTF-8 here, so that a plain dump() of
// what these functions return never throws; sse_event and response_body replace bad bytes as well.
#include "serve/openai_response.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "serve/openai_json.h"

namespace cria::serve {

using detail::Json;
using detail::valid_utf8;

namespace {

// A float as the double that prints as the float's shortest form: -0.31725305f is written as
// -0.31725305, not as the double it widens to (-0.3172530531883240).
double shortest(float f) {
  if (!std::isfinite(f)) return f;
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf - 1, f).ptr;
  *end = '\0';
  return std::strtod(buf, nullptr);
}

// OpenAI writes -9999.0 for a token too unlikely to have a useful log probability; JSON has no -inf.
double logprob_value(float logprob) { return logprob >= -9999.0f ? shortest(logprob) : -9999.0; }

Json token_bytes(const std::string& token) {
  Json bytes = Json::array();
  for (unsigned char c : token) bytes.push_back(static_cast<int>(c));
  return bytes;
}

Json finish_value(const std::string& reason) { return reason.empty() ? Json(nullptr) : Json(reason); }
Json finish_value(const std::optional<std::string>& reason) {
  return reason ? finish_value(*reason) : Json(nullptr);
}

Json usage_json(const Usage& u) {
  Json j = Json::object();
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  j["prompt_tokens_details"] = Json{{"cached_tokens", u.cached_tokens}};
  return j;
}

// {"id", "object", "created", "model", "system_fingerprint"}: the start every object shares.
Json header(const ResponseHeader& h, const char* object) {
  Json j = Json::object();
  j["id"] = valid_utf8(h.id);
  j["object"] = object;
  j["created"] = h.created;
  j["model"] = valid_utf8(h.model);
  j["system_fingerprint"] = valid_utf8(h.system_fingerprint);
  return j;
}

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal": null}. `bytes`
// holds the raw token, so that clients can join tokens that split a character; `token` shows U+FFFD.
Json chat_logprobs(const std::optional<std::vector<TokenLogprob>>& logprobs) {
  if (!logprobs) return nullptr;
  Json content = Json::array();
  for (const auto& t : *logprobs) {
    Json top = Json::array();
    for (const auto& alt : t.top) {
      Json a = Json::object();
      a["token"] = valid_utf8(alt.token);
      a["logprob"] = logprob_value(alt.logprob);
      a["bytes"] = token_bytes(alt.token);
      top.push_back(std::move(a));
    }
    Json entry = Json::object();
    entry["token"] = valid_utf8(t.token);
    entry["logprob"] = logprob_value(t.logprob);
    entry["bytes"] = token_bytes(t.token);
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  Json j = Json::object();
  j["content"] = std::move(content);
  j["refusal"] = nullptr;
  return j;
}

// Characters (not bytes) that `text` holds, as Python counts a str: lead bytes only. A token that ends
// inside a character counts that character once, where it starts.
size_t char_count(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

// Text completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"},
// the offsets in characters from the start of the choice's text, the first token at `offset`.
Json text_logprobs(const std::optional<std::vector<TokenLogprob>>& logprobs, size_t offset) {
  if (!logprobs) return nullptr;
  Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array(),
       offsets = Json::array();
  for (const auto& t : *logprobs) {
    tokens.push_back(valid_utf8(t.token));
    token_logprobs.push_back(logprob_value(t.logprob));
    Json top = Json::object();
    for (const auto& alt : t.top) {
      // Two tokens can show the same text (a broken character): the first, more likely, is kept.
      top.emplace(valid_utf8(alt.token), logprob_value(alt.logprob));
    }
    top_logprobs.push_back(std::move(top));
    offsets.push_back(offset);
    offset += char_count(t.token);
  }
  Json j = Json::object();
  j["tokens"] = std::move(tokens);
  j["token_logprobs"] = std::move(token_logprobs);
  j["top_logprobs"] = std::move(top_logprobs);
  j["text_offset"] = std::move(offsets);
  return j;
}

// Where the logprob tokens start in a whole choice's text: they cover its end (an echoed prompt comes
// before them), or, when they do not, its start.
size_t first_token_offset(const Choice& c) {
  if (!c.logprobs) return 0;
  std::string generated;
  for (const auto& t : *c.logprobs) generated += t.token;
  if (!c.text.ends_with(generated)) return 0;
  return char_count(std::string_view(c.text).substr(0, c.text.size() - generated.size()));
}

std::string base64_floats(const std::vector<float>& v) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  bytes.reserve(v.size() * 4);
  for (float f : v) {
    uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    for (int k = 0; k < 4; ++k) bytes += static_cast<char>((bits >> (8 * k)) & 0xFF);  // little-endian
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) {
      group = (group << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

Json tool_calls_json(const std::vector<ToolCall>& calls, bool indexed) {
  Json list = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    Json call = Json::object();
    if (indexed) call["index"] = i;
    call["id"] = valid_utf8(calls[i].id);
    call["type"] = "function";
    call["function"] = {{"name", valid_utf8(calls[i].name)}, {"arguments", valid_utf8(calls[i].arguments)}};
    list.push_back(std::move(call));
  }
  return list;
}

}  // namespace

nlohmann::ordered_json chat_completion(const ResponseHeader& h, const std::vector<Choice>& choices,
                                       const Usage& usage) {
  Json j = header(h, "chat.completion");
  Json list = Json::array();
  for (const auto& c : choices) {
    Json message = Json::object();
    message["role"] = "assistant";
    message["content"] = c.text.empty() && !c.tool_calls.empty() ? Json(nullptr) : Json(valid_utf8(c.text));
    if (!c.reasoning.empty()) message["reasoning_content"] = valid_utf8(c.reasoning);
    message["refusal"] = nullptr;
    if (!c.tool_calls.empty()) message["tool_calls"] = tool_calls_json(c.tool_calls, false);
    Json choice = Json::object();
    choice["index"] = c.index;
    choice["message"] = std::move(message);
    choice["logprobs"] = chat_logprobs(c.logprobs);
    choice["finish_reason"] = finish_value(c.finish_reason);
    list.push_back(std::move(choice));
  }
  j["choices"] = std::move(list);
  j["usage"] = usage_json(usage);
  return j;
}

nlohmann::ordered_json text_completion(const ResponseHeader& h, const std::vector<Choice>& choices,
                                       const Usage& usage) {
  Json j = header(h, "text_completion");
  Json list = Json::array();
  for (const auto& c : choices) {
    Json choice = Json::object();
    choice["text"] = valid_utf8(c.text);
    choice["index"] = c.index;
    choice["logprobs"] = text_logprobs(c.logprobs, first_token_offset(c));
    choice["finish_reason"] = finish_value(c.finish_reason);
    list.push_back(std::move(choice));
  }
  j["choices"] = std::move(list);
  j["usage"] = usage_json(usage);
  return j;
}

nlohmann::ordered_json chat_chunk(const ResponseHeader& h, int index, const std::string& content,
                                  const std::string& reasoning, const std::vector<ToolCall>& tool_calls,
                                  const std::optional<std::vector<TokenLogprob>>& logprobs, bool include_usage) {
  Json j = chat_chunk(h, index, false, content, std::nullopt, logprobs, include_usage);
  Json& delta = j["choices"][0]["delta"];
  if (content.empty()) delta.erase("content");
  if (!reasoning.empty()) delta["reasoning_content"] = valid_utf8(reasoning);
  if (!tool_calls.empty()) delta["tool_calls"] = tool_calls_json(tool_calls, true);
  return j;
}

nlohmann::ordered_json chat_chunk(const ResponseHeader& h, int index, bool first_delta,
                                  const std::string& content, const std::optional<std::string>& finish_reason,
                                  const std::optional<std::vector<TokenLogprob>>& logprobs,
                                  bool include_usage) {
  Json j = header(h, "chat.completion.chunk");
  // OpenAI's first delta is {"role": "assistant", "content": "", "refusal": null}, the next ones
  // {"content": "..."}, and the one that finishes {} unless it still brings text.
  Json delta = Json::object();
  if (first_delta) {
    delta["role"] = "assistant";
    delta["content"] = valid_utf8(content);
    delta["refusal"] = nullptr;
  } else if (!content.empty() || !finish_reason) {
    delta["content"] = valid_utf8(content);
  }
  Json choice = Json::object();
  choice["index"] = index;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = chat_logprobs(logprobs);
  choice["finish_reason"] = finish_value(finish_reason);
  j["choices"] = Json::array({std::move(choice)});
  if (include_usage) j["usage"] = nullptr;
  return j;
}

nlohmann::ordered_json text_chunk(const ResponseHeader& h, int index, const std::string& text,
                                  const std::optional<std::string>& finish_reason,
                                  const std::optional<std::vector<TokenLogprob>>& logprobs,
                                  bool include_usage, size_t text_offset) {
  Json j = header(h, "text_completion");
  Json choice = Json::object();
  choice["text"] = valid_utf8(text);
  choice["index"] = index;
  choice["logprobs"] = text_logprobs(logprobs, text_offset);
  choice["finish_reason"] = finish_value(finish_reason);
  j["choices"] = Json::array({std::move(choice)});
  if (include_usage) j["usage"] = nullptr;
  return j;
}

nlohmann::ordered_json usage_chunk(const ResponseHeader& h, const char* object, const Usage& usage) {
  Json j = header(h, object);
  j["choices"] = Json::array();
  j["usage"] = usage_json(usage);
  return j;
}

std::string response_body(const nlohmann::ordered_json& j) { return detail::dump_compact(j); }

std::string sse_event(const nlohmann::ordered_json& j) { return "data: " + detail::dump_compact(j) + "\n\n"; }

std::string sse_done() { return "data: [DONE]\n\n"; }

nlohmann::ordered_json embeddings_response(const std::string& model,
                                           const std::vector<std::vector<float>>& vectors, bool base64,
                                           int prompt_tokens) {
  Json data = Json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    Json item = Json::object();
    item["object"] = "embedding";
    item["index"] = i;
    if (base64) {
      item["embedding"] = base64_floats(vectors[i]);
    } else {
      Json values = Json::array();
      values.get_ref<Json::array_t&>().reserve(vectors[i].size());
      for (float f : vectors[i]) values.push_back(shortest(f));
      item["embedding"] = std::move(values);
    }
    data.push_back(std::move(item));
  }
  Json j = Json::object();
  j["object"] = "list";
  j["data"] = std::move(data);
  j["model"] = valid_utf8(model);
  j["usage"] = Json{{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}};
  return j;
}

nlohmann::ordered_json models_response(const std::string& id, int64_t created,
                                       const nlohmann::ordered_json& meta) {
  Json model = Json::object();
  model["id"] = valid_utf8(id);
  model["object"] = "model";
  model["created"] = created;
  model["owned_by"] = "cria";
  model["meta"] = meta;
  Json j = Json::object();
  j["object"] = "list";
  j["data"] = Json::array({std::move(model)});
  return j;
}

}  // namespace cria::serve
