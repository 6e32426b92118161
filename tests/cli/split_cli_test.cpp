// `cria split` and `cria merge` as llama-gguf-split is used: shards that run and generate what the single
// file generates, a dry run that writes nothing, a merge, and usage errors naming the problem (exit 1).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "cli/cli_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

TEST(CliSplit, SplitRunMerge) {
  const fs::path dir = fs::temp_directory_path() / ("cria_cli_split_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string model = CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf";
  const std::string prefix = (dir / "kjv").string();

  auto dry = run_cria("split --split-max-size 3M --dry-run " + model + " " + prefix);
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("kjv-00003-of-00003.gguf"), std::string::npos) << dry.out;
  EXPECT_TRUE(fs::is_empty(dir)) << "a dry run writes nothing";

  auto split = run_cria("split --split-max-size 3M " + model + " " + prefix);
  ASSERT_EQ(split.exit_code, 0) << split.err;
  const std::string first = prefix + "-00001-of-00003.gguf";
  ASSERT_TRUE(fs::exists(first));
  const std::string gen = " -p 'In the beginning' -n 12 --temp 0 --no-display-prompt";
  auto single = run_cria("run -m " + model + gen);
  ASSERT_EQ(single.exit_code, 0) << single.err;
  ASSERT_GT(single.out.size(), 10u) << single.out;
  auto sharded = run_cria("run -m " + first + gen);
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  EXPECT_EQ(sharded.out, single.out);
  auto info = run_cria("info " + first);
  EXPECT_NE(info.out.find("shards:      3"), std::string::npos) << info.out;

  auto merge = run_cria("merge " + first + " " + (dir / "merged.gguf").string());
  ASSERT_EQ(merge.exit_code, 0) << merge.err;
  auto merged = run_cria("run -m " + (dir / "merged.gguf").string() + gen);
  EXPECT_EQ(merged.out, single.out);

  auto again = run_cria("merge " + first + " " + (dir / "merged.gguf").string());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  auto unit = run_cria("split --split-max-size 3GB " + model + " " + prefix);
  EXPECT_EQ(unit.exit_code, 1);
  EXPECT_NE(unit.err.find("supported units are M (megabytes) or G (gigabytes)"), std::string::npos) << unit.err;
  auto both = run_cria("split --split-max-size 3M --split-max-tensors 4 " + model + " " + prefix);
  EXPECT_EQ(both.exit_code, 1);
  auto second = run_cria("run -m " + prefix + "-00002-of-00003.gguf -p x -n 1");
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("open the first one"), std::string::npos) << second.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cria::test
