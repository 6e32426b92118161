// The C API (include/cria/cria.h) through libcria.so on the bundled KJV model: greedy generation equals
// model::Session's, sequences sharing a batch generate what they generate alone, the KV sequence
// operations, the buffer protocol, chat templates, and every failure as a status code with a message.
#include <gtest/gtest.h>

#include <cria/cria.h>
#include <cria/cria.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "model/session.h"
#include "sampling/sampler.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

extern "C" int cria_c_header_check(const char* model_path);

namespace {

const std::string kModel = std::string(CRIA_SOURCE_DIR) + "/models/kjv-Q8_0.gguf";
constexpr int kThreads = 2;

struct ModelDeleter {
  void operator()(cria_model* m) const { cria_model_free(m); }
};
struct ContextDeleter {
  void operator()(cria_context* c) const { cria_context_free(c); }
};
struct BatchDeleter {
  void operator()(cria_batch* b) const { cria_batch_free(b); }
};
struct SamplerDeleter {
  void operator()(cria_sampler* s) const { cria_sampler_free(s); }
};
using Model = std::unique_ptr<cria_model, ModelDeleter>;
using Context = std::unique_ptr<cria_context, ContextDeleter>;
using Batch = std::unique_ptr<cria_batch, BatchDeleter>;
using Sampler = std::unique_ptr<cria_sampler, SamplerDeleter>;

Model load() {
  cria_model* m = nullptr;
  EXPECT_EQ(cria_model_load(kModel.c_str(), nullptr, &m), CRIA_OK) << cria_last_error();
  return Model(m);
}

Context context(const cria_model* m, int n_ctx, int n_seq = 1, int n_batch = 512) {
  cria_context_params p = cria_context_default_params();
  p.n_ctx = n_ctx;
  p.n_seq_max = n_seq;
  p.n_batch = n_batch;
  p.n_threads = kThreads;
  cria_context* c = nullptr;
  EXPECT_EQ(cria_context_create(m, &p, &c), CRIA_OK) << cria_last_error();
  return Context(c);
}

Batch batch() {
  cria_batch* b = nullptr;
  EXPECT_EQ(cria_batch_create(&b), CRIA_OK);
  return Batch(b);
}

Sampler greedy(const cria_context* c) {
  cria_sampler_params p = cria_sampler_default_params();
  p.temp = 0;
  cria_sampler* s = nullptr;
  EXPECT_EQ(cria_sampler_create(c, &p, &s), CRIA_OK) << cria_last_error();
  return Sampler(s);
}

std::vector<cria_token> tokenize(const cria_model* m, const std::string& text, bool add_special = true) {
  size_t n = 0;
  EXPECT_EQ(cria_tokenize(m, text.data(), text.size(), add_special, false, nullptr, 0, &n), CRIA_OK);
  std::vector<cria_token> tokens(n);
  EXPECT_EQ(cria_tokenize(m, text.data(), text.size(), add_special, false, tokens.data(), tokens.size(), &n), CRIA_OK);
  return tokens;
}

void add(cria_batch* b, cria_token t, cria_pos pos, cria_seq_id seq, bool logits) {
  ASSERT_EQ(cria_batch_add(b, t, pos, &seq, 1, logits), CRIA_OK) << cria_last_error();
}

// Greedy continuation of one prompt in sequence `seq` of ctx, generating n tokens.
std::vector<cria_token> generate(cria_context* c, cria_seq_id seq, const std::vector<cria_token>& prompt, int n) {
  auto b = batch();
  auto s = greedy(c);
  for (size_t i = 0; i < prompt.size(); ++i) add(b.get(), prompt[i], static_cast<cria_pos>(i), seq, i + 1 == prompt.size());
  std::vector<cria_token> out;
  cria_pos pos = static_cast<cria_pos>(prompt.size());
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(cria_decode(c, b.get()), CRIA_OK) << cria_last_error();
    cria_token t = -1;
    EXPECT_EQ(cria_sampler_sample(s.get(), c, -1, &t), CRIA_OK) << cria_last_error();
    out.push_back(t);
    cria_batch_clear(b.get());
    add(b.get(), t, pos++, seq, true);
  }
  return out;
}

class CApi : public ::testing::Test {
 protected:
  void SetUp() override { CRIA_REQUIRE_FIXTURE(kModel); }
};

