// Fuzz target: any bytes given to every OpenAI request parser give a request or an ApiError, never a
// crash, a hang or an escaping exception. An error's JSON must parse back; an accepted request must hold
// values within the documented ranges, and the responses built from it must dump without throwing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "serve/openai_request.h"
#include "serve/openai_response.h"

namespace {

using cria::serve::ApiError;
using Json = nlohmann::ordered_json;

void require(bool condition) {
  if (!condition) std::abort();
}

// The error object is what the client reads: it must be JSON whatever bytes the message quotes.
void check_error(const ApiError& e) {
  require(e.status >= 400 && e.status < 600);
  const auto j = Json::parse(cria::serve::error_json(e), nullptr, false);
  require(!j.is_discarded() && j["error"]["message"].is_string());
}

void check_generation(const cria::serve::GenerationFields& g) {
  require(!g.max_tokens || *g.max_tokens >= 1);
  require(g.temperature >= 0 && g.temperature <= 2);
  require(g.top_p > 0 && g.top_p <= 1);
  require(g.top_k >= 0 && g.min_p >= 0 && g.min_p <= 1 && g.repeat_penalty > 0);
  require(g.presence_penalty >= -2 && g.presence_penalty <= 2);
  require(g.frequency_penalty >= -2 && g.frequency_penalty <= 2);
  require(g.stop.size() <= 4 && g.n >= 1 && g.n <= 8);
  for (const auto& s : g.stop) require(!s.empty());
  require(g.stream || !g.include_usage);
}

// Token logprobs cut from `text` at every third byte, so that pieces split characters as byte tokens do.
std::vector<cria::serve::TokenLogprob> pieces(const std::string& text, int top) {
  std::vector<cria::serve::TokenLogprob> out;
  for (size_t i = 0; i < text.size() && out.size() < 64; i += 3) {
    cria::serve::TokenLogprob t{text.substr(i, 3), -0.5f * static_cast<float>(out.size()), {}};
    for (int k = 0; k < top; ++k)
      t.top.push_back({t.token + std::to_string(k), -1.0f - static_cast<float>(k)});
    out.push_back(std::move(t));
  }
  return out;
}

void exercise_chat(const cria::serve::ChatRequest& req) {
  check_generation(req.gen);
  require(!req.messages.empty() && req.top_logprobs >= 0 && req.top_logprobs <= 20);
  (void)cria::serve::response_body(cria::serve::template_messages(req.messages));
  const cria::serve::ResponseHeader h{"chatcmpl-fuzz", 1, req.model, "fp"};
  const std::string& text = req.messages.back().content;
  std::optional<std::vector<cria::serve::TokenLogprob>> logprobs;
  if (req.logprobs) logprobs = pieces(text, req.top_logprobs);
  std::vector<cria::serve::Choice> choices;
  for (int i = 0; i < req.gen.n; ++i) choices.push_back({i, text, "stop", logprobs, {}, {}});
  (void)cria::serve::chat_completion(h, choices, {1, 2, 0}).dump();
  const bool usage = req.gen.include_usage;
  (void)cria::serve::sse_event(cria::serve::chat_chunk(h, 0, true, "", std::nullopt, std::nullopt, usage));
  (void)cria::serve::chat_chunk(h, 0, false, text, std::nullopt, logprobs, usage).dump();
  (void)cria::serve::chat_chunk(h, 0, false, "", std::string("length"), std::nullopt, usage).dump();
  (void)cria::serve::usage_chunk(h, "chat.completion.chunk", {1, 2, 0}).dump();
}

void exercise_completion(const cria::serve::CompletionRequest& req) {
  check_generation(req.gen);
  require(!req.logprobs || (*req.logprobs >= 0 && *req.logprobs <= 5));
  std::string text;
  if (const auto* s = std::get_if<std::string>(&req.prompt)) {
    text = *s;
  } else {
    const auto& ids = std::get<std::vector<int32_t>>(req.prompt);
    require(!ids.empty());
    for (int32_t id : ids) require(id >= 0);
    text = std::to_string(ids.front());
  }
  const cria::serve::ResponseHeader h{"cmpl-fuzz", 1, req.model, "fp"};
  std::optional<std::vector<cria::serve::TokenLogprob>> logprobs;
  if (req.logprobs) logprobs = pieces(text, *req.logprobs);
  (void)cria::serve::text_completion(h, {{0, "echo: " + text, "length", logprobs, {}, {}}}, {1, 1, 0}).dump();
  (void)cria::serve::text_chunk(h, 0, text, std::nullopt, logprobs, req.gen.include_usage, 3).dump();
}

void exercise_embedding(const cria::serve::EmbeddingRequest& req) {
  require(!req.inputs.empty() && req.inputs.size() <= 2048);
  require(req.encoding_format == "float" || req.encoding_format == "base64");
  std::vector<std::vector<float>> vectors;
  for (const auto& input : req.inputs) {
    const size_t n = std::holds_alternative<std::string>(input)
                         ? std::get<std::string>(input).size()
                         : std::get<std::vector<int32_t>>(input).size();
    require(n > 0);
    vectors.emplace_back(n % 17, 0.25f * static_cast<float>(n));
  }
  (void)cria::serve::embeddings_response(req.model, vectors, req.encoding_format == "base64", 1).dump();
}

template <class T, class F>
void run(const cria::serve::Parsed<T>& parsed, F&& exercise) {
  if (const auto* e = std::get_if<ApiError>(&parsed)) {
    check_error(*e);
  } else {
    exercise(std::get<T>(parsed));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  run(cria::serve::parse_chat_request(body), exercise_chat);
  run(cria::serve::parse_completion_request(body), exercise_completion);
  run(cria::serve::parse_embedding_request(body), exercise_embedding);
  run(cria::serve::parse_tokenize_request(body), [](const auto&) {});
  run(cria::serve::parse_detokenize_request(body), [](const auto& req) {
    for (int32_t id : req.tokens) require(id >= 0);
  });
  run(cria::serve::parse_apply_template_request(body), [](const auto& req) {
    require(!req.messages.empty());
    (void)cria::serve::template_messages(req.messages).dump(-1, ' ', false, Json::error_handler_t::strict);
  });
  return 0;
}
