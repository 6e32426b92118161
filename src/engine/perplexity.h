// Perplexity as llama-perplexity computes it: the text is cut into chunks of n_ctx tokens, each chunk
// starts with BOS and is evaluated from an empty cache, and only the second half of each chunk is scored
// (so every scored token has at least n_ctx/2 tokens of context).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/result.h"
#include "model/session.h"

namespace cria::engine {

struct PerplexityResult {
  double ppl = 0;        // exp(mean negative log-likelihood)
  double ppl_error = 0;  // llama.cpp's uncertainty estimate
  int n_chunks = 0;
  int64_t n_scored = 0;
};

// Sees the logits of every scored position, in order (for KL divergence against another model).
using ScoredLogitsFn = std::function<void(const float* logits)>;

// tokens: the whole text, tokenized with BOS first; it must hold two chunks, as llama-perplexity requires,
// even when max_chunks (llama-perplexity's --chunks; -1: all) asks for one. after_chunk(i, running ppl) is
// called after each chunk.
Result<PerplexityResult> perplexity(model::Session& session, const std::vector<int32_t>& tokens, int32_t bos,
                                    const std::function<void(int, double)>& after_chunk = {},
                                    const ScoredLogitsFn& on_scored = {}, int max_chunks = -1);

}  // namespace cria::engine