TEST_F(CApi, GreedyGenerationEqualsSession) {
  auto m = load();
  const std::string prompt = "In the beginning God created";
  auto c = context(m.get(), 256);
  const auto tokens = tokenize(m.get(), prompt);
  const auto api = generate(c.get(), 0, tokens, 24);

  auto model = cria::model::Model::load(kModel);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto session = cria::model::Session::create(*model, {256, 512, kThreads, false});
  ASSERT_TRUE(session.ok()) << session.error().message;
  cria::sampling::SamplingParams sp;
  sp.temp = 0;
  cria::sampling::Sampler sampler(sp, (*model)->n_vocab(), 256);
  std::vector<int32_t> expected;
  ASSERT_TRUE((*session)->decode(tokens).ok());
  for (int k = 0; k < 24; ++k) {
    const int32_t t = sampler.sample((*session)->logits());
    expected.push_back(t);
    ASSERT_TRUE((*session)->decode(std::span<const int32_t>(&t, 1)).ok());
  }
  EXPECT_EQ(api, expected);
  // The text is the Bible's, not noise.
  size_t len = 0;
  ASSERT_EQ(cria_detokenize(m.get(), api.data(), api.size(), false, false, nullptr, 0, &len), CRIA_OK);
  std::string text(len + 1, '\0');
  ASSERT_EQ(cria_detokenize(m.get(), api.data(), api.size(), false, false, text.data(), text.size(), &len), CRIA_OK);
  text.resize(len);
  EXPECT_NE(text.find("Lord"), std::string::npos) << text;
}

