// A helper the model tests share: one sequence's tokens decoded in one batch.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <vector>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/runner.h"

namespace cria::model::test_decode {

// Decodes `tokens` at positions pos0, pos0 + 1, ... of sequence `seq`; the last token's logits.
inline std::vector<float> feed(Runner& runner, KvCache& cache, std::span<const int32_t> tokens, int32_t pos0,
                               int seq) {
  Batch batch;
  batch.add_sequence(tokens, pos0, seq);
  auto s = runner.decode(batch, cache);
  EXPECT_TRUE(s.ok()) << s.error().message;
  const float* logits = runner.logits(batch.size() - 1);
  return {logits, logits + runner.n_vocab()};
}

}  // namespace cria::model::test_decode
