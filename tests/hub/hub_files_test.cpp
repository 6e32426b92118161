// Choosing what `cria pull` fetches (hub/hub_files): repository names, the Hub's tree listing, quant
// tags read from file names, the default preference (Q4_K_M, Q4_K_S, Q5_K_M, Q8_0, else the smallest),
// split models fetched whole (and refused when a shard is missing), and an unknown quant listing those
// that exist.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hub/hub_files.h"

namespace cria::hub {
namespace {

std::vector<std::string> paths(const Result<std::vector<HubFile>>& r) {
  std::vector<std::string> out;
  if (r.ok()) {
    for (const auto& f : *r) out.push_back(f.path);
  }
  return out;
}

TEST(HubFiles, RepositoryNames) {
  auto r = parse_hub_ref("TheBloke/Llama-2-13B-chat-GGUF:q5_k_m");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->repo, "TheBloke/Llama-2-13B-chat-GGUF");
  EXPECT_EQ(r->tag, "q5_k_m");
  EXPECT_EQ(parse_hub_ref("bartowski/Qwen2.5-1.5B-Instruct-GGUF")->tag, "");
  for (const char* bad : {"llama", "/x", "a/", "a/b/c", "a/../b", "a b/c", "a/b:", "a/b:Q4 K", "a/b?c"}) {
    EXPECT_FALSE(parse_hub_ref(bad).ok()) << bad;
  }
}

TEST(HubFiles, QuantTags) {
  EXPECT_EQ(quant_tag("llama-2-13b-chat.Q5_K_M.gguf"), "Q5_K_M");
  EXPECT_EQ(quant_tag("Qwen2.5-1.5B-Instruct-q4_k_m.gguf"), "Q4_K_M");
  EXPECT_EQ(quant_tag("sub/Model-IQ4_XS.gguf"), "IQ4_XS");
  EXPECT_EQ(quant_tag("model-f16.gguf"), "F16");
  EXPECT_EQ(quant_tag("model-bf16-00001-of-00002.gguf"), "BF16");
  EXPECT_EQ(quant_tag("q8_0.gguf"), "Q8_0");
  EXPECT_EQ(quant_tag("model.gguf"), "");
  EXPECT_EQ(quant_tag("xq4_k_m.gguf"), "") << "a tag must stand as a word of the name";
}

TEST(HubFiles, TreeListing) {
  auto files = parse_tree_listing(R"([
    {"type": "directory", "path": "sub", "oid": "x"},
    {"type": "file", "path": "README.md", "size": 120, "oid": "abc"},
    {"type": "file", "path": "m.Q8_0.gguf", "size": 133, "oid": "def",
     "lfs": {"oid": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 7340032, "pointerSize": 134}}])");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[1].path, "m.Q8_0.gguf");
  EXPECT_EQ((*files)[1].size, 7340032u);
  EXPECT_EQ((*files)[1].sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_EQ((*files)[0].sha256, "");
  EXPECT_FALSE(parse_tree_listing("{\"error\": \"Repository not found\"}").ok());
}

std::vector<HubFile> repo(std::vector<std::pair<std::string, uint64_t>> list) {
  std::vector<HubFile> out;
  for (auto& [p, s] : list) out.push_back({p, s, ""});
  return out;
}

TEST(HubFiles, ChoosesLikeLlamaCppAndOllama) {
  const auto files = repo({{"README.md", 1}, {"m.Q2_K.gguf", 30}, {"m.Q8_0.gguf", 80}, {"m.Q5_K_M.gguf", 55},
                           {"m.Q4_K_S.gguf", 42}, {"m.Q4_K_M.gguf", 45}, {"mmproj-m-f16.gguf", 5}});
  EXPECT_EQ(paths(choose_files(files, {"u/m", ""})), std::vector<std::string>{"m.Q4_K_M.gguf"});
  EXPECT_EQ(paths(choose_files(files, {"u/m", "q8_0"})), std::vector<std::string>{"m.Q8_0.gguf"});
  auto without_q4km = files;
  without_q4km.erase(without_q4km.begin() + 5);
  EXPECT_EQ(paths(choose_files(without_q4km, {"u/m", ""})), std::vector<std::string>{"m.Q4_K_S.gguf"});
  EXPECT_EQ(paths(choose_files(repo({{"a-F16.gguf", 100}, {"a-IQ2_M.gguf", 20}, {"a-Q6_K.gguf", 60}}), {"u/a", ""})),
            std::vector<std::string>{"a-IQ2_M.gguf"})
      << "none of the preferred quants: the smallest";
  auto unknown = choose_files(files, {"u/m", "Q3_K_M"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "u/m has no Q3_K_M file; it has: Q2_K, Q4_K_M, Q4_K_S, Q5_K_M, Q8_0");
  EXPECT_FALSE(choose_files(repo({{"README.md", 1}}), {"u/x", ""}).ok());
}

TEST(HubFiles, SplitModelsAreFetchedWhole) {
  const auto files = repo({{"big/m-Q4_K_M-00002-of-00003.gguf", 10}, {"big/m-Q4_K_M-00001-of-00003.gguf", 10},
                           {"big/m-Q4_K_M-00003-of-00003.gguf", 5}, {"m-Q8_0.gguf", 50}});
  EXPECT_EQ(paths(choose_files(files, {"u/m", ""})),
            (std::vector<std::string>{"big/m-Q4_K_M-00001-of-00003.gguf", "big/m-Q4_K_M-00002-of-00003.gguf",
                                      "big/m-Q4_K_M-00003-of-00003.gguf"}));
  auto gap = files;
  gap.erase(gap.begin());
  auto missing = choose_files(gap, {"u/m", "Q4_K_M"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("lacks m-Q4_K_M-00002-of-00003.gguf"), std::string::npos) << missing.error().message;
}

}  // namespace
}  // namespace cria::hub