// type_k / type_v choose the cache's types: the same greedy tokens as a Session over a q8_0/q4_0 cache,
// and a name outside llama.cpp's set is refused by name.
TEST_F(CApi, CacheTypes) {
  auto m = load();
  const auto tokens = tokenize(m.get(), "In the beginning God created");
  cria_context_params p = cria_context_default_params();
  p.n_ctx = 256;
  p.n_threads = kThreads;
  p.type_k = "q8_0";
  p.type_v = "Q4_0";
  cria_context* raw = nullptr;
  ASSERT_EQ(cria_context_create(m.get(), &p, &raw), CRIA_OK) << cria_last_error();
  Context c(raw);
  const auto api = generate(c.get(), 0, tokens, 12);
  auto model = cria::model::Model::load(kModel);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto session = cria::model::Session::create(*model, {256, 512, kThreads, false},
                                              {cria::TensorType::Q8_0, cria::TensorType::Q4_0});
  ASSERT_TRUE(session.ok()) << session.error().message;
  EXPECT_EQ((*session)->cache().types().v, cria::TensorType::Q4_0);
  cria::sampling::SamplingParams sp;
  sp.temp = 0;
  cria::sampling::Sampler sampler(sp, (*model)->n_vocab(), 256);
  std::vector<int32_t> expected;
  ASSERT_TRUE((*session)->decode(tokens).ok());
  for (int k = 0; k < 12; ++k) {
    const int32_t t = sampler.sample((*session)->logits());
    expected.push_back(t);
    ASSERT_TRUE((*session)->decode(std::span<const int32_t>(&t, 1)).ok());
  }
  EXPECT_EQ(api, expected);
  p.type_v = "q3_k";
  raw = nullptr;
  EXPECT_EQ(cria_context_create(m.get(), &p, &raw), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(raw, nullptr);
  EXPECT_NE(std::string(cria_last_error()).find("type_v: unknown KV cache type 'q3_k'"), std::string::npos)
      << cria_last_error();
}

TEST_F(CApi, TwoSequencesInOneBatchGenerateWhatTheyGenerateAlone) {
  auto m = load();
  const auto a = tokenize(m.get(), "The LORD is my shepherd");
  const auto b = tokenize(m.get(), "And it came to pass, when the king heard");
  constexpr int n = 12;
  const auto alone_a = generate(context(m.get(), 128).get(), 0, a, n);
  const auto alone_b = generate(context(m.get(), 128).get(), 0, b, n);

  auto c = context(m.get(), 256, 2);
  auto batch_ab = batch();
  for (size_t i = 0; i < a.size(); ++i) add(batch_ab.get(), a[i], static_cast<cria_pos>(i), 0, i + 1 == a.size());
  for (size_t i = 0; i < b.size(); ++i) add(batch_ab.get(), b[i], static_cast<cria_pos>(i), 1, i + 1 == b.size());
  auto s = greedy(c.get());
  std::vector<cria_token> got_a, got_b;
  cria_pos pos_a = static_cast<cria_pos>(a.size()), pos_b = static_cast<cria_pos>(b.size());
  int ia = static_cast<int>(a.size()) - 1, ib = static_cast<int>(a.size() + b.size()) - 1;
  for (int k = 0; k < n; ++k) {
    ASSERT_EQ(cria_decode(c.get(), batch_ab.get()), CRIA_OK) << cria_last_error();
    cria_token ta = -1, tb = -1;
    ASSERT_EQ(cria_sampler_sample(s.get(), c.get(), ia, &ta), CRIA_OK);
    ASSERT_EQ(cria_sampler_sample(s.get(), c.get(), ib, &tb), CRIA_OK);
    got_a.push_back(ta);
    got_b.push_back(tb);
    cria_batch_clear(batch_ab.get());
    add(batch_ab.get(), ta, pos_a++, 0, true);
    add(batch_ab.get(), tb, pos_b++, 1, true);
    ia = 0, ib = 1;
  }
  EXPECT_EQ(got_a, alone_a);
  EXPECT_EQ(got_b, alone_b);
}

// With `deterministic`, a prompt decoded in one batch or split 8 + 1 gives bitwise the same logits for
// its last token (the KJV model has 2 query heads per KV head: without it the lone ninth token would
// take the per-head attention kernel and the nine-token batch the grouped one).
TEST_F(CApi, DeterministicContextsDoNotDependOnTheSplit) {
  auto m = load();
  const auto prompt = tokenize(m.get(), "And it came to pass in those days, that there went out");
  ASSERT_GE(prompt.size(), 9u);
  auto last_logits = [&](bool deterministic, size_t first_batch) {
    cria_context_params p = cria_context_default_params();
    p.n_ctx = 64;
    p.n_threads = kThreads;
    p.deterministic = deterministic;
    cria_context* raw = nullptr;
    EXPECT_EQ(cria_context_create(m.get(), &p, &raw), CRIA_OK) << cria_last_error();
    Context c(raw);
    auto b = batch();
    for (size_t start = 0; start < 9; start = first_batch, first_batch = 9) {
      cria_batch_clear(b.get());
      for (size_t i = start; i < first_batch; ++i) add(b.get(), prompt[i], static_cast<cria_pos>(i), 0, i == 8);
      EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_OK) << cria_last_error();
    }
    const float* logits = cria_get_logits(c.get(), -1);
    return std::vector<float>(logits, logits + cria_model_n_vocab(m.get()));
  };
  EXPECT_EQ(last_logits(true, 9), last_logits(true, 8));
  EXPECT_NE(last_logits(false, 9), last_logits(false, 8)) << "the split matters without it (else this test proves nothing)";
}

