// The OpenAI request parsers: every field's accepted values and each rejection (its `param` and a piece
// of its message), then hostile bodies: malformed JSON, deep nesting, huge numbers, invalid UTF-8.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "grammar/matcher.h"
#include "serve/openai_request.h"

namespace cria::serve {
namespace {

using Json = nlohmann::ordered_json;

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t k = 0; k < n; ++k) out += s;
  return out;
}

// Bodies with `extra` members spliced in after the required ones.
std::string chat_body(const std::string& extra = "") {
  return R"({"model":"m","messages":[{"role":"user","content":"Hi"}])" + (extra.empty() ? "" : "," + extra) +
         "}";
}
std::string completion_body(const std::string& extra = "") {
  return R"({"model":"m","prompt":"Once")" + (extra.empty() ? "" : "," + extra) + "}";
}

// The request (by value: callers pass the parser's temporary result), or a failure and a default one.
template <class T>
T ok(const Parsed<T>& parsed, const std::string& label) {
  if (const auto* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << label << ": rejected: " << error->message << " (param " << error->param << ")";
    return T{};
  }
  return std::get<T>(parsed);
}

struct Rejection {
  std::string body;
  std::string param;         // the expected `param`
  std::string message_part;  // a piece of the expected message
};

// The body must be rejected with status 400, the param and message expected, and an error object that
// is valid JSON.
template <class T>
void expect_rejected(const Parsed<T>& parsed, const Rejection& r) {
  const auto* error = std::get_if<ApiError>(&parsed);
  ASSERT_NE(error, nullptr) << r.body << ": accepted";
  EXPECT_EQ(error->status, 400) << r.body;
  EXPECT_EQ(error->type, "invalid_request_error") << r.body;
  EXPECT_EQ(error->param, r.param) << r.body << ": " << error->message;
  EXPECT_NE(error->message.find(r.message_part), std::string::npos) << r.body << ": " << error->message;
  const auto j = Json::parse(error_json(*error), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string());
}

TEST(OpenAiRequest, ErrorJsonHasOpenAisShape) {
  EXPECT_EQ(
      error_json(bad_request("'n' must be an integer between 1 and 8, got 9", "n")),
      R"({"error":{"message":"'n' must be an integer between 1 and 8, got 9","type":"invalid_request_error",)"
      R"("param":"n","code":null}})");
  EXPECT_EQ(
      error_json(ApiError{401, "no key", "authentication_error", "", "invalid_api_key"}),
      R"({"error":{"message":"no key","type":"authentication_error","param":null,"code":"invalid_api_key"}})");
  // Bytes that are not UTF-8 in a message become U+FFFD rather than an exception.
  EXPECT_EQ(
      error_json(bad_request("bad \xff byte")),
      "{\"error\":{\"message\":\"bad \xEF\xBF\xBD byte\",\"type\":\"invalid_request_error\",\"param\":null,"
      "\"code\":null}}");
}

TEST(OpenAiRequest, ChatDefaultsFollowOpenAi) {
  const auto& req = ok(parse_chat_request(chat_body()), "minimal chat");
  EXPECT_EQ(req.model, "m");
  ASSERT_EQ(req.messages.size(), 1u);
  EXPECT_EQ(req.messages[0].role, "user");
  EXPECT_EQ(req.messages[0].content, "Hi");
  EXPECT_EQ(req.messages[0].raw, Json::parse(R"({"role":"user","content":"Hi"})"));
  const GenerationFields defaults;
  EXPECT_EQ(req.gen.max_tokens, std::nullopt);
  EXPECT_EQ(req.gen.temperature, defaults.temperature);
  EXPECT_EQ(req.gen.top_p, 1.0f);
  EXPECT_EQ(req.gen.n, 1);
  EXPECT_FALSE(req.gen.stream);
  EXPECT_FALSE(req.gen.seed);
  EXPECT_TRUE(req.gen.stop.empty());
  EXPECT_FALSE(req.logprobs);
  EXPECT_TRUE(req.tools.is_null());
  EXPECT_TRUE(req.tool_choice.is_null());
  // No model is fine (llama-server's clients often leave it out).
  ok(parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})"), "no model");
}

struct Accepted {
  std::string extra;
  std::function<void(const GenerationFields&)> check;
};

