// The OpenAI response objects, compared as text with the shapes of OpenAI's API reference (key order
// included), plus base64 embeddings and token texts that are not UTF-8.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "serve/openai_response.h"

namespace cria::serve {
namespace {

using Json = nlohmann::ordered_json;

const ResponseHeader kChat{"chatcmpl-1", 1700000000, "kjv", "fp_cria"};
const ResponseHeader kText{"cmpl-1", 1700000000, "kjv", "fp_cria"};

// The start every chat object shares, as text.
std::string chat_head(const std::string& object) {
  return R"({"id":"chatcmpl-1","object":")" + object +
         R"(","created":1700000000,"model":"kjv","system_fingerprint":"fp_cria",)";
}
const std::string kTextHead =
    R"({"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"kjv","system_fingerprint":"fp_cria",)";

TEST(OpenAiResponse, ChatCompletion) {
  const std::vector<Choice> choices = {{0, "Hello", "stop", std::nullopt}, {1, "Hi", "length", std::nullopt}};
  EXPECT_EQ(chat_completion(kChat, choices, Usage{5, 2, 3}).dump(),
            chat_head("chat.completion") +
                R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},)"
                R"("logprobs":null,"finish_reason":"stop"},)"
                R"({"index":1,"message":{"role":"assistant","content":"Hi","refusal":null},)"
                R"("logprobs":null,"finish_reason":"length"}],)"
                R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,)"
                R"("prompt_tokens_details":{"cached_tokens":3}}})");
}

TEST(OpenAiResponse, ChatLogprobs) {
  Choice c{0, "Hi!", "stop",
           std::vector<TokenLogprob>{
               {"Hi", -0.31725305f, {{"Hi", -0.31725305f}, {"Hey", -1.5f}}},
               {"!", -std::numeric_limits<float>::infinity(), {}},
           }};
  // Logprobs print as the float's shortest form; -inf (and anything below) is OpenAI's -9999.0.
  EXPECT_EQ(chat_completion(kChat, {c}, Usage{1, 2, 0}).dump(),
            chat_head("chat.completion") +
                R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi!","refusal":null},)"
                R"("logprobs":{"content":[)"
                R"({"token":"Hi","logprob":-0.31725305,"bytes":[72,105],"top_logprobs":[)"
                R"({"token":"Hi","logprob":-0.31725305,"bytes":[72,105]},)"
                R"({"token":"Hey","logprob":-1.5,"bytes":[72,101,121]}]},)"
                R"({"token":"!","logprob":-9999.0,"bytes":[33],"top_logprobs":[]}],"refusal":null},)"
                R"("finish_reason":"stop"}],)"
                R"("usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,)"
                R"("prompt_tokens_details":{"cached_tokens":0}}})");
  Choice nan{0, "x", "stop", std::vector<TokenLogprob>{{"x", std::nanf(""), {}}}};
  EXPECT_EQ(chat_completion(kChat, {nan}, Usage{})["choices"][0]["logprobs"]["content"][0]["logprob"],
            -9999.0);
}