TEST_F(CApi, KvSequenceOperations) {
  auto m = load();
  auto c = context(m.get(), 64, 3);
  const auto prompt = tokenize(m.get(), "For God so loved the world");
  const int np = static_cast<int>(prompt.size());
  const auto reference = generate(context(m.get(), 64).get(), 0, prompt, 4);

  auto b = batch();
  for (int i = 0; i < np; ++i) add(b.get(), prompt[static_cast<size_t>(i)], i, 0, i + 1 == np);
  ASSERT_EQ(cria_decode(c.get(), b.get()), CRIA_OK);
  EXPECT_EQ(cria_kv_n_available(c.get()), 64 - np);
  cria_pos pos = -2;
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 0, &pos), CRIA_OK);
  EXPECT_EQ(pos, np - 1);

  // A fork shares the cells and continues exactly as the original would.
  ASSERT_EQ(cria_kv_seq_cp(c.get(), 0, 1, 0, -1), CRIA_OK);
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 1, &pos), CRIA_OK);
  EXPECT_EQ(pos, np - 1);
  EXPECT_EQ(cria_kv_n_available(c.get()), 64 - np);
  auto s = greedy(c.get());
  cria_token t = -1;
  ASSERT_EQ(cria_sampler_sample(s.get(), c.get(), -1, &t), CRIA_OK);
  EXPECT_EQ(t, reference[0]);
  cria_batch_clear(b.get());
  add(b.get(), t, np, 1, true);
  ASSERT_EQ(cria_decode(c.get(), b.get()), CRIA_OK);
  ASSERT_EQ(cria_sampler_sample(s.get(), c.get(), 0, &t), CRIA_OK);
  EXPECT_EQ(t, reference[1]);

  // seq_rm forgets a range; seq_keep clears the others; reuse_prefix finds the retained prompt.
  ASSERT_EQ(cria_kv_seq_rm(c.get(), 1, 3, -1), CRIA_OK);
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 1, &pos), CRIA_OK);
  EXPECT_EQ(pos, 2);
  ASSERT_EQ(cria_kv_seq_keep(c.get(), 0), CRIA_OK);
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 1, &pos), CRIA_OK);
  EXPECT_EQ(pos, -1);
  ASSERT_EQ(cria_kv_seq_retain(c.get(), 0), CRIA_OK);
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 0, &pos), CRIA_OK);
  EXPECT_EQ(pos, -1);
  int32_t reused = -1;
  ASSERT_EQ(cria_kv_seq_reuse_prefix(c.get(), 2, prompt.data(), prompt.size(), &reused), CRIA_OK);
  EXPECT_EQ(reused, np - 1);
  cria_batch_clear(b.get());
  add(b.get(), prompt.back(), np - 1, 2, true);
  ASSERT_EQ(cria_decode(c.get(), b.get()), CRIA_OK);
  ASSERT_EQ(cria_sampler_sample(s.get(), c.get(), 0, &t), CRIA_OK);
  EXPECT_EQ(t, reference[0]);
  EXPECT_EQ(cria_kv_seq_reuse_prefix(c.get(), 2, prompt.data(), prompt.size(), &reused), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cria_last_error()).find("not empty"), std::string::npos);

  // Shifting positions: the sequence moves up by 10.
  ASSERT_EQ(cria_kv_seq_add(c.get(), 2, 0, -1, 10), CRIA_OK);
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 2, &pos), CRIA_OK);
  EXPECT_EQ(pos, np - 1 + 10);
  EXPECT_EQ(cria_kv_seq_add(c.get(), 2, 0, -1, -100), CRIA_ERROR_INVALID_ARGUMENT);

  EXPECT_EQ(cria_kv_seq_cp(c.get(), 0, 7, 0, -1), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cria_last_error()).find("sequence id 7"), std::string::npos) << cria_last_error();
  ASSERT_EQ(cria_kv_clear(c.get()), CRIA_OK);
  EXPECT_EQ(cria_kv_n_available(c.get()), 64);
}

TEST_F(CApi, BuffersReportTheSizeTheyNeed) {
  auto m = load();
  const std::string text = "In the beginning";
  size_t n = 0;
  ASSERT_EQ(cria_tokenize(m.get(), text.data(), text.size(), true, false, nullptr, 0, &n), CRIA_OK);
  ASSERT_GT(n, 2u);
  std::vector<cria_token> small(n - 1, -7);
  size_t n2 = 0;
  EXPECT_EQ(cria_tokenize(m.get(), text.data(), text.size(), true, false, small.data(), small.size(), &n2),
            CRIA_ERROR_BUFFER_TOO_SMALL);
  EXPECT_EQ(n2, n);
  EXPECT_EQ(small[0], -7);  // nothing written
  EXPECT_EQ(cria_token_bos(m.get()), tokenize(m.get(), text)[0]);

  size_t len = 0;
  // Without a BOS the SPM space prefix is dropped again; after one it stays (the detokenizer's rule).
  const auto tokens = tokenize(m.get(), text, false);
  ASSERT_EQ(cria_detokenize(m.get(), tokens.data(), tokens.size(), false, false, nullptr, 0, &len), CRIA_OK);
  EXPECT_EQ(len, text.size());
  std::string exact(len, 'x');  // no room for the NUL: still fine
  ASSERT_EQ(cria_detokenize(m.get(), tokens.data(), tokens.size(), false, false, exact.data(), exact.size(), &len),
            CRIA_OK);
  EXPECT_EQ(exact, text);
  char tiny[4];
  EXPECT_EQ(cria_detokenize(m.get(), tokens.data(), tokens.size(), false, false, tiny, sizeof tiny, &len),
            CRIA_ERROR_BUFFER_TOO_SMALL);
  EXPECT_EQ(cria_tokenize(m.get(), text.data(), text.size(), true, false, nullptr, 5, &n), CRIA_ERROR_INVALID_ARGUMENT);
}

