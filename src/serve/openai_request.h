// The requests of the OpenAI-compatible API (and llama-server's extras), parsed and validated from a raw
// body into typed values, or into the OpenAI error object to answer with. Nothing here touches a model:
// checks that need one (a prompt longer than the context, an unknown token id) happen in the server.
// Every function takes untrusted bytes and never throws: malformed JSON, a wrong type, a value out of
// range or an unknown role is an ApiError naming the field (`param`) and the problem.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "grammar/gbnf.h"
#include "sampling/sampler.h"

namespace cria::serve {

// OpenAI's error object: {"error": {"message", "type", "param", "code"}} with an HTTP status.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // or "authentication_error", "server_error", ...
  std::string param;                           // the offending field, "" for none (JSON null)
  std::string code;                            // e.g. "context_length_exceeded", "" for none
};
std::string error_json(const ApiError& error);
ApiError bad_request(std::string message, std::string param = {});

// Sampling and length fields shared by chat and text completions (OpenAI names; llama.cpp's extras).
struct GenerationFields {
  std::optional<int> max_tokens;  // max_tokens / max_completion_tokens / n_predict; none: to the context's end
  float temperature = 1.0f;       // OpenAI's default; 0..2
  float top_p = 1.0f;             // (0, 1]
  int top_k = 0;                  // llama.cpp's; 0: off
  float min_p = 0.0f;             // llama.cpp's; 0: off
  float repeat_penalty = 1.0f;    // llama.cpp's; 1: off
  float presence_penalty = 0.0f;  // -2..2
  float frequency_penalty = 0.0f; // -2..2
  std::optional<uint32_t> seed;   // none: a random seed
  std::vector<std::string> stop;  // string or list of up to 4 non-empty strings
  int n = 1;                      // choices, 1..8
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool ignore_eos = false;        // llama.cpp's
  // llama-server's sampler fields (mirostat, mirostat_tau/eta, typical_p, xtc_*, dry_*, samplers) over the
  // sampler's defaults; the fields above replace the rest of it.
  sampling::SamplingParams llama_sampling;
  // llama-server's "grammar": a GBNF grammar the output must follow (null: none).
  std::shared_ptr<const grammar::Grammar> grammar;
};

struct ChatMessage {
  std::string role;     // system, developer, user, assistant, tool
  std::string content;  // a string, or the text parts of a content array joined
  nlohmann::ordered_json raw;  // the message as sent (tool_calls, name, ...), for the template
};

struct ChatRequest {
  std::string model;  // as sent; not checked against the loaded model (as llama-server)
  std::vector<ChatMessage> messages;
  GenerationFields gen;
  bool logprobs = false;
  int top_logprobs = 0;  // 0..20; needs logprobs
  nlohmann::ordered_json tools;        // null when absent
  nlohmann::ordered_json tool_choice;  // null when absent
};

struct CompletionRequest {
  std::string model;
  // A string, or one list of token ids (a list of strings or of lists is a clear error: one prompt per request).
  std::variant<std::string, std::vector<int32_t>> prompt;
  GenerationFields gen;
  bool echo = false;
  std::optional<int> logprobs;  // 0..5: that many top alternatives per token
};

struct EmbeddingRequest {
  std::string model;
  // Each input: a string or a list of token ids. `input` may be one or a list of them (at most 2048).
  std::vector<std::variant<std::string, std::vector<int32_t>>> inputs;
  std::string encoding_format = "float";  // or "base64"
};

// llama-server's /tokenize, /detokenize and /apply-template.
struct TokenizeRequest {
  std::string content;
  bool add_special = false;
  bool with_pieces = false;
};
struct DetokenizeRequest {
  std::vector<int32_t> tokens;
};
struct ApplyTemplateRequest {
  std::vector<ChatMessage> messages;
};

template <class T>
using Parsed = std::variant<T, ApiError>;

Parsed<ChatRequest> parse_chat_request(std::string_view body);
Parsed<CompletionRequest> parse_completion_request(std::string_view body);
Parsed<EmbeddingRequest> parse_embedding_request(std::string_view body);
Parsed<TokenizeRequest> parse_tokenize_request(std::string_view body);
Parsed<DetokenizeRequest> parse_detokenize_request(std::string_view body);
Parsed<ApplyTemplateRequest> parse_apply_template_request(std::string_view body);

// The messages as a chat template receives them: [{"role", "content", ...}].
nlohmann::ordered_json template_messages(const std::vector<ChatMessage>& messages);

}  // namespace cria::serve
