#include "serve/api_server.h"

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "serve/openai_json.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"
#include "serve/web_page.h"

namespace cria::serve {

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

http::Response json_response(int status, const json& j) {
  http::Response r;
  r.status = status;
  r.body = dump(j);
  return r;
}


// Constant-time comparison: the time taken does not depend on where the strings differ.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// Whether the path is one of the endpoint's spellings (with or without the /v1 prefix).
bool is(const std::string& path, std::string_view name) {
  return path == name || (path.size() == name.size() + 3 && path.compare(0, 3, "/v1") == 0 &&
                          std::string_view(path).substr(3) == name);
}

}  // namespace

http::Response error_response(const ApiError& e) {
  http::Response r;
  r.status = e.status;
  r.body = error_json(e);
  if (e.status == 503 || e.status == 429) r.headers.push_back({"retry-after", "1"});
  return r;
}

void ApiServer::set_ready(std::shared_ptr<const model::Model> model,
                          std::shared_ptr<const tokenizer::Tokenizer> tokenizer, std::string chat_template,
                          Scheduler* scheduler) {
  model_ = std::move(model);
  tok_ = std::move(tokenizer);
  chat_template_ = std::move(chat_template);
  tool_format_ = detect_tool_format(chat_template_);
  scheduler_.store(scheduler);
}

std::string ApiServer::error_body(int status, std::string_view message) {
  ApiError e;
  e.status = status;
  e.message = std::string(message);
  e.type = status >= 500 ? "server_error" : "invalid_request_error";
  return error_json(e);
}

std::optional<ApiError> out_of_vocabulary(const std::vector<int32_t>& ids, int32_t n_vocab, const std::string& param) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n_vocab) {
      return bad_request(param + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                             " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")",
                         param);
    }
  }
  return std::nullopt;
}

bool ApiServer::authorized(const http::Request& r) const {
  if (options_.api_key.empty()) return true;
  std::string_view auth = r.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.size() >= kBearer.size() && auth.substr(0, kBearer.size()) == kBearer) {
    return same_secret(auth.substr(kBearer.size()), options_.api_key);
  }
  const std::string_view key = r.header("x-api-key");
  return !key.empty() && same_secret(key, options_.api_key);
}

