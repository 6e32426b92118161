// Hostile templates: each must end with an error naming the problem, in bounded time and memory, with the
// default limits (no test-specific tuning).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <string>

#include "chat/chat_template.h"
#include "test_support.h"

namespace cria::chat {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += s;
  return out;
}

struct Hostile {
  std::string name;
  std::string source;
  std::string error_part;  // a piece of the expected message
};

TEST(JinjaHostile, EndWithAnErrorInBoundedTimeAndMemory) {
  const Hostile cases[] = {
      {"deep parentheses", "{{ " + repeat("(", 100000) + "1" + repeat(")", 100000) + " }}", "nested deeper"},
      {"deep blocks", repeat("{% if true %}", 20000) + "x" + repeat("{% endif %}", 20000), "nested deeper"},
      {"deep unary", "{{ " + repeat("not ", 100000) + "1 }}", "nested deeper"},
      {"nested huge loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
       "step limit"},
      {"huge range", "{% for i in range(10 ** 15) %}{% endfor %}", "list of"},
      {"huge repeat", "{{ 'a' * 1000000000000 }}", "string of"},
      {"string doubling", "{% set ns = namespace(s='ab') %}{% for i in range(200) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
       "string of"},
      {"list doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(200) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
       "list of"},
      {"output flood", "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "string of"},
      {"endless recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "macro call depth"},
      {"mutual recursion", "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
       "macro call depth"},
      {"undefined call", "{{ no_such_function() }}", "'no_such_function' is undefined"},
      {"undefined attribute chain", "{{ nothing.at.all }}", "'nothing' is undefined"},
      {"list mutation", "{{ messages.append(1) }}", "unsafe"},
      {"unclosed tag", "{% if true %}never closed", "unexpected end of template"},
      {"integer overflow", "{{ 2 ** 100 }}", "too large"},
      {"deeply nested list", "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}",
       "nested too deeply"},
      {"self-containing namespace", "{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns }}", "cannot hold"},
      {"loop object kept", "{% set ns = namespace() %}{% for x in [ns, ns] %}{% set ns.l = loop %}{% endfor %}{{ ns }}",
       "cannot hold"},
  };
  for (const auto& c : cases) {
    ChatTemplateInputs in;
    in.messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
    const auto start = std::chrono::steady_clock::now();
    const auto out = apply_chat_template(c.source, in);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(out.ok()) << c.name << " rendered " << out->size() << " bytes";
    EXPECT_NE(out.error().message.find(c.error_part), std::string::npos) << c.name << ": " << out.error().message;
    EXPECT_LT(seconds, 20.0) << c.name;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  EXPECT_LT(usage.ru_maxrss, 2L * 1024 * 1024) << "peak resident memory in KiB";  // under 2 GiB
}

// Every fixture template cut short at many points, or with a byte flipped, must render or fail cleanly.
TEST(JinjaHostile, DamagedRealTemplatesNeverCrash) {
  const auto dir = test::shared_dir() / "fixtures" / "templates";
  CRIA_REQUIRE_FIXTURE(dir / "cases.json");
  ChatTemplateInputs in;
  in.messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])");
  size_t renders = 0, failures = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string source = test::read_file(entry.path());
    for (size_t cut = 0; cut < source.size(); cut += 97) {
      std::string damaged = source.substr(0, cut);
      const auto a = apply_chat_template(damaged, in);
      damaged = source;
      damaged[cut] = "{}%#()[]'\"|-"[cut % 12];
      const auto b = apply_chat_template(damaged, in);
      renders += a.ok() + b.ok();
      failures += !a.ok() + !b.ok();
      if (!a.ok()) {
        EXPECT_FALSE(a.error().message.empty());
      }
    }
  }
  EXPECT_GT(renders, 0u);
  EXPECT_GT(failures, 0u);
}

}  // namespace
}  // namespace cria::chat