TEST_F(CApi, ChatTemplates) {
  auto m = load();
  const cria_chat_message messages[] = {{"system", "Be brief."}, {"user", "Hello"}};
  size_t len = 0;
  ASSERT_EQ(cria_chat_apply_template(m.get(), "chatml", messages, 2, true, nullptr, 0, &len), CRIA_OK)
      << cria_last_error();
  std::string text(len + 1, '\0');
  ASSERT_EQ(cria_chat_apply_template(m.get(), "chatml", messages, 2, true, text.data(), text.size(), &len), CRIA_OK);
  text.resize(len);
  EXPECT_EQ(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
  // Template source, no model.
  ASSERT_EQ(cria_chat_apply_template(nullptr, "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}",
                                     messages, 2, false, text.data(), text.size(), &len),
            CRIA_OK);
  EXPECT_EQ(std::string(text.data(), len), "[system]Be brief.[user]Hello");
  EXPECT_EQ(cria_chat_apply_template(nullptr, "{{ raise_exception('no system role') }}", messages, 2, false, nullptr,
                                     0, &len),
            CRIA_ERROR_TEMPLATE);
  EXPECT_NE(std::string(cria_last_error()).find("no system role"), std::string::npos) << cria_last_error();
  const cria_chat_message bad[] = {{"user", nullptr}};
  EXPECT_EQ(cria_chat_apply_template(m.get(), "chatml", bad, 1, false, nullptr, 0, &len), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cria_chat_builtin_templates()).find("chatml"), std::string::npos);
}

TEST(CApiErrors, MissingAndHostileFiles) {
  cria_model* m = reinterpret_cast<cria_model*>(0x1);
  EXPECT_EQ(cria_model_load("/nonexistent/dir/model.gguf", nullptr, &m), CRIA_ERROR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(cria_last_error()).find("/nonexistent/dir/model.gguf"), std::string::npos);
  EXPECT_EQ(cria_model_load(std::filesystem::temp_directory_path().c_str(), nullptr, &m), CRIA_ERROR_IO);

  const auto hostile = std::filesystem::temp_directory_path() / ("cria_api_hostile_" + std::to_string(::getpid()));
  {
    std::ofstream out(hostile, std::ios::binary);
    // GGUF magic and version 3, then a tensor count and a metadata count of 2^63: the reader must refuse
    // them without reserving anything.
    out.write("GGUF\x03\x00\x00\x00", 8);
    out.write("\x00\x00\x00\x00\x00\x00\x00\x80", 8);
    out.write("\x00\x00\x00\x00\x00\x00\x00\x80", 8);
  }
  EXPECT_EQ(cria_model_load(hostile.c_str(), nullptr, &m), CRIA_ERROR_INVALID_MODEL);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(cria_last_error()).find(hostile.string()), std::string::npos) << cria_last_error();
  {
    std::ofstream out(hostile, std::ios::binary | std::ios::trunc);
    out << "this is not a model\n";
  }
  EXPECT_EQ(cria_model_load(hostile.c_str(), nullptr, &m), CRIA_ERROR_INVALID_MODEL);
  std::filesystem::remove(hostile);

  cria_model_params p = cria_model_default_params();
  p.isa = "vax";
  EXPECT_EQ(cria_model_load(kModel.c_str(), &p, &m), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cria_last_error()).find("vax"), std::string::npos);
}

