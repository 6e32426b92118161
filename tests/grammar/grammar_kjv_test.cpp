// Greedy decoding of the bundled KJV model under a grammar (no capitals, no newlines): at every step the
// constrained choice is the unconstrained greedy token when the grammar allows it, and otherwise the
// best token the grammar allows (found here by matching every token on its own); both cases occur.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "model/model.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace cria::grammar {
namespace {

TEST(GbnfKjv, GreedyUnderAGrammarKeepsTheUnconstrainedChoiceWhereAllowed) {
  auto file = gguf::File::open(CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = tokenizer::Tokenizer::load(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto model = model::Model::from_file(std::move(*file));
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto session = model::Session::create(*model, {256, 64, 2});
  ASSERT_TRUE(session.ok()) << session.error().message;
  const int64_t n_vocab = tok->n_vocab();
  auto pieces = std::make_shared<std::vector<std::string>>();
  for (int32_t id = 0; id < n_vocab; ++id) pieces->push_back(tok->token_to_piece(id, false));
  auto g = parse_gbnf("root ::= [a-z ,.;:]+\n");
  ASSERT_TRUE(g.ok());
  const auto grammar = std::make_shared<Grammar>(std::move(*g));

  sampling::SamplingParams greedy;
  greedy.temp = 0.0f;
  sampling::Sampler sampler(greedy, n_vocab, 64);
  sampler.set_grammar(grammar, pieces, {tok->eos()});
  Matcher shadow(grammar);  // the same text, to check against

  std::vector<int32_t> tokens = tok->encode("And God said unto Moses,", true, false);
  ASSERT_TRUE((*session)->decode(tokens).ok());
  int kept = 0, replaced = 0;
  for (int step = 0; step < 60; ++step) {
    const float* logits = (*session)->logits();
    const auto best = static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
    const int32_t picked = sampler.sample(logits);
    const auto& piece = (*pieces)[static_cast<size_t>(best)];
    if (!piece.empty() && shadow.allows(piece)) {
      EXPECT_EQ(picked, best) << "step " << step;
      ++kept;
    } else {
      int32_t best_allowed = -1;
      for (int32_t t = 0; t < n_vocab; ++t) {
        const auto& p = (*pieces)[static_cast<size_t>(t)];
        if (p.empty() || !shadow.allows(p)) continue;
        if (best_allowed < 0 || logits[t] > logits[best_allowed]) best_allowed = t;
      }
      EXPECT_EQ(picked, best_allowed) << "step " << step;
      ++replaced;
    }
    ASSERT_TRUE(shadow.accept((*pieces)[static_cast<size_t>(picked)])) << "step " << step;
    const int32_t next[] = {picked};
    ASSERT_TRUE((*session)->decode(next).ok());
  }
  EXPECT_GT(kept, 10);
  EXPECT_GT(replaced, 0);
}

}  // namespace
}  // namespace cria::grammar
