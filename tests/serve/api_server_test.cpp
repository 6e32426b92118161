// The OpenAI-compatible API end to end over real HTTP on the loopback: the bundled model behind
// http::Server + ApiServer + Scheduler, driven by http::fetch. Shapes, streaming, stop strings, seeds,
// n choices, logprobs, echo, the API key, every error status, disconnects, a full queue, and 16
// concurrent streams giving exactly the tokens each gives alone.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "chat/chat_template.h"
#include "gguf/gguf_reader.h"
#include "http/client.h"
#include "http/http_server.h"
#include "model/model.h"
#include "serve/api_server.h"
#include "serve/scheduler.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace cria::serve {
namespace {

using json = nlohmann::json;

struct Server {
  std::unique_ptr<Scheduler> scheduler;
  std::shared_ptr<ApiServer> api;
  std::unique_ptr<http::Server> http;
  int port = 0;

  explicit Server(SchedulerOptions so = {}, std::string key = "", bool metrics = true, std::string chat_template = "chatml") {
    auto file = gguf::File::open(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf");
    EXPECT_TRUE(file.ok());
    auto tmpl = chat::select_template(&*file, chat_template);
    EXPECT_TRUE(tmpl.ok());
    auto tok = tokenizer::Tokenizer::load(*file);
    auto model = model::Model::from_file(std::move(*file));
    EXPECT_TRUE(model.ok() && tok.ok());
    auto shared_tok = std::make_shared<tokenizer::Tokenizer>(std::move(*tok));
    so.runner.n_threads = 2;
    so.runner.batch_invariant = true;
    auto s = Scheduler::create(*model, shared_tok, so);
    EXPECT_TRUE(s.ok()) << s.error().message;
    scheduler = std::move(*s);
    ApiOptions ao;
    ao.model_id = "kjv";
    ao.api_key = std::move(key);
    ao.metrics = metrics;
    api = std::make_shared<ApiServer>(ao);
    api->set_ready(*model, shared_tok, *tmpl, scheduler.get());
    http::ServerOptions ho;
    ho.port = 0;
    ho.error_body = &ApiServer::error_body;
    auto h = http::Server::start(ho, [a = api](std::shared_ptr<http::Exchange> ex) { a->handle(ex); });
    EXPECT_TRUE(h.ok()) << h.error().message;
    http = std::move(*h);
    port = http->port();
  }
  ~Server() {
    http->stop(std::chrono::milliseconds(0));
    scheduler->stop();
  }

  http::ClientResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                            std::vector<http::Header> headers = {}) const {
    http::ClientRequest r;
    r.port = port;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    r.headers.push_back({"Content-Type", "application/json"});
    r.timeout = std::chrono::milliseconds(60000);
    auto resp = http::fetch(r);
    EXPECT_TRUE(resp.ok()) << resp.error().message;
    return resp.ok() ? *resp : http::ClientResponse{};
  }
  json post(const std::string& target, const json& body, int expect_status = 200) const {
    auto r = call("POST", target, body.dump());
    EXPECT_EQ(r.status, expect_status) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.body;
    return j;
  }
  // The data payloads of a streamed response.
  std::vector<std::string> stream(const std::string& target, const json& body) const {
    http::ClientRequest r;
    r.port = port;
    r.method = "POST";
    r.target = target;
    r.body = body.dump();
    r.headers = {{"Content-Type", "application/json"}};
    std::string pending;
    std::vector<std::string> events;
    auto resp = http::fetch(r, [&](std::string_view piece) {
      pending.append(piece);
      http::take_sse_events(pending, [&](std::string_view d) { events.emplace_back(d); });
      return true;
    });
    EXPECT_TRUE(resp.ok());
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(resp->header("content-type").substr(0, 17), "text/event-stream");
    return events;
  }
};

json chat_body(const std::string& user, int max_tokens, double temperature = 0) {
  return json{{"model", "kjv"},
              {"messages", json::array({{{"role", "user"}, {"content", user}}})},
              {"max_tokens", max_tokens},
              {"temperature", temperature}};
}

TEST(ServeApi, HealthModelsAndTheChatPage) {
  Server s;
  auto h = s.call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["status"], "ok");
  auto m = json::parse(s.call("GET", "/v1/models").body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "kjv");
  EXPECT_EQ(m["data"][0]["object"], "model");
  auto page = s.call("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.header("content-type").find("text/html"), std::string_view::npos);
  EXPECT_EQ(s.call("GET", "/nothing").status, 404);
  EXPECT_EQ(s.call("GET", "/v1/chat/completions").status, 405);
}

TEST(ServeApi, ChatCompletionWholeAndStreamedAgree) {
  Server s;
  const json whole = s.post("/v1/chat/completions", chat_body("Who created the heaven?", 20));
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["model"], "kjv");
  ASSERT_EQ(whole["choices"].size(), 1u);
  EXPECT_EQ(whole["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(whole["usage"]["completion_tokens"], 20);
  EXPECT_GT(whole["usage"]["prompt_tokens"].get<int>(), 5);
  EXPECT_EQ(whole["usage"]["total_tokens"].get<int>(),
            whole["usage"]["prompt_tokens"].get<int>() + whole["usage"]["completion_tokens"].get<int>());
  const std::string text = whole["choices"][0]["message"]["content"];

  json body = chat_body("Who created the heaven?", 20);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  const auto events = s.stream("/v1/chat/completions", body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string streamed;
  std::string finish;
  bool saw_role = false, saw_usage = false;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json c = json::parse(events[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    if (c["choices"].empty()) {
      saw_usage = true;
      EXPECT_EQ(c["usage"]["completion_tokens"], 20);
      EXPECT_GE(c["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 1)
          << "the second identical prompt should reuse the first one's cells";
      continue;
    }
    const json& d = c["choices"][0]["delta"];
    if (d.contains("role")) saw_role = true;
    if (d.contains("content") && d["content"].is_string()) streamed += d["content"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_TRUE(saw_role);
  EXPECT_TRUE(saw_usage);
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(streamed, text);
}

TEST(ServeApi, SeedsReproduceAndStopStringsCut) {
  Server s;
  json body = chat_body("Tell me of Moses", 24, 1.0);
  body["seed"] = 1234;
  const json a = s.post("/v1/chat/completions", body);
  const json b = s.post("/v1/chat/completions", body);
  EXPECT_EQ(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);
  body["seed"] = 99;
  body["n"] = 2;
  const json two = s.post("/v1/chat/completions", body);
  ASSERT_EQ(two["choices"].size(), 2u);
  EXPECT_EQ(two["choices"][1]["index"], 1);

  const std::string text = a["choices"][0]["message"]["content"];
  ASSERT_GT(text.size(), 10u);
  json stopped = chat_body("Tell me of Moses", 24, 1.0);
  stopped["seed"] = 1234;
  const std::string stop = text.substr(text.size() / 2, 4);
  stopped["stop"] = json::array({stop});
  const json c = s.post("/v1/chat/completions", stopped);
  EXPECT_EQ(c["choices"][0]["message"]["content"], text.substr(0, text.find(stop)));
  EXPECT_EQ(c["choices"][0]["finish_reason"], "stop");
}

TEST(ServeApi, CompletionsWithEchoLogprobsAndTokenPrompts) {
  Server s;
  json body{{"prompt", "In the beginning God"}, {"max_tokens", 6}, {"temperature", 0}, {"logprobs", 3}, {"echo", true}};
  const json r = s.post("/v1/completions", body);
  EXPECT_EQ(r["object"], "text_completion");
  const std::string text = r["choices"][0]["text"];
  EXPECT_EQ(text.rfind("In the beginning God", 0), 0u) << text;
  const json& lp = r["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 6u);
  ASSERT_EQ(lp["token_logprobs"].size(), 6u);
  for (const auto& v : lp["token_logprobs"]) EXPECT_LE(v.get<double>(), 0.0);
  ASSERT_EQ(lp["top_logprobs"].size(), 6u);
  EXPECT_EQ(lp["top_logprobs"][0].size(), 3u);

  const json toks = s.post("/tokenize", json{{"content", "In the beginning God"}, {"add_special", true}});
  const json by_ids = s.post("/v1/completions", json{{"prompt", toks["tokens"]}, {"max_tokens", 6}, {"temperature", 0}});
  EXPECT_EQ(std::string(r["choices"][0]["text"]).substr(std::string("In the beginning God").size()),
            by_ids["choices"][0]["text"]);
  const json back = s.post("/detokenize", json{{"tokens", toks["tokens"]}});
  EXPECT_NE(std::string(back["content"]).find("In the beginning God"), std::string::npos);
  const json tmpl = s.post("/apply-template", json{{"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}});
  EXPECT_NE(std::string(tmpl["prompt"]).find("<|im_start|>user\nhi<|im_end|>"), std::string::npos);
}

TEST(ServeApi, EmbeddingsOfSeveralInputs) {
  Server s;
  const json r = s.post("/v1/embeddings", json{{"input", json::array({"In the beginning", "The LORD is my shepherd"})},
                                                {"model", "kjv"}});
  EXPECT_EQ(r["object"], "list");
  ASSERT_EQ(r["data"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& d = r["data"][static_cast<size_t>(i)];
    EXPECT_EQ(d["object"], "embedding");
    EXPECT_EQ(d["index"], i);
    ASSERT_EQ(d["embedding"].size(), 256u);
    double norm = 0;
    for (const auto& v : d["embedding"]) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  EXPECT_NE(r["data"][0]["embedding"], r["data"][1]["embedding"]);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), 4);
  const json b = s.post("/v1/embeddings", json{{"input", "In the beginning"}, {"encoding_format", "base64"}});
  EXPECT_TRUE(b["data"][0]["embedding"].is_string());
  EXPECT_EQ(b["data"][0]["embedding"].get<std::string>().size(), (256u * 4 + 2) / 3 * 4);
}

TEST(ServeApi, BadRequestsGetOpenAiErrorsAndTheServerCarriesOn) {
  Server s(SchedulerOptions{}, "secret-key");
  auto expect_error = [&](const http::ClientResponse& r, int status, const std::string& fragment) {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"].contains("type") && j["error"].contains("param") && j["error"].contains("code"));
    EXPECT_NE(r.body.find(fragment), std::string::npos) << r.body;
  };
  const std::vector<http::Header> key{{"Authorization", "Bearer secret-key"}};
  expect_error(s.call("POST", "/v1/chat/completions", chat_body("hi", 2).dump()), 401, "API");
  expect_error(s.call("POST", "/v1/chat/completions", chat_body("hi", 2).dump(), {{"Authorization", "Bearer wrong"}}),
               401, "API");
  expect_error(s.call("POST", "/v1/chat/completions", "{not json", key), 400, "");
  expect_error(s.call("POST", "/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "x"}]})", key), 400,
               "wizard");
  expect_error(s.call("POST", "/v1/chat/completions", R"({"messages": "hello"})", key), 400, "messages");
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "And God said, Let there be light: and there was light. ";
  const auto too_long = s.call("POST", "/v1/chat/completions", chat_body(long_text, 2).dump(), key);
  expect_error(too_long, 400, "256");
  EXPECT_NE(too_long.body.find("context_length_exceeded"), std::string::npos);
  // Still serving.
  const auto ok = s.call("POST", "/v1/chat/completions", chat_body("hi", 2).dump(), key);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(s.call("GET", "/v1/models").status, 200);  // public, as llama-server
}

TEST(ServeApi, ClientThatLeavesMidStreamFreesItsSequence) {
  Server s;
  json body = chat_body("Tell me everything", 200, 1.0);
  body["stream"] = true;
  body["ignore_eos"] = true;
  http::ClientRequest r;
  r.port = s.port;
  r.method = "POST";
  r.target = "/v1/chat/completions";
  r.body = body.dump();
  int pieces = 0;
  auto resp = http::fetch(r, [&](std::string_view) { return ++pieces < 4; });  // leaves after 3 pieces
  ASSERT_TRUE(resp.ok());
  for (int i = 0; i < 2000 && s.scheduler->metrics().requests_running != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(s.scheduler->metrics().requests_running, 0);
  EXPECT_LT(s.scheduler->metrics().generation_tokens, 200u);
  const auto metrics = s.call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("cria:num_requests_running{model_name=\"kjv\"} 0"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("cria:time_to_first_token_seconds_bucket"), std::string::npos);
}

TEST(ServeApi, SixteenConcurrentStreamsGiveTheTokensEachGivesAlone) {
  SchedulerOptions so;
  so.n_parallel = 8;
  so.n_ctx = 300;  // small: forces preemption while 16 streams compete
  Server s(so);
  auto body_for = [](int i) {
    json b = chat_body(test::kKjvPrompts[i % 8], 24, i < 8 ? 0.0 : 0.9);
    b["seed"] = 500 + i;
    b["stream"] = true;
    return b;
  };
  auto text_of = [](const std::vector<std::string>& events) {
    std::string t;
    for (const auto& e : events) {
      if (e == "[DONE]") break;
      const json c = json::parse(e);
      if (!c["choices"].empty() && c["choices"][0]["delta"].contains("content")) t += c["choices"][0]["delta"]["content"];
    }
    return t;
  };
  std::vector<std::string> alone(16), together(16);
  for (int i = 0; i < 16; ++i) alone[static_cast<size_t>(i)] = text_of(s.stream("/v1/chat/completions", body_for(i)));
  std::vector<std::thread> clients;
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] { together[static_cast<size_t>(i)] = text_of(s.stream("/v1/chat/completions", body_for(i))); });
  }
  for (auto& c : clients) c.join();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(together[static_cast<size_t>(i)], alone[static_cast<size_t>(i)]) << "stream " << i;
  EXPECT_GT(s.scheduler->metrics().preemptions, 0u) << "the small cache was meant to force preemption";
}

}  // namespace
}  // namespace cria::serve

namespace cria::serve {
namespace {

// llama-server's sampler fields: accepted and acted on; a bad one is a 400 that names it.
TEST(ServeApi, LlamaServerSamplerFields) {
  Server s;
  json body = chat_body("Tell me of Moses", 12, 1.0);
  body["seed"] = 5;
  const json plain = s.post("/v1/chat/completions", body);
  body["samplers"] = json::array({"penalties", "dry", "top_k", "typ_p", "top_p", "min_p", "xtc", "temperature"});
  EXPECT_EQ(s.post("/v1/chat/completions", body)["choices"][0]["message"]["content"],
            plain["choices"][0]["message"]["content"]);
  for (const json& extra : {json{{"mirostat", 2}, {"mirostat_tau", 3.0}, {"mirostat_eta", 0.2}},
                            json{{"typical_p", 0.5}, {"xtc_probability", 0.5}, {"xtc_threshold", 0.1}},
                            json{{"dry_multiplier", 0.8}, {"dry_base", 1.75}, {"dry_allowed_length", 2},
                                 {"dry_penalty_last_n", -1}, {"dry_sequence_breakers", {"\n"}}, {"samplers", "kt"}}}) {
    json b = body;
    b.update(extra);
    EXPECT_EQ(s.post("/v1/chat/completions", b)["choices"].size(), 1u) << extra.dump();
  }
  // DRY's sequence breakers reach the sampler: with the space and the punctuation as breakers, every repeat
  // of this raw verse is broken at once, DRY penalises nothing and the greedy text is the one without DRY;
  // with no breakers it penalises the repeated words and the text changes.
  json greedy{{"prompt", "And God said, Let there be light: and there was light. And God said, Let there be"},
              {"max_tokens", 24}, {"temperature", 0}};
  const json without_dry = s.post("/v1/completions", greedy)["choices"][0]["text"];
  greedy.update(json{{"dry_multiplier", 5.0}, {"dry_base", 1.75}, {"dry_allowed_length", 1}, {"dry_penalty_last_n", -1}});
  greedy["dry_sequence_breakers"] = json::array({" ", ",", ".", ":", ";"});
  EXPECT_EQ(s.post("/v1/completions", greedy)["choices"][0]["text"], without_dry);
  greedy["dry_sequence_breakers"] = json::array();
  EXPECT_NE(s.post("/v1/completions", greedy)["choices"][0]["text"], without_dry);
  // llama-server's "grammar": the reply follows it; a bad grammar is a 400 with its line and column.
  json constrained = chat_body("Tell me of Moses", 8, 1.0);
  constrained["grammar"] = "root ::= \" \"? (\"yes\" | \"no\")\n";
  for (int seed = 1; seed <= 3; ++seed) {
    constrained["seed"] = seed;
    const json r = s.post("/v1/chat/completions", constrained);
    const std::string content = r["choices"][0]["message"]["content"];
    EXPECT_TRUE(content == "yes" || content == "no" || content == " yes" || content == " no") << "[" << content << "]";
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  }
  constrained["grammar"] = "root ::= \"yes\"\nrot = x\n";
  const json bad_grammar = s.post("/v1/chat/completions", constrained, 400);
  EXPECT_NE(bad_grammar.dump().find("line 2, column 5: expected '::=' after 'rot'"), std::string::npos) << bad_grammar.dump();
  json bad = body;
  bad["samplers"] = "top_k;bogus";
  const json e = s.post("/v1/chat/completions", bad, 400);
  EXPECT_NE(e.dump().find("bogus"), std::string::npos) << e.dump();
  bad = body;
  bad["mirostat"] = 3;
  s.post("/v1/chat/completions", bad, 400);
}

// Tools on a model whose template has no tool format (chatml): the generic JSON format under a grammar.
// With tool_choice "required" every reply is a call whose arguments follow the function's parameters;
// streamed, the deltas reassemble to the same call; a tool's result goes back through the template.
TEST(ServeApi, ToolCallsRequiredWholeAndStreamed) {
  SchedulerOptions so;
  so.n_parallel = 2;
  so.n_ctx = 2048;
  so.ctx_per_seq = 1024;  // the tools' description is longer than the model's 256 tokens of training
  Server s(so);
  json body = chat_body("What is the weather in Jerusalem?", 120, 1.0);
  body["tools"] = json::parse(R"([
    {"type": "function", "function": {"name": "weather", "parameters": {"type": "object",
     "properties": {"city": {"type": "string", "maxLength": 20}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
     "required": ["city"]}}},
    {"type": "function", "function": {"name": "time", "parameters": {"type": "object", "properties": {}}}}])");
  body["tool_choice"] = "required";
  for (int seed = 1; seed <= 4; ++seed) {
    body["seed"] = seed;
    body["stream"] = false;
    const json r = s.post("/v1/chat/completions", body);
    const json& choice = r["choices"][0];
    ASSERT_EQ(choice["finish_reason"], "tool_calls") << r.dump();
    const json& message = choice["message"];
    EXPECT_TRUE(message["content"].is_null());
    ASSERT_EQ(message["tool_calls"].size(), 1u) << r.dump();
    const json& call = message["tool_calls"][0];
    EXPECT_EQ(call["type"], "function");
    EXPECT_EQ(call["id"].get<std::string>().substr(0, 5), "call_");
    const std::string name = call["function"]["name"];
    const json args = json::parse(call["function"]["arguments"].get<std::string>());
    if (name == "weather") {
      ASSERT_TRUE(args.contains("city") && args["city"].is_string()) << args.dump();
      EXPECT_LE(args["city"].get<std::string>().size(), 20u * 4);
      if (args.contains("days")) {
        EXPECT_TRUE(args["days"].get<int>() >= 1 && args["days"].get<int>() <= 7);
      }
    } else {
      EXPECT_EQ(name, "time");
      EXPECT_EQ(args, json::object());
    }
    body["stream"] = true;
    std::string streamed_name, streamed_args, finish;
    for (const auto& e : s.stream("/v1/chat/completions", body)) {
      if (e == "[DONE]") break;
      const json c = json::parse(e);
      const json& d = c["choices"][0]["delta"];
      if (d.contains("tool_calls")) {
        for (const json& t : d["tool_calls"]) {
          EXPECT_EQ(t["index"], 0);
          if (t["function"].contains("name")) streamed_name += t["function"]["name"].get<std::string>();
          streamed_args += t["function"]["arguments"].get<std::string>();
        }
      }
      if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(finish, "tool_calls");
    EXPECT_EQ(streamed_name, name);
    EXPECT_EQ(json::parse(streamed_args), args);
  }
  // The call and its result go back: the conversation renders and the model answers.
  json turn = chat_body("What is the weather in Jerusalem?", 8, 0);
  turn["tools"] = body["tools"];
  turn["messages"].push_back({{"role", "assistant"}, {"content", nullptr},
                              {"tool_calls", json::array({{{"id", "call_1"}, {"type", "function"},
                                                           {"function", {{"name", "time"}, {"arguments", "{}"}}}}})}});
  turn["messages"].push_back({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "noon"}});
  const json answer = s.post("/v1/chat/completions", turn);
  EXPECT_EQ(answer["choices"].size(), 1u);
  // Errors name the field; tools forced under a grammar and response_format do not combine.
  json bad = body;
  bad["tool_choice"] = json{{"type", "function"}, {"function", {{"name", "rain"}}}};
  EXPECT_EQ(s.post("/v1/chat/completions", bad, 400)["error"]["param"], "tool_choice");
  bad = body;
  bad["response_format"] = {{"type", "json_object"}};
  EXPECT_EQ(s.post("/v1/chat/completions", bad, 400)["error"]["param"], "tool_choice");
}

// A template with its own tool format (Qwen2.5's, Hermes): the tools reach the template, and a forced call
// comes back as <tool_call> JSON parsed into tool_calls.
TEST(ServeApi, ToolCallsThroughATemplatesOwnFormat) {
  const auto path = test::shared_dir() / "fixtures/templates/qwen-qwen2.5-7b-instruct.jinja";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture absent: " << path;
  SchedulerOptions so;
  so.n_parallel = 1;
  so.n_ctx = 1024;
  so.ctx_per_seq = 1024;
  Server s(so, "", true, path.string());
  json body = chat_body("Find the verse", 120, 1.0);
  body["tools"] = json::parse(R"([{"type": "function", "function": {"name": "find_verse", "parameters": {"type": "object",
    "properties": {"book": {"enum": ["Genesis", "Exodus"]}, "chapter": {"type": "integer", "minimum": 1, "maximum": 50}},
    "required": ["book", "chapter"]}}}])");
  body["tool_choice"] = "required";
  body["seed"] = 2;
  const json r = s.post("/v1/chat/completions", body);
  const json& message = r["choices"][0]["message"];
  ASSERT_EQ(r["choices"][0]["finish_reason"], "tool_calls") << r.dump();
  ASSERT_EQ(message["tool_calls"].size(), 1u);
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "find_verse");
  const json args = json::parse(message["tool_calls"][0]["function"]["arguments"].get<std::string>());
  EXPECT_TRUE(args["book"] == "Genesis" || args["book"] == "Exodus") << args.dump();
  EXPECT_TRUE(args["chapter"].get<int>() >= 1 && args["chapter"].get<int>() <= 50) << args.dump();
  // The template rendered the tools: with tool_choice "none" they are left out and the prompt is shorter.
  json none = body;
  none["tool_choice"] = "none";
  none["max_tokens"] = 1;
  const json plain = s.post("/v1/chat/completions", none);
  EXPECT_GT(r["usage"]["prompt_tokens"].get<int>(), plain["usage"]["prompt_tokens"].get<int>() + 50);
  EXPECT_FALSE(plain["choices"][0]["message"].contains("tool_calls"));
}

}  // namespace
}  // namespace cria::serve
