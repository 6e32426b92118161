#include "engine/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cria::engine {

namespace {
// -log p(token) from a row of logits, with the sum of exponentials in double.
double negative_log_likelihood(const float* logits, int64_t n_vocab, int32_t token) {
  const float max = *std::max_element(logits, logits + n_vocab);
  double sum = 0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  return -(static_cast<double>(logits[token] - max) - std::log(sum));
}
}  // namespace

Result<PerplexityResult> perplexity(model::Session& session, const std::vector<int32_t>& tokens, int32_t bos,
                                    const std::function<void(int, double)>& after_chunk,
                                    const ScoredLogitsFn& on_scored, int max_chunks) {
  const int n_ctx = session.n_ctx();
  const int n_batch = session.n_batch();
  const int64_t n_vocab = session.model().n_vocab();
  if (static_cast<int64_t>(tokens.size()) < 2LL * n_ctx) {
    return make_error("the text is " + std::to_string(tokens.size()) + " tokens; perplexity with a context of " +
                      std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx));
  }
  PerplexityResult result;
  result.n_chunks = static_cast<int>(tokens.size() / static_cast<size_t>(n_ctx));
  if (max_chunks > 0) result.n_chunks = std::min(result.n_chunks, max_chunks);
  const int first = n_ctx / 2;
  double nll = 0, nll2 = 0;
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  for (int c = 0; c < result.n_chunks; ++c) {
    const size_t start = static_cast<size_t>(c) * n_ctx;
    std::copy(tokens.begin() + static_cast<long>(start), tokens.begin() + static_cast<long>(start + n_ctx),
              chunk.begin());
    chunk[0] = bos;
    session.truncate(0);
    for (int b = 0; b < n_ctx; b += n_batch) {
      const int n = std::min(n_batch, n_ctx - b);
      auto status = session.decode(std::span<const int32_t>(chunk.data() + b, static_cast<size_t>(n)), true);
      if (!status) return status.error();
      // Logits at position j predict token j + 1 of the chunk; score positions first .. n_ctx - 2.
      for (int j = std::max(b, first); j < std::min(b + n, n_ctx - 1); ++j) {
        const double v = negative_log_likelihood(session.logits(j - b), n_vocab, tokens[start + j + 1]);
        if (on_scored) on_scored(session.logits(j - b));
        nll += v;
        nll2 += v * v;
        ++result.n_scored;
      }
    }
    if (after_chunk) after_chunk(c, std::exp(nll / static_cast<double>(result.n_scored)));
  }
  const double mean = nll / static_cast<double>(result.n_scored);
  result.ppl = std::exp(mean);
  const double variance = nll2 / static_cast<double>(result.n_scored) - mean * mean;
  result.ppl_error = variance > 0 ? std::sqrt(variance / static_cast<double>(result.n_scored - 1)) * result.ppl : 0;
  return result;
}

}  // namespace cria::engine