TEST(CApiErrors, NullHandlesAreInvalidArguments) {
  cria_model* m = nullptr;
  EXPECT_EQ(cria_model_load(nullptr, nullptr, &m), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_model_load(kModel.c_str(), nullptr, nullptr), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_STRNE(cria_last_error(), "");
  size_t n = 0;
  EXPECT_EQ(cria_tokenize(nullptr, "a", 1, true, false, nullptr, 0, &n), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cria_last_error()).find("cria_tokenize: model is NULL"), std::string::npos);
  EXPECT_EQ(cria_model_n_vocab(nullptr), -1);
  EXPECT_EQ(cria_token_bos(nullptr), -1);
  EXPECT_FALSE(cria_token_is_eog(nullptr, 0));
  cria_context* c = nullptr;
  EXPECT_EQ(cria_context_create(nullptr, nullptr, &c), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_decode(nullptr, nullptr), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_get_logits(nullptr, 0), nullptr);
  EXPECT_EQ(cria_batch_add(nullptr, 0, 0, nullptr, 0, false), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_batch_clear(nullptr), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_batch_size(nullptr), -1);
  EXPECT_EQ(cria_kv_seq_rm(nullptr, 0, 0, -1), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_kv_clear(nullptr), CRIA_ERROR_INVALID_ARGUMENT);
  cria_pos pos;
  EXPECT_EQ(cria_kv_seq_pos_max(nullptr, 0, &pos), CRIA_ERROR_INVALID_ARGUMENT);
  cria_sampler* s = nullptr;
  EXPECT_EQ(cria_sampler_create(nullptr, nullptr, &s), CRIA_ERROR_INVALID_ARGUMENT);
  cria_token t;
  EXPECT_EQ(cria_sampler_sample(nullptr, nullptr, 0, &t), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_sampler_accept(nullptr, 0), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_chat_apply_template(nullptr, nullptr, nullptr, 0, false, nullptr, 0, &n), CRIA_ERROR_INVALID_ARGUMENT);
  cria_model_free(nullptr);
  cria_context_free(nullptr);
  cria_batch_free(nullptr);
  cria_sampler_free(nullptr);
  EXPECT_STREQ(cria_status_name(CRIA_ERROR_CONTEXT_FULL), "CRIA_ERROR_CONTEXT_FULL");
  EXPECT_STREQ(cria_version(), "0.1.0");
}

TEST_F(CApi, DecodeRefusesBadBatchesAndChangesNothing) {
  auto m = load();
  auto c = context(m.get(), 8, 1, 4);
  EXPECT_EQ(cria_n_batch(c.get()), 4);
  auto b = batch();
  EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_ERROR_INVALID_ARGUMENT);  // empty
  EXPECT_EQ(cria_get_logits(c.get(), 0), nullptr);
  EXPECT_NE(std::string(cria_last_error()).find("no batch"), std::string::npos);

  add(b.get(), cria_model_n_vocab(m.get()), 0, 0, true);
  EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(cria_last_error()).find("outside the vocabulary"), std::string::npos) << cria_last_error();
  size_t len;
  EXPECT_EQ(cria_token_to_piece(m.get(), -1, false, nullptr, 0, &len), CRIA_ERROR_INVALID_ARGUMENT);
  cria_seq_id bad_seq = 1;
  EXPECT_EQ(cria_batch_add(b.get(), 1, 0, &bad_seq, 0, true), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_batch_add(b.get(), 1, -1, &bad_seq, 1, true), CRIA_ERROR_INVALID_ARGUMENT);
  cria_batch_clear(b.get());
  add(b.get(), 1, 0, 1, true);  // sequence 1 of a one-sequence context
  EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_ERROR_INVALID_ARGUMENT);

  cria_batch_clear(b.get());
  for (int i = 0; i < 5; ++i) add(b.get(), 100 + i, i, 0, false);
  EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_ERROR_INVALID_ARGUMENT);  // 5 > n_batch 4
  EXPECT_NE(std::string(cria_last_error()).find("exceed the batch size 4"), std::string::npos) << cria_last_error();

  // 4 + 4 tokens fill the 8 cells; one more is CONTEXT_FULL and leaves the cache as it was.
  for (int round = 0; round < 2; ++round) {
    cria_batch_clear(b.get());
    for (int i = 0; i < 4; ++i) add(b.get(), 100 + i, round * 4 + i, 0, i == 1);
    ASSERT_EQ(cria_decode(c.get(), b.get()), CRIA_OK) << cria_last_error();
  }
  EXPECT_NE(cria_get_logits(c.get(), 1), nullptr);
  EXPECT_EQ(cria_get_logits(c.get(), 2), nullptr);
  EXPECT_NE(std::string(cria_last_error()).find("did not ask for logits"), std::string::npos);
  EXPECT_EQ(cria_get_logits(c.get(), 4), nullptr);
  EXPECT_EQ(cria_get_logits(c.get(), -3), cria_get_logits(c.get(), 1));
  cria_batch_clear(b.get());
  add(b.get(), 200, 8, 0, true);
  EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_ERROR_CONTEXT_FULL);
  EXPECT_NE(std::string(cria_last_error()).find("full"), std::string::npos) << cria_last_error();
  cria_pos pos = 0;
  ASSERT_EQ(cria_kv_seq_pos_max(c.get(), 0, &pos), CRIA_OK);
  EXPECT_EQ(pos, 7);
  EXPECT_NE(cria_get_logits(c.get(), 1), nullptr);  // the last good batch's logits remain
  // Making room lets it through.
  ASSERT_EQ(cria_kv_seq_rm(c.get(), 0, 6, -1), CRIA_OK);
  cria_batch_clear(b.get());
  add(b.get(), 200, 6, 0, true);
  EXPECT_EQ(cria_decode(c.get(), b.get()), CRIA_OK) << cria_last_error();

  cria_context_params p = cria_context_default_params();
  p.n_seq_max = -1;
  cria_context* bad = nullptr;
  EXPECT_EQ(cria_context_create(m.get(), &p, &bad), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(bad, nullptr);
}

