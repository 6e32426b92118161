// `cria template` and `cria chat` end to end: the template command against Jinja2's renders from the
// fixtures, and scripted chats on the bundled KJV model through a pipe.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/cli_support.h"
#include "test_support.h"

namespace cria::test {
namespace {

std::filesystem::path templates_dir() { return shared_dir() / "fixtures" / "templates"; }
std::filesystem::path kjv_model() { return std::filesystem::path(CRIA_SOURCE_DIR) / "models" / "kjv-Q8_0.gguf"; }

// The fixture case for (template, case, add_generation_prompt), with its messages written to a file.
nlohmann::ordered_json fixture_case(const std::string& id, const std::string& name, bool gen, const std::string& messages_path) {
  const auto cases = nlohmann::ordered_json::parse(read_file(templates_dir() / "cases.json"));
  for (const auto& c : cases) {
    if (c["template_id"] == id && c["case"] == name && c["add_generation_prompt"] == gen) {
      std::ofstream(messages_path) << c["messages"].dump();
      return c;
    }
  }
  ADD_FAILURE() << "no fixture case " << id << " " << name;
  return {};
}

std::string temp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

TEST(TemplateCli, PrintsExactlyWhatJinja2Renders) {
  CRIA_REQUIRE_FIXTURE(templates_dir() / "cases.json");
  const std::string messages = temp_path("cria_template_cli_messages.json");
  const auto c = fixture_case("qwen-qwen2.5-7b-instruct", "c_six_turns", true, messages);
  const auto r = run_cria("template --template " + (templates_dir() / "qwen-qwen2.5-7b-instruct.jinja").string() +
                          " --messages " + messages + " --add-generation-prompt --bos-token '" +
                          c["bos_token"].get<std::string>() + "' --eos-token '" + c["eos_token"].get<std::string>() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, c["expected"].get<std::string>());
  EXPECT_EQ(r.err, "");
}

TEST(TemplateCli, RaisingTemplateExitsNonZeroWithItsMessage) {
  CRIA_REQUIRE_FIXTURE(templates_dir() / "cases.json");
  const std::string messages = temp_path("cria_template_cli_raise.json");
  fixture_case("google-gemma-2-2b-it", "b_system_user", false, messages);
  const auto r = run_cria("template --template " + (templates_dir() / "google-gemma-2-2b-it.jinja").string() +
                          " --messages " + messages);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("System role not supported"), std::string::npos) << r.err;
}

TEST(TemplateCli, ModelWithoutTemplateIsAClearError) {
  CRIA_REQUIRE_FIXTURE(kjv_model());
  const std::string messages = temp_path("cria_template_cli_model.json");
  std::ofstream(messages) << R"([{"role": "user", "content": "Hi"}])";
  const auto r = run_cria("template -m " + kjv_model().string() + " --messages " + messages);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no tokenizer.chat_template"), std::string::npos) << r.err;
  // With a built-in template the model's own BOS/EOS texts are used.
  const auto ok = run_cria("template -m " + kjv_model().string() + " --template llama2 --messages " + messages);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "<s>[INST] Hi [/INST]");
}

struct Turn {
  int evaluated, reused, generated, context;
};

std::vector<Turn> turns_of(const std::string& err) {
  static const std::regex line(R"(evaluated (\d+) tokens \((\d+) reused from the cache\), generated (\d+) tokens, context (\d+)/)");
  std::vector<Turn> turns;
  for (std::sregex_iterator it(err.begin(), err.end(), line), end; it != end; ++it) {
    turns.push_back({std::stoi((*it)[1]), std::stoi((*it)[2]), std::stoi((*it)[3]), std::stoi((*it)[4])});
  }
  return turns;
}

