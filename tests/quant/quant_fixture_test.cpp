// The important oracle: llama.cpp's own quantizer output. The kjv fixtures kjv-<TYPE>.gguf were made by
// llama-quantize from kjv-F32.gguf without an importance matrix, so quantizing the F32 rows of each
// matrix with our quantizer for the type that tensor has in the file must give identical bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "quant/type_table.h"
#include "test_support.h"

namespace cria {
namespace {

struct FixtureCase {
  const char* file;       // under kjv_gguf_dir()
  const char* main_type;  // the type the file is named after; it must occur in the file
};

// Every non-imatrix quantized fixture: the pure files hold one K-quant type throughout, the mixes combine
// several (and Q6_K for output.weight), the legacy/IQ4/ternary files have Q6_K outputs too.
const FixtureCase kCases[] = {
    {"kjv-Q4_0.gguf", "Q4_0"},      {"kjv-Q4_1.gguf", "Q4_1"},      {"kjv-Q5_0.gguf", "Q5_0"},
    {"kjv-Q5_1.gguf", "Q5_1"},      {"kjv-Q8_0.gguf", "Q8_0"},      {"kjv-Q2_K-pure.gguf", "Q2_K"},
    {"kjv-Q3_K-pure.gguf", "Q3_K"}, {"kjv-Q4_K-pure.gguf", "Q4_K"}, {"kjv-Q5_K-pure.gguf", "Q5_K"},
    {"kjv-Q6_K.gguf", "Q6_K"},      {"kjv-IQ4_NL.gguf", "IQ4_NL"},  {"kjv-IQ4_XS.gguf", "IQ4_XS"},
    {"kjv-TQ1_0.gguf", "TQ1_0"},    {"kjv-TQ2_0.gguf", "TQ2_0"},    {"kjv-Q2_K.gguf", "Q2_K"},
    {"kjv-Q3_K_S.gguf", "Q3_K"},    {"kjv-Q3_K_M.gguf", "Q3_K"},    {"kjv-Q3_K_L.gguf", "Q3_K"},
    {"kjv-Q4_K_S.gguf", "Q4_K"},    {"kjv-Q4_K_M.gguf", "Q4_K"},    {"kjv-Q5_K_S.gguf", "Q5_K"},
    {"kjv-Q5_K_M.gguf", "Q5_K"},
};

std::string hex_block(const uint8_t* p, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

// The F32 source, opened once for all cases, and our quantized bytes per (tensor, type), computed once:
// the mixes share most tensors with the pure files.
class QuantFixtureBitExact : public ::testing::TestWithParam<FixtureCase> {
 protected:
  static void TearDownTestSuite() {
    source_.reset();
    cache_.clear();
  }

  static const gguf::File* source() {
    if (!source_) {
      auto f = gguf::File::open((test::kjv_gguf_dir() / "kjv-F32.gguf").string());
      if (!f) return nullptr;
      source_ = std::make_unique<gguf::File>(std::move(f.value()));
    }
    return source_.get();
  }

  static const std::vector<uint8_t>& ours(const gguf::TensorInfo& f32, const TypeTraits& type) {
    const std::string key = f32.name + "/" + std::string(type.name);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    const int64_t n_per_row = f32.ne[0];
    const size_t row = row_bytes(type, n_per_row);
    std::vector<uint8_t> out(row * static_cast<size_t>(f32.n_rows()));
    std::vector<float> x(static_cast<size_t>(n_per_row));
    for (int64_t r = 0; r < f32.n_rows(); ++r) {
      std::memcpy(x.data(), f32.data + r * n_per_row * 4, x.size() * 4);  // no alignment assumption
      type.quantize(x.data(), out.data() + r * row, n_per_row);
    }
    return cache_.emplace(key, std::move(out)).first->second;
  }

  static inline std::unique_ptr<gguf::File> source_;
  static inline std::map<std::string, std::vector<uint8_t>> cache_;
};

TEST_P(QuantFixtureBitExact, MatchesLlamaQuantizeByteForByte) {
  const FixtureCase& c = GetParam();
  const auto f32_path = test::kjv_gguf_dir() / "kjv-F32.gguf";
  const auto path = test::kjv_gguf_dir() / c.file;
  CRIA_REQUIRE_FIXTURE(f32_path);
  CRIA_REQUIRE_FIXTURE(path);
  const gguf::File* src = source();
  ASSERT_NE(src, nullptr) << "cannot open " << f32_path;
  auto file = gguf::File::open(path.string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  // With an importance matrix llama.cpp runs different (weighted) searches; these fixtures have none.
  ASSERT_EQ(file->find("quantize.imatrix.file"), nullptr) << c.file << " was made with an imatrix";

  int checked_main_type = 0;
  for (const gguf::TensorInfo& t : file->tensors()) {
    const TypeTraits& type = t.traits();
    if (t.n_dims < 2 || type.block_size == 1 || type.quantize == nullptr) continue;  // F32 norms etc.
    const gguf::TensorInfo* f32 = src->find_tensor(t.name);
    ASSERT_NE(f32, nullptr) << t.name << " missing from the F32 file";
    ASSERT_EQ(f32->type, TensorType::F32) << t.name;
    ASSERT_EQ(f32->ne, t.ne) << t.name;
    const std::vector<uint8_t>& mine = ours(*f32, type);
    ASSERT_EQ(mine.size(), t.n_bytes) << t.name;

    // Count differing blocks and show the first, so a failure says where and how much.
    size_t n_blocks = mine.size() / type.block_bytes, n_diff = 0, first = 0;
    for (size_t b = 0; b < n_blocks; ++b) {
      if (std::memcmp(mine.data() + b * type.block_bytes, t.data + b * type.block_bytes, type.block_bytes) !=
          0) {
        if (n_diff++ == 0) first = b;
      }
    }
    EXPECT_EQ(n_diff, 0u) << c.file << " " << t.name << " (" << type.name << "): " << n_diff << " of "
                          << n_blocks << " blocks differ; first is block " << first << "\n  ours:  "
                          << hex_block(mine.data() + first * type.block_bytes, type.block_bytes)
                          << "\n  llama: " << hex_block(t.data + first * type.block_bytes, type.block_bytes);
    if (type.name == c.main_type) ++checked_main_type;
  }
  EXPECT_GT(checked_main_type, 0) << c.file << " has no " << c.main_type << " tensor";
}

INSTANTIATE_TEST_SUITE_P(, QuantFixtureBitExact, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<FixtureCase>& info) {
                           std::string name = info.param.file;
                           name = name.substr(4, name.size() - 4 - 5);  // strip "kjv-" and ".gguf"
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace cria