TEST(OpenAiRequest, GenerationFieldsAccepted) {
  const Accepted cases[] = {
      {R"("max_tokens":5)", [](const auto& g) { EXPECT_EQ(g.max_tokens, 5); }},
      {R"("max_tokens":null)", [](const auto& g) { EXPECT_EQ(g.max_tokens, std::nullopt); }},
      {R"("max_tokens":2147483647)", [](const auto& g) { EXPECT_EQ(g.max_tokens, 2147483647); }},
      {R"("max_completion_tokens":7,"max_tokens":5)", [](const auto& g) { EXPECT_EQ(g.max_tokens, 7); }},
      {R"("max_tokens":5,"max_completion_tokens":7)", [](const auto& g) { EXPECT_EQ(g.max_tokens, 7); }},
      {R"("n_predict":9)", [](const auto& g) { EXPECT_EQ(g.max_tokens, 9); }},
      {R"("n_predict":-1)", [](const auto& g) { EXPECT_EQ(g.max_tokens, std::nullopt); }},
      {R"("n_predict":9,"max_tokens":3)", [](const auto& g) { EXPECT_EQ(g.max_tokens, 3); }},
      {R"("temperature":0)", [](const auto& g) { EXPECT_EQ(g.temperature, 0.0f); }},
      {R"("temperature":2)", [](const auto& g) { EXPECT_EQ(g.temperature, 2.0f); }},
      {R"("temperature":0.7)", [](const auto& g) { EXPECT_EQ(g.temperature, 0.7f); }},
      {R"("temperature":null)", [](const auto& g) { EXPECT_EQ(g.temperature, 1.0f); }},
      {R"("temperature":-0.0)", [](const auto& g) { EXPECT_EQ(g.temperature, 0.0f); }},
      {R"("top_p":1)", [](const auto& g) { EXPECT_EQ(g.top_p, 1.0f); }},
      {R"("top_p":1e-9)", [](const auto& g) { EXPECT_GT(g.top_p, 0.0f); }},
      {R"("top_k":0)", [](const auto& g) { EXPECT_EQ(g.top_k, 0); }},
      {R"("top_k":40)", [](const auto& g) { EXPECT_EQ(g.top_k, 40); }},
      {R"("min_p":0.05)", [](const auto& g) { EXPECT_EQ(g.min_p, 0.05f); }},
      {R"("min_p":1)", [](const auto& g) { EXPECT_EQ(g.min_p, 1.0f); }},
      {R"("repeat_penalty":1.1)", [](const auto& g) { EXPECT_EQ(g.repeat_penalty, 1.1f); }},
      {R"("repeat_penalty":0.5)", [](const auto& g) { EXPECT_EQ(g.repeat_penalty, 0.5f); }},
      {R"("presence_penalty":-2,"frequency_penalty":2)",
       [](const auto& g) {
         EXPECT_EQ(g.presence_penalty, -2.0f);
         EXPECT_EQ(g.frequency_penalty, 2.0f);
       }},
      {R"("seed":42)", [](const auto& g) { EXPECT_EQ(g.seed, 42u); }},
      {R"("seed":0)", [](const auto& g) { EXPECT_EQ(g.seed, 0u); }},
      // 64-bit seeds keep their low 32 bits; negative ones their two's complement bits.
      {R"("seed":-1)", [](const auto& g) { EXPECT_EQ(g.seed, 0xFFFFFFFFu); }},
      {R"("seed":4294967297)", [](const auto& g) { EXPECT_EQ(g.seed, 1u); }},
      {R"("seed":18446744073709551615)", [](const auto& g) { EXPECT_EQ(g.seed, 0xFFFFFFFFu); }},
      {R"("seed":-9223372036854775808)", [](const auto& g) { EXPECT_EQ(g.seed, 0u); }},
      {R"("seed":null)", [](const auto& g) { EXPECT_FALSE(g.seed); }},
      {R"("stop":"\n")", [](const auto& g) { EXPECT_EQ(g.stop, std::vector<std::string>{"\n"}); }},
      {R"("stop":["a","b","c","d"])",
       [](const auto& g) {
         EXPECT_EQ(g.stop, (std::vector<std::string>{"a", "b", "c", "d"}));
       }},
      {R"("stop":[])", [](const auto& g) { EXPECT_TRUE(g.stop.empty()); }},
      {R"("stop":null)", [](const auto& g) { EXPECT_TRUE(g.stop.empty()); }},
      {R"("n":8)", [](const auto& g) { EXPECT_EQ(g.n, 8); }},
      {R"("stream":true)",
       [](const auto& g) {
         EXPECT_TRUE(g.stream);
         EXPECT_FALSE(g.include_usage);
       }},
      {R"("stream":true,"stream_options":{"include_usage":true})",
       [](const auto& g) {
         EXPECT_TRUE(g.stream);
         EXPECT_TRUE(g.include_usage);
       }},
      {R"("stream":true,"stream_options":{})", [](const auto& g) { EXPECT_FALSE(g.include_usage); }},
      {R"("stream":false,"stream_options":null)", [](const auto& g) { EXPECT_FALSE(g.stream); }},
      {R"("ignore_eos":true)", [](const auto& g) { EXPECT_TRUE(g.ignore_eos); }},
      // Fields clients send that change nothing here are ignored, whatever their type.
      {R"("user":"u-1","metadata":{"a":"b"},"store":true,"parallel_tool_calls":false,"service_tier":"auto",)"
       R"("logit_bias":{"50256":-100},"user":7)",
       [](const auto& g) { EXPECT_EQ(g.n, 1); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.extra);
    c.check(ok(parse_chat_request(chat_body(c.extra)), "chat").gen);
    c.check(ok(parse_completion_request(completion_body(c.extra)), "completion").gen);
  }
}

TEST(OpenAiRequest, GenerationFieldsRejected) {
  const Rejection cases[] = {
      {R"("temperature":"hot")", "temperature",
       R"('temperature' must be a number between 0 and 2, got "hot")"},
      {R"("temperature":2.5)", "temperature", "got 2.5"},
      {R"("temperature":-0.1)", "temperature", "between 0 and 2"},
      {R"("temperature":true)", "temperature", "got true"},
      {R"("temperature":[1])", "temperature", "got [1]"},
      {R"("temperature":"NaN")", "temperature", "got \"NaN\""},
      {R"("temperature":1e308)", "temperature", "between 0 and 2"},
      {R"("top_p":0)", "top_p", "'top_p' must be a number greater than 0 and at most 1, got 0"},
      {R"("top_p":1.5)", "top_p", "got 1.5"},
      {R"("top_p":1e-50)", "top_p", "greater than 0"},  // above 0, but 0 as a float
      {R"("top_k":-1)", "top_k", "'top_k' must be an integer between 0 and 2147483647, got -1"},
      {R"("top_k":1.5)", "top_k", "got 1.5"},
      {R"("top_k":"4")", "top_k", "got \"4\""},
      {R"("min_p":1.01)", "min_p", "between 0 and 1"},
      {R"("repeat_penalty":0)", "repeat_penalty", "'repeat_penalty' must be a number greater than 0, got 0"},
      {R"("repeat_penalty":-1)", "repeat_penalty", "greater than 0"},
      {R"("repeat_penalty":1e300)", "repeat_penalty",
       "'repeat_penalty' must be a number that fits a float, got 1e+300"},
      {R"("presence_penalty":2.1)", "presence_penalty", "between -2 and 2"},
      {R"("frequency_penalty":-3)", "frequency_penalty", "between -2 and 2"},
      {R"("seed":1.5)", "seed", "'seed' must be an integer, got 1.5"},
      {R"("seed":"7")", "seed", "an integer"},
      {R"("seed":true)", "seed", "an integer"},
      {R"("stop":"")", "stop", "a non-empty string or an array of up to 4 non-empty strings"},
      {R"("stop":["a",""])", "stop[1]", "a non-empty string"},
      {R"("stop":["a","b","c","d","e"])", "stop", "up to 4"},
      {R"("stop":3)", "stop", "got 3"},
      {R"("stop":[1])", "stop[0]", "got 1"},
      {R"("n":0)", "n", "'n' must be an integer between 1 and 8, got 0"},
      {R"("n":9)", "n", "got 9"},
      {R"("n":2.0)", "n", "an integer"},
      {R"("stream":"yes")", "stream", "'stream' must be a boolean"},
      {R"("stream":1)", "stream", "a boolean"},
      {R"("stream_options":{"include_usage":true})", "stream_options", "only allowed when 'stream' is true"},
      {R"("stream":false,"stream_options":{"include_usage":true})", "stream_options", "only allowed"},
      {R"("stream":true,"stream_options":5)", "stream_options", "an object"},
      {R"("stream":true,"stream_options":{"include_usage":"yes"})", "stream_options.include_usage",
       "a boolean"},
      {R"("ignore_eos":1)", "ignore_eos", "a boolean"},
      {R"("max_tokens":0)", "max_tokens", "'max_tokens' must be an integer between 1 and 2147483647, got 0"},
      {R"("max_tokens":-5)", "max_tokens", "got -5"},
      {R"("max_tokens":1.5)", "max_tokens", "an integer"},
      {R"("max_tokens":"10")", "max_tokens", "an integer"},
      {R"("max_tokens":3000000000)", "max_tokens", "got 3000000000"},
      {R"("max_tokens":1e20)", "max_tokens", "an integer"},
      {R"("max_tokens":99999999999999999999)", "max_tokens", "an integer"},
      {R"("max_tokens":true)", "max_tokens", "got true"},
      {R"("max_completion_tokens":0)", "max_completion_tokens", "between 1 and"},
      {R"("max_tokens":4,"max_completion_tokens":"x")", "max_completion_tokens", "an integer"},
      {R"("n_predict":0)", "n_predict", "-1 (no limit) or an integer between 1 and 2147483647"},
      {R"("n_predict":-2)", "n_predict", "got -2"},
      {R"("n_predict":18446744073709551615)", "n_predict", "got 18446744073709551615"},
      {R"("model":5)", "model", "'model' must be a string, got 5"},
  };
  for (const auto& c : cases) {
    expect_rejected(parse_chat_request(chat_body(c.body)), {c.body, c.param, c.message_part});
    expect_rejected(parse_completion_request(completion_body(c.body)), {c.body, c.param, c.message_part});
  }
}

TEST(OpenAiRequest, ChatMessagesAccepted) {
  const auto& req = ok(parse_chat_request(R"({"messages":[
      {"role":"system","content":"Be brief."},
      {"role":"developer","content":[{"type":"text","text":"Rule one."},{"type":"text","text":"Rule two."}]},
      {"role":"user","content":[{"type":"text","text":"Hi"}],"name":"ann"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
        "function":{"name":"f","arguments":"{\"x\":1}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"42"},
      {"role":"assistant","tool_calls":[{"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}]},
      {"role":"user","content":""}]})"),
                       "messages");
  ASSERT_EQ(req.messages.size(), 7u);
  EXPECT_EQ(req.messages[0].content, "Be brief.");
  EXPECT_EQ(req.messages[1].role, "developer");
  EXPECT_EQ(req.messages[1].content, "Rule one.\nRule two.");
  // raw keeps everything as sent but the content, which becomes the joined text.
  EXPECT_EQ(req.messages[1].raw, Json::parse(R"({"role":"developer","content":"Rule one.\nRule two."})"));
  EXPECT_EQ(req.messages[2].raw, Json::parse(R"({"role":"user","content":"Hi","name":"ann"})"));
  EXPECT_EQ(req.messages[3].content, "");
  EXPECT_TRUE(req.messages[3].raw["content"].is_null());
  EXPECT_EQ(req.messages[3].raw["tool_calls"][0]["function"]["arguments"], "{\"x\":1}");
  EXPECT_EQ(req.messages[4].raw["tool_call_id"], "c1");
  EXPECT_FALSE(req.messages[5].raw.contains("content"));
  EXPECT_EQ(req.messages[6].content, "");

  const Json expected = Json::parse(R"([{"role":"system","content":"Be brief."},
      {"role":"developer","content":"Rule one.\nRule two."},{"role":"user","content":"Hi","name":"ann"}])");
  const std::vector<ChatMessage> first(req.messages.begin(), req.messages.begin() + 3);
  EXPECT_EQ(template_messages(first), expected);
  // Messages built in code (no raw) become {"role", "content"}.
  EXPECT_EQ(template_messages({ChatMessage{"user", "Yo", nullptr}}),
            Json::parse(R"([{"role":"user","content":"Yo"}])"));
  // Key order of raw messages is kept for the template (tojson prints it).
  const auto& ordered =
      ok(parse_chat_request(R"({"messages":[{"content":"x","role":"user","z":1,"a":2}]})"), "order");
  EXPECT_EQ(template_messages(ordered.messages).dump(), R"([{"content":"x","role":"user","z":1,"a":2}])");
}

TEST(OpenAiRequest, ChatFieldsAccepted) {
  const auto& req =
      ok(parse_chat_request(chat_body(
             R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
             R"("tool_choice":{"type":"function","function":{"name":"f"}},)"
             R"("response_format":{"type":"text"},"logprobs":true,"top_logprobs":5)")),
         "chat fields");
  EXPECT_EQ(req.tools.size(), 1u);
  EXPECT_EQ(req.tools[0]["function"]["name"], "f");
  EXPECT_EQ(req.tool_choice["function"]["name"], "f");
  EXPECT_TRUE(req.logprobs);
  EXPECT_EQ(req.top_logprobs, 5);
  for (const char* mode : {"none", "auto", "required"}) {
    const auto& r = ok(parse_chat_request(chat_body(std::string(R"("tool_choice":")") + mode + "\"")), mode);
    EXPECT_EQ(r.tool_choice, mode);
  }
  const auto& plain =
      ok(parse_chat_request(chat_body(R"("logprobs":false,"top_logprobs":null)")), "no logprobs");
  EXPECT_FALSE(plain.logprobs);
  EXPECT_EQ(ok(parse_chat_request(chat_body(R"("logprobs":true,"top_logprobs":0)")), "0").top_logprobs, 0);
  EXPECT_EQ(ok(parse_chat_request(chat_body(R"("logprobs":true,"top_logprobs":20)")), "20").top_logprobs, 20);
}

// response_format json_object / json_schema, llama-server's json_schema and grammar become the request's
// grammar; "text" and nothing leave the output free. The grammar follows the schema's property order.
TEST(OpenAiRequest, StructuredOutputBecomesAGrammar) {
  EXPECT_EQ(ok(parse_chat_request(chat_body(R"("response_format":{"type":"text"})")), "text").gen.grammar, nullptr);
  EXPECT_EQ(ok(parse_chat_request(chat_body()), "plain").gen.grammar, nullptr);
  const auto& object = ok(parse_chat_request(chat_body(R"("response_format":{"type":"json_object"})")), "json_object");
  ASSERT_NE(object.gen.grammar, nullptr);
  EXPECT_TRUE(grammar::Matcher(object.gen.grammar).allows(R"({"any": [1, {"x": null}]})"));
  const auto& schema = ok(parse_chat_request(chat_body(
                              R"("response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,)"
                              R"("schema":{"type":"object","properties":{"z":{"type":"integer"},"a":{"type":"string"}},)"
                              R"("required":["z","a"]}}})")),
                          "json_schema");
  ASSERT_NE(schema.gen.grammar, nullptr);
  grammar::Matcher m(schema.gen.grammar);
  EXPECT_TRUE(m.accept(R"({"z": 1, "a": "b"})"));
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(grammar::Matcher(schema.gen.grammar).allows(R"({"a")")) << "z comes first, as in the schema";
  const auto& completion = ok(parse_completion_request(completion_body(R"("json_schema":{"enum":["yes","no"]})")), "llama");
  ASSERT_NE(completion.gen.grammar, nullptr);
  EXPECT_TRUE(grammar::Matcher(completion.gen.grammar).allows(R"("no")"));
}

TEST(OpenAiRequest, ChatRejected) {
  const std::string user = R"({"role":"user","content":"Hi"})";
  const Rejection cases[] = {
      {R"({"model":"m"})", "messages", "'messages' is required"},
      {R"({"messages":null})", "messages", "'messages' is required"},
      {R"({"messages":[]})", "messages", "a non-empty array of messages, got []"},
      {R"({"messages":"Hi"})", "messages", "got \"Hi\""},
      {R"({"messages":[1]})", "messages[0]", "an object with 'role' and 'content'"},
      {R"({"messages":[{"content":"Hi"}]})", "messages[0].role", "'messages[0].role' is required"},
      {R"({"messages":[)" + user + "," + user + R"(,{"role":"robot","content":"x"}]})", "messages[2].role",
       R"('messages[2].role' must be one of "system", "developer", "user", "assistant" or "tool", got "robot")"},
      {R"({"messages":[{"role":"function","content":"x"}]})", "messages[0].role", "got \"function\""},
      {R"({"messages":[{"role":5,"content":"x"}]})", "messages[0].role", "got 5"},
      {R"({"messages":[{"role":"user"}]})", "messages[0].content", "'messages[0].content' is required"},
      {R"({"messages":[{"role":"user","content":null}]})", "messages[0].content", "is required"},
      {R"({"messages":[{"role":"assistant","content":null}]})", "messages[0].content", "is required"},
      {R"({"messages":[{"role":"assistant","content":null,"tool_calls":[]}]})", "messages[0].content",
       "is required"},
      {R"({"messages":[{"role":"user","content":5}]})", "messages[0].content",
       "a string or an array of content parts, got 5"},
      {R"({"messages":[{"role":"user","content":{"type":"text"}}]})", "messages[0].content", "got {"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},)"
       R"({"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]})",
       "messages[0].content[1].type", "this model takes text only"},
      {R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
       "messages[0].content[0].type", "\"input_audio\": this model takes text only"},
      {R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})", "messages[0].content[0].text",
       "is required"},
      {R"({"messages":[{"role":"user","content":[{"type":"text","text":5}]}]})",
       "messages[0].content[0].text", "a string"},
      {R"({"messages":[{"role":"user","content":[{"text":"a"}]}]})", "messages[0].content[0].type",
       "is required"},
      {R"({"messages":[{"role":"user","content":[{"type":1}]}]})", "messages[0].content[0].type", "a string"},
      {R"({"messages":[{"role":"user","content":["a"]}]})", "messages[0].content[0]",
       "a content part object"},
      {R"({"messages":[)" + user + R"(,{"role":"assistant","content":"x","tool_calls":"call f"}]})",
       "messages[1].tool_calls", "an array of tool calls"},
      {R"({"messages":[{"role":"assistant","content":"x","tool_calls":[1]}]})", "messages[0].tool_calls[0]",
       "a tool call object"},
      {R"({"messages":[{"role":"user","content":"x","name":5}]})", "messages[0].name", "a string"},
      {R"({"messages":[{"role":"tool","content":"x","tool_call_id":[]}]})", "messages[0].tool_call_id",
       "a string"},
      {chat_body(R"("tools":{})"), "tools", "an array of tools"},
      {chat_body(R"("tools":[1])"), "tools[0]", "a tool object"},
      {chat_body(R"("tool_choice":"sometimes")"), "tool_choice", "got \"sometimes\""},
      {chat_body(R"("tool_choice":1)"), "tool_choice", "\"none\", \"auto\", \"required\" or an object"},
      {chat_body(R"("response_format":{"type":"xml"})"), "response_format.type",
       "response_format type xml is not supported (text, json_object or json_schema)"},
      {chat_body(R"("response_format":{"type":"json_schema"})"), "response_format.json_schema", "is required"},
      {chat_body(R"("response_format":{"type":"json_schema","json_schema":{"name":"x"}})"),
       "response_format.json_schema.schema", "is required"},
      {chat_body(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","format":"email"}}})"),
       "response_format.json_schema.schema", "unsupported keyword 'format'"},
      {chat_body(R"("json_schema":{"type":"object"},"response_format":{"type":"json_object"})"), "response_format",
       "give one of 'grammar', 'json_schema' and 'response_format'"},
      {chat_body(R"("grammar":"root ::= [a")"), "grammar", "line 1, column 12"},
      {chat_body(R"("response_format":"text")"), "response_format", "an object"},
      {chat_body(R"("response_format":{})"), "response_format.type", "is required"},
      {chat_body(R"("response_format":{"type":3})"), "response_format.type", "a string"},
      {chat_body(R"("logprobs":"yes")"), "logprobs", "'logprobs' must be a boolean"},
      {chat_body(R"("logprobs":1)"), "logprobs", "a boolean"},
      {chat_body(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs", "between 0 and 20, got 21"},
      {chat_body(R"("top_logprobs":3)"), "top_logprobs", "'top_logprobs' needs 'logprobs' set to true"},
      {chat_body(R"("logprobs":false,"top_logprobs":3)"), "top_logprobs", "needs 'logprobs'"},
  };
  for (const auto& c : cases) expect_rejected(parse_chat_request(c.body), c);
}

TEST(OpenAiRequest, CompletionPrompts) {
  using Ids = std::vector<int32_t>;
  const auto prompt = [](const std::string& p) {
    return ok(parse_completion_request(R"({"prompt":)" + p + "}"), p).prompt;
  };
  EXPECT_EQ(std::get<std::string>(prompt(R"("Hello")")), "Hello");
  EXPECT_EQ(std::get<std::string>(prompt(R"("")")), "");
  EXPECT_EQ(std::get<std::string>(prompt(R"(["Hello"])")), "Hello");
  EXPECT_EQ(std::get<Ids>(prompt("[1,2,3]")), (Ids{1, 2, 3}));
  EXPECT_EQ(std::get<Ids>(prompt("[[0,2147483647]]")), (Ids{0, 2147483647}));

  const auto& req = ok(parse_completion_request(completion_body(R"("echo":true,"logprobs":3)")), "echo");
  EXPECT_TRUE(req.echo);
  EXPECT_EQ(req.logprobs, 3);
  EXPECT_EQ(ok(parse_completion_request(completion_body(R"("logprobs":0)")), "0").logprobs, 0);
  EXPECT_EQ(ok(parse_completion_request(completion_body(R"("logprobs":null)")), "null").logprobs,
            std::nullopt);
  EXPECT_EQ(ok(parse_completion_request(completion_body()), "none").logprobs, std::nullopt);

  const Rejection cases[] = {
      {R"({"model":"m"})", "prompt", "'prompt' is required"},
      {R"({"prompt":["a","b"]})", "prompt", "one prompt per request is supported; got 2"},
      {R"({"prompt":[[1],[2],[3]]})", "prompt", "one prompt per request is supported; got 3"},
      {R"({"prompt":[]})", "prompt", "a string or an array of token ids, got []"},
      {R"({"prompt":5})", "prompt", "got 5"},
      {R"({"prompt":{"text":"a"}})", "prompt", "got {"},
      {R"({"prompt":[1,"a"]})", "prompt[1]", "an integer between 0 and 2147483647"},
      {R"({"prompt":[-1]})", "prompt[0]", "got -1"},
      {R"({"prompt":[2147483648]})", "prompt[0]", "got 2147483648"},
      {R"({"prompt":[1.5]})", "prompt[0]", "got 1.5"},
      {R"({"prompt":[[]]})", "prompt[0]", "a non-empty array of token ids"},
      {R"({"prompt":[[1,-2]]})", "prompt[0][1]", "got -2"},
      {R"({"prompt":[true]})", "prompt[0]", "got true"},
      {R"({"prompt":[null]})", "prompt[0]", "got null"},
      {completion_body(R"("echo":"yes")"), "echo", "a boolean"},
      {completion_body(R"("logprobs":6)"), "logprobs",
       "'logprobs' must be an integer between 0 and 5, got 6"},
      {completion_body(R"("logprobs":true)"), "logprobs", "got true"},
      {completion_body(R"("logprobs":-1)"), "logprobs", "between 0 and 5"},
  };
  for (const auto& c : cases) expect_rejected(parse_completion_request(c.body), c);
}

TEST(OpenAiRequest, EmbeddingInputs) {
  using Ids = std::vector<int32_t>;
  const auto inputs = [](const std::string& input) {
    return ok(parse_embedding_request(R"({"model":"e","input":)" + input + "}"), input).inputs;
  };
  auto one = inputs(R"("hello")");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(std::get<std::string>(one[0]), "hello");
  auto strings = inputs(R"(["a","b"])");
  ASSERT_EQ(strings.size(), 2u);
  EXPECT_EQ(std::get<std::string>(strings[1]), "b");
  auto ids = inputs("[1,2]");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(std::get<Ids>(ids[0]), (Ids{1, 2}));
  auto lists = inputs("[[1,2],[3]]");
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(std::get<Ids>(lists[1]), (Ids{3}));
  EXPECT_EQ(inputs(std::string("[") + repeat(R"("w",)", 2047) + R"("w"])").size(), 2048u);

  EXPECT_EQ(ok(parse_embedding_request(R"({"input":"a"})"), "default").encoding_format, "float");
  EXPECT_EQ(ok(parse_embedding_request(R"({"input":"a","encoding_format":"base64"})"), "b64").encoding_format,
            "base64");
  EXPECT_EQ(ok(parse_embedding_request(R"({"input":"a","encoding_format":null})"), "null").encoding_format,
            "float");

  const Rejection cases[] = {
      {R"({"model":"e"})", "input", "'input' is required"},
      {R"({"input":""})", "input", "'input' must be a non-empty string, got \"\""},
      {R"({"input":[]})", "input",
       "a string, an array of strings, an array of token ids or an array of such arrays"},
      {R"({"input":5})", "input", "got 5"},
      {R"({"input":["a",""]})", "input[1]", "a non-empty string"},
      {R"({"input":[[]]})", "input[0]", "a non-empty array of token ids"},
      {R"({"input":[1,"a"]})", "input[1]", "an integer between 0 and 2147483647"},
      {R"({"input":["a",1]})", "input[1]", "a string or an array of token ids"},
      {R"({"input":[-3]})", "input[0]", "got -3"},
      {R"({"input":[[1],[-3]]})", "input[1][0]", "got -3"},
      {R"({"input":[{"text":"a"}]})", "input[0]", "got {"},
      {std::string(R"({"input":[)") + repeat(R"("w",)", 2048) + R"("w"]})", "input",
       "at most 2048 inputs, got 2049"},
      {R"({"input":"a","encoding_format":"hex"})", "encoding_format",
       R"(must be "float" or "base64", got "hex")"},
      {R"({"input":"a","encoding_format":1})", "encoding_format", "got 1"},
      {R"({"input":"a","dimensions":256})", "dimensions", "not supported"},
  };
  for (const auto& c : cases) expect_rejected(parse_embedding_request(c.body), c);
}

TEST(OpenAiRequest, TokenizeDetokenizeApplyTemplate) {
  const auto& t =
      ok(parse_tokenize_request(R"({"content":"Hello","add_special":true,"with_pieces":true})"), "tok");
  EXPECT_EQ(t.content, "Hello");
  EXPECT_TRUE(t.add_special);
  EXPECT_TRUE(t.with_pieces);
  const auto& plain = ok(parse_tokenize_request(R"({"content":""})"), "tok defaults");
  EXPECT_FALSE(plain.add_special);
  EXPECT_FALSE(plain.with_pieces);
  EXPECT_EQ(ok(parse_detokenize_request(R"({"tokens":[1,2,3]})"), "detok").tokens,
            (std::vector<int32_t>{1, 2, 3}));
  EXPECT_TRUE(ok(parse_detokenize_request(R"({"tokens":[]})"), "detok empty").tokens.empty());
  const auto& a =
      ok(parse_apply_template_request(R"({"messages":[{"role":"user","content":"Hi"}]})"), "apply");
  ASSERT_EQ(a.messages.size(), 1u);
  EXPECT_EQ(a.messages[0].content, "Hi");

  const Rejection tokenize[] = {
      {R"({})", "content", "'content' is required"},
      {R"({"content":5})", "content", "'content' must be a string, got 5"},
      {R"({"content":"a","add_special":"yes"})", "add_special", "a boolean"},
      {R"({"content":"a","with_pieces":0})", "with_pieces", "a boolean"},
  };
  for (const auto& c : tokenize) expect_rejected(parse_tokenize_request(c.body), c);
  const Rejection detokenize[] = {
      {R"({})", "tokens", "'tokens' is required"},
      {R"({"tokens":"1 2"})", "tokens", "array of token ids, got \"1 2\""},
      {R"({"tokens":[1,-1]})", "tokens[1]", "got -1"},
      {R"({"tokens":[1,"2"]})", "tokens[1]", "got \"2\""},
  };
  for (const auto& c : detokenize) expect_rejected(parse_detokenize_request(c.body), c);
  expect_rejected(parse_apply_template_request("{}"), {"{}", "messages", "is required"});
  expect_rejected(parse_apply_template_request(R"({"messages":[{"role":"bot","content":"x"}]})"),
                  {"bot", "messages[0].role", "got \"bot\""});
}

// Every parser, so that each hostile body is tried on all of them.
std::vector<std::function<const ApiError*(const std::string&)>> all_parsers() {
  auto wrap = [](auto parse) {
    return [parse](const std::string& body) -> const ApiError* {
      static thread_local ApiError last;
      const auto parsed = parse(body);
      if (const auto* e = std::get_if<ApiError>(&parsed)) {
        last = *e;
        return &last;
      }
      return nullptr;
    };
  };
  return {wrap(parse_chat_request),     wrap(parse_completion_request), wrap(parse_embedding_request),
          wrap(parse_tokenize_request), wrap(parse_detokenize_request), wrap(parse_apply_template_request)};
}

void expect_all_reject(const std::string& body, const std::string& message_part, const std::string& label) {
  for (const auto& parse : all_parsers()) {
    const ApiError* e = parse(body);
    ASSERT_NE(e, nullptr) << label;
    EXPECT_EQ(e->status, 400) << label;
    EXPECT_EQ(e->param, "") << label;
    EXPECT_NE(e->message.find(message_part), std::string::npos) << label << ": " << e->message;
    const auto j = Json::parse(error_json(*e), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << label << ": " << error_json(*e);
  }
}

TEST(OpenAiRequest, MalformedBodiesAreInvalidJson) {
  using namespace std::string_literals;  // "..."s keeps embedded NUL bytes
  const std::string cases[] = {
      "", "{", R"({"messages":)", "nul", "[1,2", "{} x", "{'a':1}", R"({"a":1,})", R"({"a" 1})",
      "\xEF\xBB\xBF{}x", R"({"temperature":NaN})", R"({"temperature":Infinity})",
      R"({"temperature":-Infinity})", R"({"a":01})", R"({"a":"\u12"})", "{\"a\":\"tab\there\"}",
      // nlohmann's lexer stops at a NUL byte: without a check, what follows one would go unread.
      "{}\0"s, "{\"content\":\"a\"}\0{}"s, "{\"content\":\"a\0\"}"s};
  for (const auto& body : cases)
    expect_all_reject(body, "the request body is not valid JSON", "body " + body);
  // Numbers beyond a double are a parse error rather than infinity.
  expect_all_reject(R"({"max_tokens":1e400})", "number overflow", "1e400");
}

TEST(OpenAiRequest, TopLevelMustBeAnObject) {
  for (const std::string body : {"[]", "42", R"("str")", "null", "true", "[{\"messages\":[]}]"}) {
    expect_all_reject(body, "the request body must be a JSON object, got ", body);
  }
}

TEST(OpenAiRequest, InvalidUtf8GivesValidErrorJson) {
  const std::string cases[] = {
      "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",  // a byte that never occurs in UTF-8
      "{\"content\":\"\xc0\xaf\"}",                                 // overlong '/'
      "{\"content\":\"\xed\xa0\x80\"}",                             // a UTF-16 surrogate
      "{\"content\":\"abc\xe2\x82\"}",                              // a cut sequence
      "{\"\xfe\":1}",                                               // in a key
      "{\"a\":1}\xff",                                              // after the value
      "\x80",                                                       // alone
  };
  for (const auto& body : cases) expect_all_reject(body, "the request body is not valid JSON", "utf-8 case");
  // Well-formed text in any script passes through.
  const auto& t = ok(
      parse_tokenize_request("{\"content\":\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\\ud83d\\ude00\"}"), "utf8");
  EXPECT_EQ(t.content, "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
}

TEST(OpenAiRequest, DeepNestingIsRefusedNotRecursed) {
  const std::string too_deep = "nests arrays and objects deeper than 128 levels";
  expect_all_reject(repeat("[", 10000) + repeat("]", 10000), too_deep, "10000 arrays");
  expect_all_reject(repeat("[", 1000000), too_deep, "a million opened arrays");
  expect_all_reject(std::string(R"({"messages":)") + repeat("[", 10000) + repeat("]", 10000) + "}", too_deep,
                    "in a field");
  expect_all_reject(repeat(R"({"a":)", 10000) + "1" + repeat("}", 10000), too_deep, "10000 objects");
  // 128 levels, the top object included, are fine; 129 are not.
  const auto nested = [&](size_t arrays) {
    return std::string(R"({"content":"x","deep":)") + repeat("[", arrays) + repeat("]", arrays) + "}";
  };
  ok(parse_tokenize_request(nested(127)), "128 levels");
  const auto parsed = parse_tokenize_request(nested(128));
  const auto* e = std::get_if<ApiError>(&parsed);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find(too_deep), std::string::npos);
}

TEST(OpenAiRequest, RepeatedAndManyKeys) {
  // The last value of a repeated key counts, as in Python's json.
  EXPECT_EQ(ok(parse_chat_request(chat_body(R"("temperature":5,"temperature":1.5)")), "dup").gen.temperature,
            1.5f);
  const auto& twice = ok(parse_tokenize_request(R"({"content":"a","x":1,"content":"b"})"), "dup content");
  EXPECT_EQ(twice.content, "b");
  // Many keys, also repeated ones past the hash threshold, stay fast (ordered_json's own lookup is a scan).
  std::string body = R"({"content":"a")";
  for (int k = 0; k < 200000; ++k) body += ",\"k" + std::to_string(k) + "\":" + std::to_string(k);
  for (int k = 0; k < 1000; ++k) body += ",\"k" + std::to_string(k * 7) + "\":0";
  body += R"(,"content":"last"})";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ok(parse_tokenize_request(body), "many keys").content, "last");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

}  // namespace
}  // namespace cria::serve