TEST(ChatCli, SecondTurnReusesTheFirstTurnsCache) {
  CRIA_REQUIRE_FIXTURE(kjv_model());
  const auto r = run_cria("chat -m " + kjv_model().string() + " --chat-template llama2 -n 8 --temp 0 -c 256 -t 2",
                          "In the beginning\nAnd God said\n/exit\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto turns = turns_of(r.err);
  ASSERT_EQ(turns.size(), 2u) << r.err;
  EXPECT_EQ(turns[0].reused, 0);
  EXPECT_GT(turns[0].evaluated, 0);
  EXPECT_EQ(turns[0].generated, 8);
  // The whole first turn (prompt and the decoded reply tokens) stays in the cache...
  EXPECT_EQ(turns[1].reused, turns[0].context);
  EXPECT_EQ(turns[0].context, turns[0].evaluated + turns[0].generated - 1);
  // ...and the second turn evaluates only its new text: far fewer tokens than the conversation holds.
  EXPECT_GT(turns[1].evaluated, 0);
  EXPECT_LT(turns[1].evaluated, turns[1].reused);
  EXPECT_EQ(turns[1].context, turns[1].reused + turns[1].evaluated + turns[1].generated - 1);
  // Two replies on stdout, one line each (a reply may itself contain newlines, so count at least two).
  EXPECT_GE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}

TEST(ChatCli, ConversationFlagResetAndFullContext) {
  CRIA_REQUIRE_FIXTURE(kjv_model());
  // `cria -m MODEL -cnv` is chat mode; /reset clears the cache, so the same greedy reply comes again.
  const auto r = run_cria("-m " + kjv_model().string() + " -cnv --chat-template llama2 -n 4 --temp 0 -c 128 -t 2",
                          "Hello\n/reset\nHello\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto turns = turns_of(r.err);
  ASSERT_EQ(turns.size(), 2u) << r.err;
  EXPECT_EQ(turns[1].reused, 0);
  EXPECT_EQ(turns[1].evaluated, turns[0].evaluated);
  const auto nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(r.out.substr(0, nl + 1), r.out.substr(nl + 1)) << r.out;

  // A context too small for the conversation: the oldest turns are dropped and the chat goes on.
  const auto full = run_cria("chat -m " + kjv_model().string() + " --chat-template llama2 -n 8 --temp 0 -c 48 -t 2",
                             "In the beginning\nAnd God said\nLet there be light\n/exit\n");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_NE(full.err.find("dropped the"), std::string::npos) << full.err;
  EXPECT_EQ(turns_of(full.err).size(), 3u) << full.err;
}

// /load of a file that is missing, not JSON, or not an array of {role, content} messages is one error line
// and leaves the conversation as it was (the next turn still reuses the cache); /save to a directory fails.
TEST(ChatCli, BadLoadAndSaveAreErrorLinesAndChangeNothing) {
  namespace fs = std::filesystem;
  CRIA_REQUIRE_FIXTURE(kjv_model());
  const fs::path dir = fs::temp_directory_path() / ("cria_chat_load_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "text.json") << "not json";
  std::ofstream(dir / "shape.json") << R"([{"role": "user"}])";
  const auto r = run_cria("chat -m " + kjv_model().string() + " --chat-template llama2 -n 4 --temp 0 -c 256 -t 2",
                          "Hello\n/load " + (dir / "missing.json").string() + "\n/load " +
                              (dir / "text.json").string() + "\n/load " + (dir / "shape.json").string() +
                              "\n/save " + dir.string() + "\nAgain\n");
  fs::remove_all(dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("missing.json is not a readable JSON file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("text.json is not a readable JSON file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("shape.json: message 0 is not an object with string \"role\" and \"content\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("cannot write " + dir.string()), std::string::npos) << r.err;
  const auto turns = turns_of(r.err);
  ASSERT_EQ(turns.size(), 2u) << r.err;
  EXPECT_GT(turns[1].reused, turns[0].evaluated) << "the first turn stays in the cache";
}

// Input continues over lines as llama.cpp's console reads it: '\\' at the end of a line goes on, '/' ends
// the message; with --multiline-input lines go on until one ends in '\\'. /save shows the messages.
TEST(ChatCli, MultilineInput) {
  namespace fs = std::filesystem;
  CRIA_REQUIRE_FIXTURE(kjv_model());
  const fs::path saved = fs::temp_directory_path() / ("cria_chat_lines_" + std::to_string(::getpid()) + ".json");
  const std::string chat = "chat -m " + kjv_model().string() + " --chat-template llama2 -n 2 --temp 0 -c 256 -t 2";
  auto user_messages = [&](const std::string& flags, const std::string& input) {
    const auto r = run_cria(chat + flags, input + "/save " + saved.string() + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    for (const auto& m : nlohmann::json::parse(read_file(saved))) {
      if (m["role"] == "user") out.push_back(m["content"]);
    }
    fs::remove(saved);
    return out;
  };
  EXPECT_EQ(user_messages("", "In the\\\nbeginning\nGod/\n"),
            (std::vector<std::string>{"In the\nbeginning", "God"}));
  EXPECT_EQ(user_messages(" --multiline-input", "In the\nbeginning\\\nGod/\n"),
            (std::vector<std::string>{"In the\nbeginning", "God"}));
}

}  // namespace
}  // namespace cria::test
