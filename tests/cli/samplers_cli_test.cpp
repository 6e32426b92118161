// llama.cpp's sampler flags on `cria run` (issue 18, item 4): each sampler runs on the bundled model,
// --samplers with the default order changes nothing, and bad values are one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "cli/cli_support.h"
#include "test_support.h"

namespace cria::test {
namespace {

std::string seeded_run() {
  return "-m '" + std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf' -p 'And the LORD said' -n 12 -s 7 ";
}

TEST(CliSamplers, EachSamplerRuns) {
  for (const std::string flags :
       {"--mirostat 1", "--mirostat 2 --mirostat-lr 0.05 --mirostat-ent 3.0", "--typical 0.9",
        "--xtc-probability 0.5 --xtc-threshold 0.1", "--dry-multiplier 0.8 --dry-sequence-breaker '\\n'",
        "--dry-multiplier 0.8 --dry-base 2 --dry-allowed-length 3 --dry-penalty-last-n 32",
        "--samplers 'top_k;temperature'", "--sampling-seq kt", "--sampler-seq edkypmxt"}) {
    auto r = run_cria(seeded_run() + flags);
    EXPECT_EQ(r.exit_code, 0) << flags << ": " << r.err;
    EXPECT_EQ(r.err.find("not supported"), std::string::npos) << flags << ": " << r.err;
  }
}

TEST(CliSamplers, DefaultOrderChangesNothing) {
  auto plain = run_cria(seeded_run());
  auto named = run_cria(seeded_run() + "--samplers 'penalties;dry;top_k;typ_p;top_p;min_p;xtc;temperature'");
  auto letters = run_cria(seeded_run() + "--sampling-seq edkypmxt --typical 1 --xtc-probability 0 --dry-multiplier 0");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out, named.out);
  EXPECT_EQ(plain.out, letters.out);
}

TEST(CliSamplers, BadValuesAreOneLineErrors) {
  for (const std::string bad : {"--samplers 'top_k;bogus'", "--sampling-seq kqt", "--mirostat 3", "--typical 0",
                                "--xtc-probability 2", "--dry-penalty-last-n -2"}) {
    auto r = run_cria("-p hi " + bad);
    EXPECT_EQ(r.exit_code, 1) << bad << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad << ": " << r.err;
  }
  auto r = run_cria("-p hi --samplers 'top_k;bogus'");
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cria::test
