#include "gguf/gguf_reader.h"

#include <gtest/gtest.h>

#include <random>

#include "gguf/gguf_bytes.h"
#include "test_support.h"

namespace cria::gguf {
namespace {

using test::GgufBytes;
using test::GgufSpec;

Result<File> parse(const std::vector<uint8_t>& bytes) { return File::parse(bytes.data(), bytes.size(), "t.gguf"); }

TEST(GgufReader, ParsesValidFile) {
  const auto bytes = GgufSpec::valid().build();
  auto file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 32u);
  ASSERT_EQ(file->metadata().size(), 2u);
  EXPECT_EQ(*file->get_string("general.architecture"), "llama");
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorInfo* b = file->find_tensor("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, TensorType::Q8_0);
  EXPECT_EQ(b->ne[0], 32);
  EXPECT_EQ(b->ne[1], 3);
  EXPECT_EQ(b->n_bytes, 3u * 34u);
  EXPECT_EQ(b->data, bytes.data() + file->data_offset() + 64);
  EXPECT_EQ(file->data_offset() % 32, 0u);
}

TEST(GgufReader, ZeroTensorsAndNoPaddingIsValid) {
  GgufSpec s;
  s.kvs.push_back({"general.architecture", 8, GgufSpec::string_value("llama")});
  auto bytes = s.build();
  // A vocab-only file may end right after its metadata.
  GgufBytes b;
  b.u32(0x46554747).u32(3).u64(0).u64(1).str("general.architecture").i32(8).str("llama");
  auto file = parse(b.bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_TRUE(file->tensors().empty());
}

TEST(GgufReader, ReadsEveryValueTypeAndArrays) {
  GgufBytes b;
  b.u32(0x46554747).u32(3).u64(0).u64(15);
  b.str("u8").i32(0).pod<uint8_t>(200);
  b.str("i8").i32(1).pod<int8_t>(-100);
  b.str("u16").i32(2).pod<uint16_t>(60000);
  b.str("i16").i32(3).pod<int16_t>(-30000);
  b.str("u32").i32(4).pod<uint32_t>(4000000000u);
  b.str("i32").i32(5).pod<int32_t>(-2000000000);
  b.str("f32").i32(6).pod<float>(1.5f);
  b.str("bool").i32(7).pod<uint8_t>(2);  // any non-zero byte is true
  b.str("str").i32(8).str("hello");
  b.str("u64").i32(10).pod<uint64_t>(1ull << 60);
  b.str("i64").i32(11).pod<int64_t>(-(1ll << 60));
  b.str("f64").i32(12).pod<double>(0.25);
  b.str("arr_i32").i32(9).i32(5).u64(3).i32(1).i32(-2).i32(3);
  b.str("arr_str").i32(9).i32(8).u64(2).str("a").str("bc");
  b.str("arr_empty").i32(9).i32(6).u64(0);
  auto file = parse(b.bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(*file->find("u8")->get_if<uint8_t>(), 200);
  EXPECT_EQ(*file->find("i8")->get_if<int8_t>(), -100);
  EXPECT_EQ(*file->find("u16")->get_if<uint16_t>(), 60000);
  EXPECT_EQ(*file->find("i16")->get_if<int16_t>(), -30000);
  EXPECT_EQ(*file->get_u32("u32"), 4000000000u);
  EXPECT_EQ(*file->find("i32")->get_if<int32_t>(), -2000000000);
  EXPECT_EQ(*file->get_f32("f32"), 1.5f);
  EXPECT_TRUE(*file->get_bool("bool"));
  EXPECT_EQ(*file->get_string("str"), "hello");
  EXPECT_EQ(*file->find("u64")->get_if<uint64_t>(), 1ull << 60);
  EXPECT_EQ(*file->find("i64")->get_if<int64_t>(), -(1ll << 60));
  EXPECT_EQ(*file->find("f64")->get_if<double>(), 0.25);
  auto ints = file->get_array("arr_i32", ValueType::INT32);
  ASSERT_TRUE(ints.ok());
  EXPECT_EQ(std::get<std::vector<int32_t>>((*ints)->items), (std::vector<int32_t>{1, -2, 3}));
  auto strs = file->get_array("arr_str", ValueType::STRING);
  ASSERT_TRUE(strs.ok());
  EXPECT_EQ(std::get<std::vector<std::string>>((*strs)->items), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(file->find("arr_empty")->as_array()->size(), 0u);
  // Strict typing, as llama.cpp's loader: a UINT32 getter refuses an INT32 value.
  auto wrong = file->get_u32("i32");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("expected UINT32, found INT32"), std::string::npos);
  EXPECT_FALSE(file->get_u32("missing").ok());
}

TEST(GgufReader, ReadsVersion1WithNarrowCountsAndTrailingNul) {
  GgufBytes b;
  b.u32(0x46554747).u32(1).u32(1).u32(2);
  b.u32(21).raw("general.architecture\0", 21).i32(8).u32(6).raw("llama\0", 6);
  b.u32(5).raw("list", 4).raw("\0", 1).i32(9).i32(4).u32(2).u32(7).u32(9);
  b.u32(8).raw("a.weight", 8).u32(2).u32(4).u32(2).i32(0).u64(0);
  b.pad(32).zeros(32);
  auto file = parse(b.bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version(), 1u);
  EXPECT_EQ(*file->get_string("general.architecture"), "llama");
  EXPECT_EQ(std::get<std::vector<uint32_t>>((*file->get_array("list", ValueType::UINT32))->items),
            (std::vector<uint32_t>{7, 9}));
  ASSERT_NE(file->find_tensor("a.weight"), nullptr);
  EXPECT_EQ(file->find_tensor("a.weight")->n_bytes, 32u);
}

TEST(GgufReader, ReadsVersion2) {
  auto spec = GgufSpec::valid();
  spec.version = 2;
  auto bytes = spec.build();
  auto file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version(), 2u);
}

TEST(GgufReader, CustomAlignmentMovesDataSection) {
  auto spec = GgufSpec::valid();
  spec.kvs[1].value = GgufSpec::u32_value(64);
  spec.alignment = 64;
  spec.tensors[1].offset = 64;
  auto bytes = spec.build();
  auto file = parse(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->data_offset() % 64, 0u);
}

// Every prefix of a valid file is refused with an error, never a crash.
TEST(GgufReader, EveryTruncationFails) {
  const auto bytes = GgufSpec::valid().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
    auto file = parse(prefix);
    EXPECT_FALSE(file.ok()) << "prefix of " << n << " bytes parsed";
    if (!file.ok()) {
      EXPECT_EQ(file.error().message.rfind("t.gguf: ", 0), 0u) << file.error().message;
    }
  }
}

// Random corruption never crashes (the fuzzer does this at scale; this keeps a quick check in the suite).
TEST(GgufReader, RandomByteFlipsNeverCrash) {
  const auto valid = GgufSpec::valid().build();
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    auto bytes = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    auto file = parse(bytes);
    if (file.ok()) {
      for (const auto& t : file->tensors()) {
        ASSERT_LE(t.data + t.n_bytes, bytes.data() + bytes.size());
      }
    }
  }
}

TEST(GgufReader, OpenReportsMissingFile) {
  auto file = File::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find("/nonexistent/dir/model.gguf: cannot open"), std::string::npos);
}