TEST(OpenAiResponse, ChatChunks) {
  const std::string choice_tail = R"(,"logprobs":null,"finish_reason":null}])";
  // The first delta of a choice: role, empty content, refusal.
  EXPECT_EQ(chat_chunk(kChat, 0, true, "", std::nullopt, std::nullopt, false).dump(),
            chat_head("chat.completion.chunk") +
                R"("choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null})" +
                choice_tail + "}");
  // With include_usage every chunk but the last carries "usage": null.
  EXPECT_EQ(chat_chunk(kChat, 2, false, "Hel", std::nullopt, std::nullopt, true).dump(),
            chat_head("chat.completion.chunk") + R"("choices":[{"index":2,"delta":{"content":"Hel"})" +
                choice_tail + R"(,"usage":null})");
  EXPECT_EQ(
      chat_chunk(kChat, 0, false, "", std::string("length"), std::nullopt, true).dump(),
      chat_head("chat.completion.chunk") +
          R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":null})");
  // A finishing chunk that still brings text keeps it.
  EXPECT_EQ(
      chat_chunk(kChat, 0, false, "end", std::string("stop"), std::nullopt, false)["choices"][0]["delta"],
      Json::parse(R"({"content":"end"})"));
  EXPECT_EQ(chat_chunk(kChat, 0, false, "", std::nullopt, std::nullopt, false)["choices"][0]["delta"],
            Json::parse(R"({"content":""})"));
  const auto with_logprobs =
      chat_chunk(kChat, 0, false, "A", std::nullopt, std::vector<TokenLogprob>{{"A", -0.5f, {}}}, false);
  EXPECT_EQ(with_logprobs["choices"][0]["logprobs"].dump(),
            R"({"content":[{"token":"A","logprob":-0.5,"bytes":[65],"top_logprobs":[]}],"refusal":null})");
  EXPECT_EQ(usage_chunk(kChat, "chat.completion.chunk", Usage{9, 4, 8}).dump(),
            chat_head("chat.completion.chunk") +
                R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,)"
                R"("prompt_tokens_details":{"cached_tokens":8}}})");
}

std::vector<TokenLogprob> hi_there() {
  return {{"Hi", -0.5f, {{"Hi", -0.5f}, {"Ho", -1.25f}}}, {" there", -0.25f, {{" there", -0.25f}}}};
}

TEST(OpenAiResponse, TextCompletion) {
  EXPECT_EQ(text_completion(kText, {{0, "Hi there", "length", hi_there()}}, Usage{3, 2, 0}).dump(),
            kTextHead +
                R"("choices":[{"text":"Hi there","index":0,"logprobs":{"tokens":["Hi"," there"],)"
                R"("token_logprobs":[-0.5,-0.25],"top_logprobs":[{"Hi":-0.5,"Ho":-1.25},{" there":-0.25}],)"
                R"("text_offset":[0,2]},"finish_reason":"length"}],)"
                R"("usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,)"
                R"("prompt_tokens_details":{"cached_tokens":0}}})");
  EXPECT_EQ(text_completion(kText, {{0, "Plain", "stop", std::nullopt}}, Usage{})["choices"].dump(),
            R"([{"text":"Plain","index":0,"logprobs":null,"finish_reason":"stop"}])");
  // With echo the prompt comes first: offsets count characters (not bytes) from the text's start.
  const auto echoed = text_completion(kText, {{0, "Sé: Hi there", "stop", hi_there()}}, Usage{});
  EXPECT_EQ(echoed["choices"][0]["logprobs"]["text_offset"].dump(), "[4,6]");
}

TEST(OpenAiResponse, TextChunks) {
  const std::vector<TokenLogprob> there = {hi_there()[1]};
  EXPECT_EQ(
      text_chunk(kText, 1, " there", std::nullopt, there, true, 2).dump(),
      kTextHead +
          R"("choices":[{"text":" there","index":1,"logprobs":{"tokens":[" there"],"token_logprobs":[-0.25],)"
          R"("top_logprobs":[{" there":-0.25}],"text_offset":[2]},"finish_reason":null}],"usage":null})");
  EXPECT_EQ(text_chunk(kText, 0, "", std::string("stop"), std::nullopt, false).dump(),
            kTextHead + R"("choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]})");
  EXPECT_EQ(usage_chunk(kText, "text_completion", Usage{1, 1, 0}).dump(),
            kTextHead + R"("choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,)"
                        R"("prompt_tokens_details":{"cached_tokens":0}}})");
}

