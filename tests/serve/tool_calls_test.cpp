// Tool calls and reasoning (serve/tool_calls): the format each fixture template's model writes is found
// from the template; replies in each format split into reasoning, content and calls, and the same reply
// streamed a byte at a time gives the same text with no marker leaking into the content; the grammar
// that forces a call accepts a call with valid arguments, refuses invalid ones, and what it allows parses
// back; bad tools and tool_choice values are errors naming the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "serve/tool_calls.h"
#include "test_support.h"

namespace cria::serve {
namespace {

using Json = nlohmann::ordered_json;

TEST(ToolCalls, FormatFromTheFixtureTemplates) {
  const auto dir = test::shared_dir() / "fixtures/templates";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fixtures absent: " << dir;
  const std::pair<const char*, ToolFormat> cases[] = {
      {"nousresearch-hermes-2-pro-llama-3-8b-tool-use.jinja", ToolFormat::kHermes},
      {"nousresearch-hermes-3-llama-3.1-8b-tool-use.jinja", ToolFormat::kHermes},
      {"qwen-qwen2.5-7b-instruct.jinja", ToolFormat::kHermes},
      {"meta-llama-llama-3.1-8b-instruct.jinja", ToolFormat::kLlama3},
      {"meta-llama-llama-3.2-3b-instruct.jinja", ToolFormat::kLlama3},
      {"meta-llama-llama-3.3-70b-instruct.jinja", ToolFormat::kLlama3},
      {"mistralai-mistral-nemo-instruct-2407.jinja", ToolFormat::kMistral},
      {"meetkai-functionary-medium-v3.1.jinja", ToolFormat::kFunctionaryV31},
      {"meetkai-functionary-medium-v3.2.jinja", ToolFormat::kFunctionaryV32},
      {"google-gemma-2-2b-it.jinja", ToolFormat::kGeneric},
      {"microsoft-phi-3.5-mini-instruct.jinja", ToolFormat::kGeneric},
  };
  for (const auto& [file, format] : cases) {
    EXPECT_EQ(tool_format_name(detect_tool_format(test::read_file(dir / file))), std::string(tool_format_name(format)))
        << file;
  }
}

ToolPlan offered(ToolFormat format, bool forced = false) {
  ToolPlan p;
  p.format = format;
  p.offered = true;
  p.forced = forced;
  return p;
}

// The reply whole, and streamed a byte at a time: the deltas and what finish() adds give the same text.
AssistantReply parse_both_ways(const ToolPlan& plan, const std::string& text, bool starts_thinking = false) {
  ReplyParser whole(plan, true, starts_thinking);
  whole.push(text);
  const AssistantReply w = whole.finish();
  ReplyParser streamed(plan, true, starts_thinking);
  std::string reasoning, content;
  for (char c : text) {
    const auto d = streamed.push(std::string(1, c));
    reasoning += d.reasoning;
    content += d.content;
    for (const char* marker : {"<tool_call>", "[TOOL_CALLS]", "<function=", "<think>", "</think>", ">>>"}) {
      EXPECT_EQ(content.find(marker), std::string::npos) << "marker streamed as content: " << content;
    }
  }
  const AssistantReply s = streamed.finish();
  const auto rest = streamed.unsent(s);
  EXPECT_EQ(reasoning + rest.reasoning, w.reasoning) << text;
  EXPECT_EQ(content + rest.content, w.content) << text;
  EXPECT_EQ(s.tool_calls.size(), w.tool_calls.size());
  return w;
}

void expect_call(const AssistantReply& r, size_t i, const std::string& name, const Json& args) {
  ASSERT_GT(r.tool_calls.size(), i);
  EXPECT_EQ(r.tool_calls[i].name, name);
  EXPECT_EQ(Json::parse(r.tool_calls[i].arguments), args);
  EXPECT_FALSE(r.tool_calls[i].id.empty());
}

TEST(ToolCalls, RepliesInEachFormat) {
  const Json paris = {{"city", "Paris"}};
  auto r = parse_both_ways(offered(ToolFormat::kHermes),
                           "Let me look.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
                           "</tool_call>\n<tool_call>{\"name\": \"time\", \"arguments\": \"{}\"}</tool_call>");
  EXPECT_EQ(r.content, "Let me look.\n");
  expect_call(r, 0, "weather", paris);
  expect_call(r, 1, "time", Json::object());

  r = parse_both_ways(offered(ToolFormat::kLlama3), "{\"name\": \"weather\", \"parameters\": {\"city\": \"Paris\"}}");
  EXPECT_EQ(r.content, "");
  expect_call(r, 0, "weather", paris);
  r = parse_both_ways(offered(ToolFormat::kLlama3), "<|python_tag|>{\"name\": \"weather\", \"parameters\": {\"city\": \"Paris\"}}");
  expect_call(r, 0, "weather", paris);
  r = parse_both_ways(offered(ToolFormat::kLlama3), "It is {sunny} there.");  // not a call: all text
  EXPECT_EQ(r.content, "It is {sunny} there.");
  EXPECT_TRUE(r.tool_calls.empty());

  r = parse_both_ways(offered(ToolFormat::kMistral),
                      "[TOOL_CALLS][{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abc123xyz\"}]");
  expect_call(r, 0, "weather", paris);
  EXPECT_EQ(r.tool_calls[0].id, "abc123xyz");

  r = parse_both_ways(offered(ToolFormat::kFunctionaryV31), "Sure. <function=weather>{\"city\": \"Paris\"}</function>");
  EXPECT_EQ(r.content, "Sure. ");
  expect_call(r, 0, "weather", paris);

  r = parse_both_ways(offered(ToolFormat::kFunctionaryV32), "all\nChecking.>>>weather\n{\"city\": \"Paris\"}");
  EXPECT_EQ(r.content, "Checking.");
  expect_call(r, 0, "weather", paris);

  r = parse_both_ways(offered(ToolFormat::kGeneric),
                      "{\"tool_calls\": [{\"name\": \"weather\", \"arguments\": {\"city\": \"Paris\"}}]}");
  expect_call(r, 0, "weather", paris);
  r = parse_both_ways(offered(ToolFormat::kGeneric), "{\"response\": \"In the beginning\"}");
  EXPECT_EQ(r.content, "In the beginning");
  EXPECT_TRUE(r.tool_calls.empty());

  // A broken call is text, never a call with made-up arguments.
  r = parse_both_ways(offered(ToolFormat::kHermes), "<tool_call>{\"name\": \"weather\", \"arguments\": {\"city\": </tool_call>");
  EXPECT_TRUE(r.tool_calls.empty());
  EXPECT_EQ(r.content, "<tool_call>{\"name\": \"weather\", \"arguments\": {\"city\": </tool_call>");
}

TEST(ToolCalls, ReasoningApartFromContentAndCalls) {
  auto r = parse_both_ways(offered(ToolFormat::kHermes),
                           "<think>\nThe user wants weather.\n</think>\n\n<tool_call>{\"name\": \"w\", \"arguments\": {}}</tool_call>");
  EXPECT_EQ(r.reasoning, "\nThe user wants weather.\n");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  ToolPlan none;  // no tools
  r = parse_both_ways(none, "Hmm, light.</think>Let there be light.", /*starts_thinking=*/true);
  EXPECT_EQ(r.reasoning, "Hmm, light.");
  EXPECT_EQ(r.content, "Let there be light.");
  r = parse_both_ways(none, "<think>unfinished", false);
  EXPECT_EQ(r.reasoning, "unfinished");
  ReplyParser inline_think(none, /*split_reasoning=*/false, false);
  inline_think.push("<think>a</think>b");
  EXPECT_EQ(inline_think.finish().content, "<think>a</think>b");
  EXPECT_TRUE(prompt_opens_thinking("<|Assistant|><think>\n"));
  EXPECT_FALSE(prompt_opens_thinking("<|Assistant|>"));
}

const char* kTools = R"([
  {"type": "function", "function": {"name": "weather", "description": "Weather in a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20},
                  "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city"]}}},
  {"type": "function", "function": {"name": "time", "parameters": {"type": "object", "properties": {}}}}])";