TEST(GgufReader, DequantizeTensorReadsF32) {
  GgufBytes b;
  b.u32(0x46554747).u32(3).u64(1).u64(0);
  b.str("x").u32(1).u64(4).i32(0).u64(0);
  b.pad(32);
  for (float v : {1.0f, -2.0f, 3.5f, 0.25f}) b.pod(v);
  auto file = parse(b.bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto values = dequantize_tensor(file->tensors()[0]);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<float>{1.0f, -2.0f, 3.5f, 0.25f}));
}

TEST(GgufReader, GridIQuantLoadsAndDecodes) {
  GgufBytes b;
  b.u32(0x46554747).u32(3).u64(1).u64(0);
  b.str("q").u32(2).u64(256).u64(2).i32(16).u64(0);  // IQ2_XXS, 66 bytes per 256
  b.pad(32).zeros(2 * 66);
  auto file = parse(b.bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->tensors()[0].type, TensorType::IQ2_XXS);
  EXPECT_EQ(file->tensors()[0].n_bytes, 132u);
  auto values = dequantize_tensor(file->tensors()[0]);
  ASSERT_TRUE(values.ok()) << values.error().message;
  EXPECT_EQ(values->size(), 512u);
}

TEST(GgufReader, EveryFixtureParses) {
  const auto files = test::gguf_files_under(test::shared_dir() / "fixtures");
  if (files.empty()) GTEST_SKIP() << "fixture absent: " << test::shared_dir() / "fixtures";
  for (const auto& path : files) {
    auto file = File::open(path.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_TRUE(file->find("general.architecture") != nullptr) << path;
  }
}

}  // namespace
}  // namespace cria::gguf
