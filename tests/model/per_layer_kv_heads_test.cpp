// A model whose layers have different KV head counts (attention.head_count_kv as an array) with more KV
// heads in later layers than in layer 0: the cache and the work buffers are sized for the largest layer.
// The file is the KJV F32 model with layers 3-5 widened to 8 KV heads, each a copy of the head the
// original's GQA group of 2 shares, so it computes the same function: its logits must equal the
// original's (and under ASan no buffer is overrun).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/session.h"
#include "test_support.h"

namespace cria::model {
namespace {

namespace fs = std::filesystem;

// Greedy logits of the prompt and n_gen generated tokens.
std::vector<std::vector<float>> greedy_logits(const std::string& path, const std::vector<int32_t>& prompt, int n_gen) {
  auto model = Model::load(path);
  EXPECT_TRUE(model.ok()) << model.error().message;
  if (!model) return {};
  auto session = Session::create(*model, {128, 32, 2}).value();
  std::vector<std::vector<float>> out;
  std::vector<int32_t> next = prompt;
  for (int step = 0; step <= n_gen; ++step) {
    EXPECT_TRUE(session->decode(next).ok());
    const float* logits = session->logits();
    out.emplace_back(logits, logits + (*model)->n_vocab());
    next = {static_cast<int32_t>(std::max_element(out.back().begin(), out.back().end()) - out.back().begin())};
  }
  return out;
}

TEST(ModelPerLayerKvHeads, WiderLaterLayersComputeTheSameFunction) {
  const fs::path original = test::kjv_gguf_dir() / "kjv-F32.gguf";
  CRIA_REQUIRE_FIXTURE(original);
  auto file = gguf::File::open(original.string());
  ASSERT_TRUE(file.ok());
  const int head_dim = 32, hidden = 256;
  const std::vector<int32_t> kv_heads = {4, 4, 4, 8, 8, 8};

  gguf::Writer w;
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  w.set("llama.attention.head_count_kv", gguf::Array{gguf::ValueType::INT32, kv_heads});
  std::vector<std::vector<float>> widened;
  widened.reserve(6);
  for (const auto& t : file->tensors()) {
    const bool kv = t.name.ends_with("attn_k.weight") || t.name.ends_with("attn_v.weight");
    const int layer = t.name.starts_with("blk.") ? std::stoi(t.name.substr(4)) : -1;
    if (!kv || kv_heads[static_cast<size_t>(layer)] == 4) {
      ASSERT_TRUE(w.add_tensor(t.name, t.type, {t.ne[0], t.ne[1]}, std::span(t.data, t.n_bytes)).ok());
      continue;
    }
    ASSERT_EQ(t.type, TensorType::F32);
    const float* rows = reinterpret_cast<const float*>(t.data);
    auto& wide = widened.emplace_back(static_cast<size_t>(8 * head_dim * hidden));
    for (int head = 0; head < 8; ++head) {
      std::memcpy(&wide[static_cast<size_t>(head * head_dim * hidden)], rows + (head / 2) * head_dim * hidden,
                  sizeof(float) * head_dim * hidden);
    }
    ASSERT_TRUE(w.add_tensor(t.name, t.type, {hidden, 8 * head_dim},
                             std::span(reinterpret_cast<const uint8_t*>(wide.data()), wide.size() * sizeof(float)))
                    .ok());
  }
  const fs::path path = fs::temp_directory_path() / ("cria_kv_heads_" + std::to_string(::getpid()) + ".gguf");
  ASSERT_TRUE(w.write(path.string()).ok());

  const std::vector<int32_t> prompt = {1, 512, 37, 260, 1045, 92, 7, 300, 301};
  const auto want = greedy_logits(original.string(), prompt, 8);
  const auto got = greedy_logits(path.string(), prompt, 8);
  fs::remove(path);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(0, std::memcmp(want[i].data(), got[i].data(), want[i].size() * sizeof(float))) << "step " << i;
  }
}

}  // namespace
}  // namespace cria::model