bool grammar_accepts(const std::string& gbnf, const std::string& text) {
  auto g = grammar::parse_gbnf(gbnf);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message) << "\n" << gbnf;
  if (!g.ok()) return false;
  grammar::Matcher m(std::make_shared<grammar::Grammar>(std::move(*g)));
  return m.accept(text) && m.can_end();
}

TEST(ToolCalls, ForcedCallsFollowTheParametersAndParseBack) {
  const Json tools = Json::parse(kTools);
  struct Case {
    ToolFormat format;
    std::string good, bad;
  };
  const Case cases[] = {
      {ToolFormat::kHermes, "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Ur\", \"days\": 3}}\n</tool_call>",
       "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"days\": 3}}\n</tool_call>"},
      {ToolFormat::kLlama3, "{\"name\": \"weather\", \"parameters\": {\"city\": \"Ur\", \"days\": 3}}",
       "{\"name\": \"weather\", \"parameters\": {\"city\": \"Ur\", \"days\": 9}}"},
      {ToolFormat::kMistral, "[{\"name\": \"weather\", \"arguments\": {\"city\": \"Ur\", \"days\": 3}}]",
       "[{\"name\": \"rain\", \"arguments\": {}}]"},
      {ToolFormat::kFunctionaryV31, "<function=weather>{\"city\": \"Ur\", \"days\": 3}</function>",
       "<function=weather>{\"town\": \"Ur\"}</function>"},
      {ToolFormat::kFunctionaryV32, "weather\n{\"city\": \"Ur\", \"days\": 3}", "all\nhello"},
      {ToolFormat::kGeneric, "{\"tool_calls\": [{\"name\": \"weather\", \"arguments\": {\"city\": \"Ur\", \"days\": 3}}]}",
       "{\"response\": \"no\"}"},
  };
  for (const Case& c : cases) {
    auto plan = plan_tools(c.format, tools, "required");
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    EXPECT_TRUE(plan->forced && plan->offered);
    EXPECT_TRUE(grammar_accepts(plan->grammar, c.good)) << tool_format_name(c.format);
    EXPECT_FALSE(grammar_accepts(plan->grammar, c.bad)) << tool_format_name(c.format);
    const AssistantReply r = parse_both_ways(*plan, c.good);
    expect_call(r, 0, "weather", Json{{"city", "Ur"}, {"days", 3}});
  }
  // A named function: only it.
  auto named = plan_tools(ToolFormat::kHermes, tools, Json{{"type", "function"}, {"function", {{"name", "time"}}}});
  ASSERT_TRUE(named.ok());
  EXPECT_TRUE(grammar_accepts(named->grammar, "<tool_call>\n{\"name\": \"time\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(grammar_accepts(named->grammar, "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Ur\"}}\n</tool_call>"));
  // auto: the model's own format goes free; generic stays JSON, a call or a response.
  auto free = plan_tools(ToolFormat::kHermes, tools, nullptr);
  ASSERT_TRUE(free.ok());
  EXPECT_TRUE(free->offered && !free->forced && free->grammar.empty());
  auto generic = plan_tools(ToolFormat::kGeneric, tools, "auto");
  ASSERT_TRUE(generic.ok());
  EXPECT_TRUE(grammar_accepts(generic->grammar, "{\"response\": \"In the beginning\"}"));
  EXPECT_NE(generic->system_prompt.find("\"weather\""), std::string::npos);
  auto none = plan_tools(ToolFormat::kGeneric, tools, "none");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->offered);
  EXPECT_TRUE(none->grammar.empty());
}

TEST(ToolCalls, BadToolsAreErrorsNamingTheField) {
  const Json tools = Json::parse(kTools);
  const std::pair<Json, Json> bad[] = {
      {Json::array(), "required"},
      {tools, Json{{"type", "function"}, {"function", {{"name", "rain"}}}}},
      {tools, "sometimes"},
      {Json::parse(R"([{"type": "function", "function": {"parameters": {}}}])"), "auto"},
      {Json::parse(R"([{"type": "function", "function": {"name": "bad name"}}])"), "auto"},
      {Json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "string", "format": "uri"}}}])"), "required"},
  };
  const char* expected[] = {"tool_choice", "tool_choice.function.name: 'rain'", "tool_choice: 'sometimes'",
                            "tools[0].function.name", "tools[0].function.name: 'bad name'", "format"};
  for (size_t i = 0; i < std::size(bad); ++i) {
    auto plan = plan_tools(ToolFormat::kHermes, bad[i].first, bad[i].second);
    ASSERT_FALSE(plan.ok()) << i;
    EXPECT_NE(plan.error().message.find(expected[i]), std::string::npos) << plan.error().message;
  }
}

}  // namespace
}  // namespace cria::serve