void ApiServer::handle(const std::shared_ptr<http::Exchange>& ex) {
  const http::Request& r = ex->request();
  const std::string& path = r.path;
  auto method_not_allowed = [&] {
    ApiError e{405, "method " + r.method + " is not allowed on " + path, "invalid_request_error", "", ""};
    ex->respond(error_response(e));
  };
  if (r.method == "OPTIONS") {  // CORS preflight from browser clients
    http::Response resp;
    resp.status = 204;
    resp.content_type = "text/plain";
    resp.headers = {{"access-control-allow-methods", "GET, POST, OPTIONS"},
                    {"access-control-allow-headers", "Authorization, Content-Type, X-Api-Key"},
                    {"access-control-max-age", "86400"}};
    ex->respond(std::move(resp));
    return;
  }
  if (path == "/" || path == "/index.html") {
    if (r.method != "GET") return method_not_allowed();
    http::Response resp;
    resp.content_type = "text/html; charset=utf-8";
    resp.body = std::string(chat_page_html());
    ex->respond(std::move(resp));
    return;
  }
  Scheduler* scheduler = scheduler_.load();
  if (path == "/health" || path == "/v1/health") {
    if (scheduler == nullptr) {
      ex->respond(error_response({503, "Loading model", "unavailable_error", "", ""}));
    } else {
      ex->respond(json_response(200, json{{"status", "ok"}}));
    }
    return;
  }
  if (scheduler == nullptr) {
    ex->respond(error_response({503, "Loading model", "unavailable_error", "", ""}));
    return;
  }
  const bool public_path = is(path, "/models");
  if (!public_path && !authorized(r)) {
    ex->respond(error_response({401, "Invalid API Key", "authentication_error", "", "invalid_api_key"}));
    return;
  }
  const bool get = r.method == "GET", post = r.method == "POST";
  if (is(path, "/models")) {
    if (!get) return method_not_allowed();
    json meta{{"n_vocab", tok_->n_vocab()},
              {"n_ctx_train", model_->hparams().n_ctx_train},
              {"n_ctx_per_seq", scheduler->ctx_per_seq()},
              {"n_parallel", scheduler->n_parallel()},
              {"prefill_budget", scheduler->prefill_budget() > 0 ? json(scheduler->prefill_budget())
                                                                  : json("adaptive: 2 x generating sequences, at least " +
                                                                         std::to_string(kMinPrefillBudget))}};
    ex->respond(json_response(200, models_response(options_.model_id, options_.created, meta)));
  } else if (is(path, "/chat/completions")) {
    if (!post) return method_not_allowed();
    chat_completions(ex);
  } else if (is(path, "/completions")) {
    if (!post) return method_not_allowed();
    completions(ex);
  } else if (is(path, "/embeddings")) {
    if (!post) return method_not_allowed();
    embeddings(ex);
  } else if (path == "/tokenize") {
    if (!post) return method_not_allowed();
    tokenize(ex);
  } else if (path == "/detokenize") {
    if (!post) return method_not_allowed();
    detokenize(ex);
  } else if (path == "/apply-template") {
    if (!post) return method_not_allowed();
    apply_template(ex);
  } else if (path == "/metrics") {
    if (!get) return method_not_allowed();
    if (!options_.metrics) {
      ex->respond(error_response({501, "metrics are off; start the server with --metrics", "not_supported_error", "", ""}));
      return;
    }
    http::Response resp;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = prometheus_text(scheduler->metrics(), options_.model_id);
    ex->respond(std::move(resp));
  } else {
    ex->respond(error_response({404, "no endpoint " + r.method + " " + path, "not_found_error", "", ""}));
  }
}

void ApiServer::tokenize(const std::shared_ptr<http::Exchange>& ex) {
  auto parsed = parse_tokenize_request(ex->request().body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ex->respond(error_response(*e));
  const auto& req = std::get<TokenizeRequest>(parsed);
  const std::vector<int32_t> ids = tok_->encode(req.content, req.add_special, true);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (!req.with_pieces) {
      tokens.push_back(id);
      continue;
    }
    const std::string piece = tok_->token_to_piece(id, true);
    // A piece that is not valid UTF-8 on its own (part of a character) goes out as its bytes.
    json value = piece;
    if (!detail::is_valid_utf8(piece)) {
      value = json::array();
      for (unsigned char c : piece) value.push_back(c);
    }
    tokens.push_back(json{{"id", id}, {"piece", value}});
  }
  ex->respond(json_response(200, json{{"tokens", tokens}}));
}

void ApiServer::detokenize(const std::shared_ptr<http::Exchange>& ex) {
  auto parsed = parse_detokenize_request(ex->request().body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ex->respond(error_response(*e));
  const auto& req = std::get<DetokenizeRequest>(parsed);
  if (auto e = out_of_vocabulary(req.tokens, tok_->n_vocab(), "tokens")) return ex->respond(error_response(*e));
  ex->respond(json_response(200, json{{"content", tok_->decode(req.tokens)}}));
}

void ApiServer::apply_template(const std::shared_ptr<http::Exchange>& ex) {
  auto parsed = parse_apply_template_request(ex->request().body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return ex->respond(error_response(*e));
  const auto& req = std::get<ApplyTemplateRequest>(parsed);
  chat::ChatTemplateInputs in;
  in.messages = template_messages(req.messages);
  in.add_generation_prompt = true;
  chat::set_special_token_texts(*tok_, in);
  auto text = chat::apply_chat_template(chat_template_, in);
  if (!text) return ex->respond(error_response(bad_request("the chat template failed: " + text.error().message, "messages")));
  ex->respond(json_response(200, json{{"prompt", *text}}));
}

}  // namespace cria::serve
