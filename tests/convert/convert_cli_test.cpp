// `cria convert` from the command line: default output name, progress lines, one-line errors.
#include <gtest/gtest.h>

#include "cli/cli_support.h"
#include "convert_test_support.h"
#include "gguf/gguf_reader.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

TEST(ConvertCli, WritesLlamaCppsDefaultNameWithProgress) {
  CRIA_REQUIRE_FIXTURE(kjv_checkpoint("hf"));
  ScratchDir scratch("cli_default");
  const fs::path dir = scratch / "tiny-llama";
  link_checkpoint(kjv_checkpoint("hf"), dir);
  const auto r = run_cria("convert '" + dir.string() + "' --outtype q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path out = dir / "Tiny-Llama-6.8M-Q8_0.gguf";
  ASSERT_TRUE(fs::exists(out)) << r.out;
  EXPECT_NE(r.out.find(out.string()), std::string::npos) << r.out;
  // stderr is a pipe here, so progress comes as one line per tensor.
  EXPECT_NE(r.err.find("[1/57]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[57/57]"), std::string::npos) << r.err;
  auto file = gguf::File::open(out.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(*file->get_string("general.name"), "Tiny Llama");
}

TEST(ConvertCli, ErrorsAreOneLine) {
  CRIA_REQUIRE_FIXTURE(kjv_checkpoint("hf"));
  ScratchDir scratch("cli_errors");
  auto r = run_cria("convert '" + kjv_checkpoint("hf").string() + "' --outtype q4_k -o '" + (scratch / "x.gguf").string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cria: error: output type 'q4_k' is not one of f32, f16, bf16, q8_0"), std::string::npos) << r.err;

  const fs::path dir = scratch / "broken";
  link_checkpoint(kjv_checkpoint("hf"), dir, "config.json");
  write_bytes(dir / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"]}");
  r = run_cria("convert '" + dir.string() + "' -o '" + (scratch / "y.gguf").string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cria: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("config.json: required key 'num_hidden_layers' is missing"), std::string::npos) << r.err;
  EXPECT_TRUE(nothing_written(scratch / "y.gguf"));
}

}  // namespace
}  // namespace cria::test
