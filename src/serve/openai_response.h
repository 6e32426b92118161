// The JSON the OpenAI-compatible API answers with: chat.completion and chat.completion.chunk,
// text_completion (whole and streamed), usage, logprobs, embeddings, models, and the server-sent event
// framing ("data: {...}\n\n", "data: [DONE]\n\n"). Shapes follow OpenAI's API reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "serve/tool_calls.h"

namespace cria::serve {

struct TopLogprob {
  std::string token;  // the token's text
  float logprob = 0;
};

struct TokenLogprob {
  std::string token;
  float logprob = 0;
  std::vector<TopLogprob> top;  // the most likely alternatives, best first
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens whose keys and values were reused (prompt_tokens_details)
};

// One choice of a finished (non-streamed) completion.
struct Choice {
  int index = 0;
  std::string text;
  std::string finish_reason;  // "stop", "length" or "tool_calls"
  std::optional<std::vector<TokenLogprob>> logprobs;  // present when asked for
  std::string reasoning;                              // chat: message.reasoning_content (when not empty)
  std::vector<ToolCall> tool_calls;                   // chat: message.tool_calls (content is null without text)
};

// What every object of one response shares.
struct ResponseHeader {
  std::string id;       // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
  std::string system_fingerprint;
};

nlohmann::ordered_json chat_completion(const ResponseHeader& h, const std::vector<Choice>& choices, const Usage& usage);
nlohmann::ordered_json text_completion(const ResponseHeader& h, const std::vector<Choice>& choices, const Usage& usage);

// Stream pieces. A chat stream's first chunk per choice carries delta.role = "assistant" (first_delta);
// the last carries finish_reason and an empty delta; with include_usage a final chunk has
// "choices": [] and the usage, and every earlier chunk "usage": null.
nlohmann::ordered_json chat_chunk(const ResponseHeader& h, int index, bool first_delta, const std::string& content,
                                  const std::optional<std::string>& finish_reason,
                                  const std::optional<std::vector<TokenLogprob>>& logprobs, bool include_usage);
// A chunk with delta.reasoning_content (when not empty) and delta.tool_calls (each whole: index, id, type,
// function {name, arguments}) beside the content.
nlohmann::ordered_json chat_chunk(const ResponseHeader& h, int index, const std::string& content,
                                  const std::string& reasoning, const std::vector<ToolCall>& tool_calls,
                                  const std::optional<std::vector<TokenLogprob>>& logprobs, bool include_usage);
// `text_offset`: characters of this choice's text sent in earlier chunks, where logprobs.text_offset of
// this chunk's first token starts (OpenAI counts it from the start of the whole text).
nlohmann::ordered_json text_chunk(const ResponseHeader& h, int index, const std::string& text,
                                  const std::optional<std::string>& finish_reason,
                                  const std::optional<std::vector<TokenLogprob>>& logprobs, bool include_usage,
                                  size_t text_offset = 0);
nlohmann::ordered_json usage_chunk(const ResponseHeader& h, const char* object, const Usage& usage);

// A response's body: compact JSON in which bytes that are not UTF-8 (GGUF metadata in `meta`, say)
// become U+FFFD instead of making dump() throw.
std::string response_body(const nlohmann::ordered_json& j);

// "data: <json>\n\n" and "data: [DONE]\n\n".
std::string sse_event(const nlohmann::ordered_json& j);
std::string sse_done();

nlohmann::ordered_json embeddings_response(const std::string& model, const std::vector<std::vector<float>>& vectors,
                                           bool base64, int prompt_tokens);
nlohmann::ordered_json models_response(const std::string& id, int64_t created, const nlohmann::ordered_json& meta);

}  // namespace cria::serve
