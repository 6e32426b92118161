// Every case of ../shared/fixtures/templates/cases.json: 47 published chat templates rendered by Python
// Jinja2 the way Hugging Face does (the expected text), or the exception Jinja2 raised.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "test_support.h"

namespace cria::chat {
namespace {

std::filesystem::path templates_dir() { return test::shared_dir() / "fixtures" / "templates"; }

// The fixtures' fixed clock: 2026-01-15 00:00:00 local time.
std::time_t fixture_now() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

TEST(ChatTemplateCases, EveryFixtureCaseRendersLikeJinja2) {
  const auto cases_path = templates_dir() / "cases.json";
  CRIA_REQUIRE_FIXTURE(cases_path);
  const auto cases = nlohmann::ordered_json::parse(test::read_file(cases_path));
  ASSERT_GE(cases.size(), 47u);
  size_t rendered = 0, raised = 0;
  for (const auto& c : cases) {
    const std::string id = c["template_id"].get<std::string>();
    const std::string label = id + " / " + c["case"].get<std::string>() +
                              (c["add_generation_prompt"].get<bool>() ? " (generation prompt)" : "");
    const std::string source = test::read_file(templates_dir() / (id + ".jinja"));
    ASSERT_FALSE(source.empty()) << "missing template " << id;
    ChatTemplateInputs in;
    in.messages = c["messages"];
    in.tools = c["tools"];
    in.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    in.bos_token = c["bos_token"].is_string() ? c["bos_token"].get<std::string>() : "";
    in.eos_token = c["eos_token"].is_string() ? c["eos_token"].get<std::string>() : "";
    in.now = fixture_now();
    const auto out = apply_chat_template(source, in);
    const auto& expected = c["expected"];
    if (expected.is_object()) {
      EXPECT_FALSE(out.ok()) << label << ": expected " << expected["exception"] << ", rendered:\n" << *out;
      if (!out.ok() && expected["exception"] == "TemplateError") {
        // raise_exception's message must come through unchanged.
        EXPECT_EQ(out.error().message, "TemplateError: " + expected["message"].get<std::string>()) << label;
      }
      ++raised;
    } else {
      ASSERT_TRUE(expected.is_string());
      EXPECT_TRUE(out.ok()) << label << ": " << (out.ok() ? "" : out.error().message);
      if (out.ok()) {
        EXPECT_EQ(*out, expected.get<std::string>()) << label;
      }
      ++rendered;
    }
  }
  EXPECT_GT(rendered, 0u);
  EXPECT_GT(raised, 0u);
}

}  // namespace
}  // namespace cria::chat
