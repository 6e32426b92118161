// Every tensor of every KJV fixture file decodes close to the same tensor of kjv-F32.gguf.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/fp16.h"
#include "gguf/gguf_reader.h"
#include "test_support.h"

namespace cria::gguf {
namespace {

// Largest acceptable RMS error relative to the RMS of the original weights, per stored type. These are
// what each format can represent on trained weights (a few times the typical measured error; see the
// measured column printed by the test).
double relative_rms_bound(TensorType t) {
  switch (t) {
    case TensorType::Q8_0: return 0.01;
    case TensorType::Q6_K: return 0.03;
    case TensorType::Q5_0: case TensorType::Q5_1: case TensorType::Q5_K: return 0.06;
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q4_K:
    case TensorType::IQ4_NL: case TensorType::IQ4_XS: return 0.12;
    case TensorType::Q3_K: return 0.25;
    case TensorType::Q2_K: return 0.5;
    // Grid i-quants (the -pure files, made with an importance matrix): measured worst + 10-15%. Decoding
    // is exact, so tight bounds catch layout slips (a flipped IQ1_M delta sign measures 0.76, swapped
    // IQ2_XS scale nibbles 0.49, IQ3_S index bit 8 taken from the wrong qh bit 0.45).
    case TensorType::IQ3_S: return 0.19;     // measured 0.166
    case TensorType::IQ3_XXS: return 0.24;   // measured 0.213
    case TensorType::IQ2_S: return 0.30;     // measured 0.257
    case TensorType::IQ2_XS: return 0.35;    // measured 0.309
    case TensorType::IQ2_XXS: return 0.40;   // measured 0.353
    case TensorType::IQ1_S: return 0.56;     // measured 0.506
    case TensorType::IQ1_M: return 0.65;     // measured 0.581
    // Ternary types on weights that were not trained ternary: large by nature, but bounded.
    case TensorType::TQ1_0: case TensorType::TQ2_0: return 0.9;
    default: return 0.0;
  }
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s / static_cast<double>(v.size()));
}

TEST(FixtureDequantize, EveryTensorOfEveryKjvFileIsCloseToF32) {
  const auto dir = test::kjv_gguf_dir();
  CRIA_REQUIRE_FIXTURE(dir / "kjv-F32.gguf");
  auto reference = File::open((dir / "kjv-F32.gguf").string());
  ASSERT_TRUE(reference.ok()) << reference.error().message;
  std::map<std::string, std::vector<float>> ref_values;
  for (const auto& t : reference->tensors()) {
    ASSERT_EQ(t.type, TensorType::F32);
    ref_values[t.name] = *dequantize_tensor(t);
  }

  std::map<TensorType, double> worst;
  size_t checked = 0;
  for (const auto& path : test::gguf_files_under(dir)) {
    auto file = File::open(path.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    ASSERT_EQ(file->tensors().size(), reference->tensors().size()) << path;
    for (const auto& t : file->tensors()) {
      SCOPED_TRACE(path.filename().string() + " " + t.name + " " + std::string(t.traits().name));
      const auto& ref = ref_values.at(t.name);
      auto decoded = dequantize_tensor(t);
      ASSERT_TRUE(decoded.ok()) << decoded.error().message;
      ASSERT_EQ(decoded->size(), ref.size());
      ++checked;
      if (t.type == TensorType::F32 || t.type == TensorType::BF16) {
        // The trained weights are bf16, so the BF16 file holds them exactly.
        EXPECT_EQ(*decoded, ref);
        continue;
      }
      if (t.type == TensorType::F16) {
        for (size_t i = 0; i < ref.size(); ++i) {
          ASSERT_EQ((*decoded)[i], fp16_to_fp32(fp32_to_fp16(ref[i]))) << "element " << i;
        }
        continue;
      }
      std::vector<float> diff(ref.size());
      for (size_t i = 0; i < ref.size(); ++i) diff[i] = (*decoded)[i] - ref[i];
      const double rel = rms(diff) / rms(ref);
      worst[t.type] = std::max(worst[t.type], rel);
      EXPECT_LE(rel, relative_rms_bound(t.type));
    }
  }
  for (const auto& [type, rel] : worst) {
    std::printf("  %-8s worst relative RMS error %.4f (bound %.2f)\n", std::string(traits(type).name).c_str(), rel,
                relative_rms_bound(type));
  }
  std::printf("  %zu tensors checked\n", checked);
  EXPECT_GT(checked, 500u);
}

}  // namespace
}  // namespace cria::gguf
