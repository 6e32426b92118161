// The forward pass against the training code's own PyTorch logits (fp32 compute on the bf16 weights):
// an oracle independent of llama.cpp and of our tokenizer (the reference lists token ids).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/session.h"
#include "test_support.h"

namespace cria::model {
namespace {

nlohmann::json load_reference() {
  std::ifstream in(test::shared_dir() / "fixtures/models/kjv/reference/pytorch_reference_logits.json");
  return nlohmann::json::parse(in);
}

int argmax(const float* v, int64_t n) {
  return static_cast<int>(std::max_element(v, v + n) - v);
}

TEST(ModelReferenceLogits, F32MatchesPytorchTop5AndGreedy) {
  const auto path = test::kjv_gguf_dir() / "kjv-F32.gguf";
  CRIA_REQUIRE_FIXTURE(path);
  const auto ref = load_reference();
  auto model = Model::load(path.string());
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto session = Session::create(*model, {});
  ASSERT_TRUE(session.ok()) << session.error().message;
  Session& s = **session;

  const std::vector<int32_t> input = ref["input_ids"].get<std::vector<int32_t>>();
  ASSERT_TRUE(s.decode(input, true).ok());
  const int64_t n_vocab = (*model)->n_vocab();
  for (const auto& pos : ref["positions"]) {
    const int p = pos["pos"];
    const float* logits = s.logits(p);
    for (const auto& top : pos["top5"]) {
      // PyTorch computes in fp32 without activation quantization or f16 KV: allow a small difference.
      EXPECT_NEAR(logits[top["id"].get<int>()], top["logit"].get<float>(), 0.02f) << "position " << p;
    }
    EXPECT_EQ(argmax(logits, n_vocab), pos["top5"][0]["id"].get<int>()) << "position " << p;
  }

  // Greedy continuation, one token at a time through the KV cache.
  s.truncate(0);
  const std::vector<int32_t> prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  ASSERT_TRUE(s.decode(prompt).ok());
  std::vector<int32_t> generated;
  for (int i = 0; i < 64; ++i) {
    const int32_t next = argmax(s.logits(), n_vocab);
    generated.push_back(next);
    ASSERT_TRUE(s.decode(std::vector<int32_t>{next}).ok());
  }
  EXPECT_EQ(generated, ref["greedy_64_new_ids"].get<std::vector<int32_t>>());
}

}  // namespace
}  // namespace cria::model