TEST_F(CApi, SamplerChecksItsArguments) {
  auto m = load();
  auto c = context(m.get(), 16);
  cria_sampler_params p = cria_sampler_default_params();
  EXPECT_FLOAT_EQ(p.temp, 0.8f);
  EXPECT_EQ(p.top_k, 40);
  p.seed = 42;
  cria_sampler* raw = nullptr;
  ASSERT_EQ(cria_sampler_create(c.get(), &p, &raw), CRIA_OK);
  Sampler s(raw);
  EXPECT_EQ(cria_sampler_seed(s.get()), 42u);
  cria_token t;
  EXPECT_EQ(cria_sampler_sample(s.get(), c.get(), 0, &t), CRIA_ERROR_INVALID_ARGUMENT);  // nothing decoded
  EXPECT_EQ(cria_sampler_accept(s.get(), -3), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_sampler_ban(s.get(), cria_model_n_vocab(m.get())), CRIA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cria_sampler_accept(s.get(), 5), CRIA_OK);
  EXPECT_EQ(cria_sampler_reset(s.get()), CRIA_OK);
  p.repeat_last_n = -2;
  EXPECT_EQ(cria_sampler_create(c.get(), &p, &raw), CRIA_ERROR_INVALID_ARGUMENT);
}

TEST_F(CApi, ContextsOutliveTheirModel) {
  cria_model* m = nullptr;
  ASSERT_EQ(cria_model_load(kModel.c_str(), nullptr, &m), CRIA_OK);
  const auto prompt = tokenize(m, "Thou shalt");
  const cria_token eos = cria_token_eos(m);
  auto c = context(m, 32);
  cria_model_free(m);
  const auto out = generate(c.get(), 0, prompt, 3);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_NE(out[0], eos);
}

TEST_F(CApi, CxxHeader) {
  namespace cxx = cria::cxx;
  auto m = cxx::load_model(kModel);
  const auto tokens = cxx::tokenize(m.get(), "In the beginning");
  EXPECT_EQ(cxx::detokenize(m.get(), cxx::tokenize(m.get(), "In the beginning", false)), "In the beginning");
  std::string joined;
  for (size_t i = 1; i < tokens.size(); ++i) joined += cxx::token_to_piece(m.get(), tokens[i]);
  EXPECT_NE(joined.find("In the beginning"), std::string::npos) << joined;
  EXPECT_EQ(cxx::apply_chat_template(nullptr, "chatml", {{"user", "Hi"}}, false), "<|im_start|>user\nHi<|im_end|>\n");
  cria_context_params p = cria_context_default_params();
  p.n_ctx = 16;
  p.n_threads = kThreads;
  auto c = cxx::make_context(m.get(), p);
  auto b = cxx::make_batch();
  auto s = cxx::make_sampler(c.get());
  try {
    cxx::load_model("/nonexistent.gguf");
    ADD_FAILURE() << "no exception";
  } catch (const cxx::Error& e) {
    EXPECT_EQ(e.status(), CRIA_ERROR_IO);
    EXPECT_NE(std::string(e.what()).find("/nonexistent.gguf"), std::string::npos);
  }
}

TEST_F(CApi, HeaderCompilesAsC) { EXPECT_EQ(cria_c_header_check(kModel.c_str()), 0); }

}  // namespace
