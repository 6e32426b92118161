// The OpenAI-compatible API over HTTP: routes each request of the HTTP layer to its endpoint, checks the
// API key, and runs completions on the scheduler. Endpoints: /v1/chat/completions, /v1/completions,
// /v1/embeddings, /v1/models, /health, /tokenize, /detokenize, /apply-template, /metrics and the chat
// page at /. Paths without the /v1 prefix are accepted too, as llama-server does.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/http_server.h"
#include "model/model.h"
#include "serve/openai_request.h"
#include "serve/scheduler.h"
#include "serve/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace cria::serve {

struct ApiOptions {
  std::string model_id;            // what /v1/models and responses call the model (--alias or file name)
  std::string api_key;             // empty: no key needed
  bool metrics = false;            // /metrics answers (llama-server's --metrics)
  int64_t created = 0;             // when the model was loaded (Unix seconds)
  // <think>...</think> goes to message.reasoning_content (llama-server's --reasoning-format deepseek);
  // false keeps it in the content (none).
  bool split_reasoning = true;
};

// An OpenAI error object as an HTTP response (with Retry-After on 429 and 503).
http::Response error_response(const ApiError& e);
// The error for the first token id of `ids` outside 0 .. n_vocab - 1 ("param[i] = id is outside ..."), if any.
std::optional<ApiError> out_of_vocabulary(const std::vector<int32_t>& ids, int32_t n_vocab, const std::string& param);

class ApiServer {
 public:
  explicit ApiServer(ApiOptions options) : options_(std::move(options)) {}

  // The HTTP layer's handler, for any I/O thread. Until set_ready(), everything but the chat page and
  // /health (503 "Loading model") answers 503.
  void handle(const std::shared_ptr<http::Exchange>& ex);
  // The model is loaded: called once, before any request can see the scheduler.
  void set_ready(std::shared_ptr<const model::Model> model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                 std::string chat_template, Scheduler* scheduler);

  // A JSON error body in OpenAI's shape, for the HTTP layer's own answers (400, 408, 413).
  static std::string error_body(int status, std::string_view message);

 private:
  void chat_completions(const std::shared_ptr<http::Exchange>& ex);
  void completions(const std::shared_ptr<http::Exchange>& ex);
  void embeddings(const std::shared_ptr<http::Exchange>& ex);
  void tokenize(const std::shared_ptr<http::Exchange>& ex);
  void detokenize(const std::shared_ptr<http::Exchange>& ex);
  void apply_template(const std::shared_ptr<http::Exchange>& ex);
  bool authorized(const http::Request& r) const;

  ApiOptions options_;
  std::shared_ptr<const model::Model> model_;
  std::shared_ptr<const tokenizer::Tokenizer> tok_;
  std::string chat_template_;
  ToolFormat tool_format_ = ToolFormat::kGeneric;  // of chat_template_
  // Set last by set_ready: a handler that sees it non-null sees the members above set too.
  std::atomic<Scheduler*> scheduler_{nullptr};
};

}  // namespace cria::serve
