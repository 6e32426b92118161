// Converting the KJV checkpoints (../shared/fixtures/models/kjv, Meta and Hugging Face layouts of the
// same weights) must reproduce llama.cpp's conversions: reference/conversion_tensor_hashes.json gives
// every tensor's type, shape and SHA-256, gguf/kjv-{F32,F16,BF16}.gguf the metadata.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "convert/converter.h"
#include "convert_test_support.h"
#include "gguf/gguf_reader.h"
#include "model/model.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

TEST(Sha256, MatchesTheFipsExamples) {
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex({reinterpret_cast<const uint8_t*>(abc.data()), abc.size()}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex({reinterpret_cast<const uint8_t*>(two_blocks.data()), two_blocks.size()}),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Result<convert::ConvertSummary> convert_kjv(const std::string& layout, convert::OutType type, const fs::path& out) {
  convert::ConvertOptions options;
  options.dir = kjv_checkpoint(layout);
  options.outfile = out;
  options.outtype = type;
  // Meta's params.json does not record the context length; the reference file says 256.
  if (layout == "meta") options.checkpoint.context_length = 256;
  return convert::convert_checkpoint(options);
}

struct Case {
  std::string layout;
  convert::OutType type;
};

class ConvertKjv : public ::testing::TestWithParam<Case> {};

TEST_P(ConvertKjv, MatchesLlamaCppsConversion) {
  const Case c = GetParam();
  const std::string type_name(convert::outtype_name(c.type));
  const fs::path reference_file = kjv_gguf_dir() / ("kjv-" + type_name + ".gguf");
  CRIA_REQUIRE_FIXTURE(kjv_checkpoint(c.layout));
  CRIA_REQUIRE_FIXTURE(reference_file);
  CRIA_REQUIRE_FIXTURE(shared_dir() / "fixtures/models/kjv/reference/conversion_tensor_hashes.json");

  ScratchDir scratch("kjv_" + c.layout + "_" + type_name);
  const fs::path out = scratch / "out.gguf";
  auto summary = convert_kjv(c.layout, c.type, out);
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  auto file = gguf::File::open(out.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto reference = gguf::File::open(reference_file.string());
  ASSERT_TRUE(reference.ok()) << reference.error().message;

  expect_reference_tensors(*file, "kjv-" + type_name + ".gguf");

  // Metadata: every tokenizer.* and llama.* key, both ways, and the general.* keys we share.
  auto compared = [](const std::string& key) { return key.starts_with("tokenizer.") || key.starts_with("llama."); };
  for (const auto& [key, value] : reference->metadata()) {
    if (!compared(key) && key != "general.architecture" && key != "general.file_type" &&
        key != "general.size_label" && key != "general.quantization_version" && key != "general.type") {
      continue;
    }
    const gguf::Value* ours = file->find(key);
    ASSERT_NE(ours, nullptr) << "missing key " << key;
    EXPECT_TRUE(*ours == value) << key << ": " << ours->to_display_string() << " vs " << value.to_display_string();
  }
  for (const auto& [key, value] : file->metadata()) {
    if (compared(key)) {
      EXPECT_NE(reference->find(key), nullptr) << "extra key " << key;
    }
  }
  // llama.cpp names the model after its directory.
  EXPECT_EQ(*file->get_string("general.name"), c.layout == "hf" ? "Hf" : "Meta");
}

INSTANTIATE_TEST_SUITE_P(Layouts, ConvertKjv,
                         ::testing::Values(Case{"hf", convert::OutType::F32}, Case{"hf", convert::OutType::F16},
                                           Case{"hf", convert::OutType::BF16}, Case{"meta", convert::OutType::F32},
                                           Case{"meta", convert::OutType::F16}, Case{"meta", convert::OutType::BF16}),
                         [](const auto& info) {
                           return info.param.layout + "_" + std::string(convert::outtype_name(info.param.type));
                         });

// Q8_0 has no reference conversion, but llama-quantize's Q8_0 of the F32 file uses the same reference
// quantizer on the same values, so every tensor must come out byte for byte the same; and the file
// must load as a model whose weights dequantize to within one quantization step of the F32 ones.
TEST(ConvertKjvQ8_0, MatchesLlamaQuantizeAndLoads) {
  const fs::path q8_reference = kjv_gguf_dir() / "kjv-Q8_0.gguf";
  const fs::path f32_reference = kjv_gguf_dir() / "kjv-F32.gguf";
  CRIA_REQUIRE_FIXTURE(kjv_checkpoint("hf"));
  CRIA_REQUIRE_FIXTURE(q8_reference);
  CRIA_REQUIRE_FIXTURE(f32_reference);
  ScratchDir scratch("kjv_q8_0");
  const fs::path out = scratch / "out.gguf";
  auto summary = convert_kjv("hf", convert::OutType::Q8_0, out);
  ASSERT_TRUE(summary.ok()) << summary.error().message;

  auto file = gguf::File::open(out.string());
  auto quantized = gguf::File::open(q8_reference.string());
  auto f32 = gguf::File::open(f32_reference.string());
  ASSERT_TRUE(file.ok() && quantized.ok() && f32.ok());
  EXPECT_EQ(*file->get_u32("general.file_type"), 7u);
  ASSERT_EQ(file->tensors().size(), f32->tensors().size());
  for (const auto& t : file->tensors()) {
    EXPECT_EQ(t.type, t.n_dims == 1 ? TensorType::F32 : TensorType::Q8_0) << t.name;
    const gguf::TensorInfo* same = quantized->find_tensor(t.name);
    ASSERT_NE(same, nullptr) << t.name;
    ASSERT_EQ(same->n_bytes, t.n_bytes) << t.name;
    EXPECT_EQ(std::memcmp(same->data, t.data, t.n_bytes), 0) << t.name << " differs from llama-quantize's";

    auto ours = gguf::dequantize_tensor(t);
    auto exact = gguf::dequantize_tensor(*f32->find_tensor(t.name));
    ASSERT_TRUE(ours.ok() && exact.ok());
    for (size_t block = 0; block < exact->size(); block += 32) {
      float amax = 0.0f, worst = 0.0f;
      for (size_t i = block; i < block + 32 && i < exact->size(); ++i) {
        amax = std::max(amax, std::fabs((*exact)[i]));
        worst = std::max(worst, std::fabs((*ours)[i] - (*exact)[i]));
      }
      // Half a step d = amax/127, plus up to 127 times the f16 rounding of d (2^-11 relative).
      ASSERT_LE(worst, amax / 127.0f * (0.5f + 127.0f / 2048.0f) + 1e-7f) << t.name << " block " << block / 32;
    }
  }
  auto model = model::Model::load(out.string());
  EXPECT_TRUE(model.ok()) << model.error().message;
}

// Without --context-length, a Meta checkpoint gets llama.cpp's legacy guess: norm_eps 1e-5 means Llama 2, 4096.
TEST(ConvertKjvMeta, GuessesTheContextLengthAsLlamaCppDid) {
  CRIA_REQUIRE_FIXTURE(kjv_checkpoint("meta"));
  auto checkpoint = convert::open_checkpoint(kjv_checkpoint("meta"), {});
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.error().message;
  EXPECT_EQ(checkpoint->layout, "Meta");
  EXPECT_EQ(checkpoint->hparams.n_ctx, 4096u);
}

TEST(ConvertNaming, FollowsLlamaCppsSizeLabels) {
  EXPECT_EQ(convert::size_label(6819072), "6.8M");
  EXPECT_EQ(convert::size_label(6738415616ull), "6.7B");
  EXPECT_EQ(convert::size_label(13015864320ull), "13B");
  EXPECT_EQ(convert::size_label(124439808), "124M");
  EXPECT_EQ(convert::title_from_directory("/x/tiny-llama"), "Tiny Llama");
  EXPECT_EQ(convert::title_from_directory("/x/Llama-2-7b-hf/"), "Llama 2 7b Hf");
}

}  // namespace
}  // namespace cria::test