TEST(OpenAiResponse, ServerSentEvents) {
  EXPECT_EQ(sse_event(Json::parse(R"({"a": [1, 2]})")), "data: {\"a\":[1,2]}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

std::vector<float> decode_base64_floats(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = (bits << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    if ((count += 6) >= 8) {
      count -= 8;
      bytes += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  std::vector<float> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t u = 0;
    for (int k = 0; k < 4; ++k)
      u |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[4 * i + k])) << (8 * k);
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

TEST(OpenAiResponse, Embeddings) {
  EXPECT_EQ(embeddings_response("e", {{0.1f, -2.5f}, {}}, false, 4).dump(),
            R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-2.5]},)"
            R"({"object":"embedding","index":1,"embedding":[]}],"model":"e",)"
            R"("usage":{"prompt_tokens":4,"total_tokens":4}})");
  // 1.0f is 00 00 80 3F in little-endian order.
  EXPECT_EQ(embeddings_response("e", {{1.0f}}, true, 1)["data"][0]["embedding"], "AACAPw==");
  // Every length modulo 3 of the byte string, and values that are not round.
  for (size_t n : {1u, 2u, 3u, 7u, 384u}) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
      v[i] = std::sin(static_cast<float>(i) * 1.7f) * 1e3f + 1e-7f * static_cast<float>(i);
    const auto j = embeddings_response("e", {v, v}, true, 0);
    ASSERT_EQ(j["data"].size(), 2u);
    EXPECT_EQ(j["data"][1]["index"], 1);
    const auto decoded = decode_base64_floats(j["data"][1]["embedding"].get<std::string>());
    ASSERT_EQ(decoded.size(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(std::memcmp(&decoded[i], &v[i], 4), 0) << n << " " << i;
    // And the float form reads back as the same floats.
    const auto floats = embeddings_response("e", {v}, false, 0)["data"][0]["embedding"];
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(floats[i].get<float>(), v[i]);
  }
}

TEST(OpenAiResponse, Models) {
  EXPECT_EQ(models_response("kjv", 1700000000, Json::parse(R"({"n_ctx_train":2048,"n_params":123})")).dump(),
            R"({"object":"list","data":[{"id":"kjv","object":"model","created":1700000000,"owned_by":"cria",)"
            R"("meta":{"n_ctx_train":2048,"n_params":123}}]})");
}

TEST(OpenAiResponse, InvalidUtf8IsReplacedNotThrown) {
  // A byte token that ends inside a character (E2 82 of the euro sign), and a lone continuation byte.
  Choice c{0, "cost \xe2\x82", "length", std::vector<TokenLogprob>{{"\xe2\x82", -1.0f, {{"\xac", -2.0f}}}}};
  const auto chat = chat_completion(kChat, {c}, Usage{});
  std::string text;
  ASSERT_NO_THROW(text = chat.dump());  // the default handler throws on bad UTF-8: none is left
  const auto back = Json::parse(text);
  EXPECT_EQ(back["choices"][0]["message"]["content"], "cost \xEF\xBF\xBD\xEF\xBF\xBD");
  const auto& entry = back["choices"][0]["logprobs"]["content"][0];
  EXPECT_EQ(entry["token"], "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(entry["bytes"].dump(), "[226,130]");  // the raw bytes, to rejoin the character
  EXPECT_EQ(entry["top_logprobs"][0]["bytes"].dump(), "[172]");
  ASSERT_NO_THROW(text_completion(kText, {c}, Usage{}).dump());
  ASSERT_NO_THROW(chat_chunk(kChat, 0, true, "\xff", std::nullopt, c.logprobs, false).dump());
  ASSERT_NO_THROW(text_chunk(kText, 0, "\xc0\xaf", std::nullopt, c.logprobs, false).dump());
  ASSERT_NO_THROW(embeddings_response("m\xff", {{1.0f}}, false, 1).dump());
  ASSERT_NO_THROW(models_response("m\xed\xa0\x80", 0, nullptr).dump());
  // Whatever the caller put in (GGUF metadata in `meta`), the body and event writers never throw.
  const Json meta = {{"name", "bad \xff name"}};
  EXPECT_EQ(response_body(meta), "{\"name\":\"bad \xEF\xBF\xBD name\"}");
  EXPECT_EQ(sse_event(meta), "data: {\"name\":\"bad \xEF\xBF\xBD name\"}\n\n");
  EXPECT_NO_THROW(Json::parse(response_body(models_response("kjv", 0, meta))));
}

}  // namespace
}  // namespace cria::serve
