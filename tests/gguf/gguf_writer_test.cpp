#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "gguf/gguf_reader.h"

namespace cria::gguf {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cria_writer_test_" + name)).string();
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

Array array_of(std::vector<std::string> items) {
  Array a;
  a.element_type = ValueType::STRING;
  a.items = std::move(items);
  return a;
}

TEST(GgufWriter, RoundTripKeepsEveryKeyTypeAndTensorByte) {
  Writer w;
  w.set("general.architecture", Value(std::string("llama")));
  w.set("v.u8", Value(uint8_t{7}));
  w.set("v.i8", Value(int8_t{-7}));
  w.set("v.u16", Value(uint16_t{65535}));
  w.set("v.i16", Value(int16_t{-32768}));
  w.set("v.u32", Value(uint32_t{4096}));
  w.set("v.i32", Value(int32_t{-5}));
  w.set("v.f32", Value(1e-5f));
  w.set("v.bool", Value(true));
  w.set("v.u64", Value(uint64_t{1} << 63));
  w.set("v.i64", Value(int64_t{-1}));
  w.set("v.f64", Value(3.141592653589793));
  w.set("v.strings", Value(array_of({"<unk>", "<s>", "", "\xe2\x96\x81the"})));
  Array floats;
  floats.element_type = ValueType::FLOAT32;
  floats.items = std::vector<float>{0.0f, -1.5f, 2.25f};
  w.set("v.floats", Value(floats));
  Array bools;
  bools.element_type = ValueType::BOOL;
  bools.items = std::vector<bool>{true, false, true};
  w.set("v.bools", Value(bools));
  w.set("v.u32", Value(uint32_t{4097}));  // replacing keeps the position

  // One tensor per storable type, with random bytes, odd shapes, 1 to 4 dims.
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<std::tuple<std::string, TensorType, std::vector<int64_t>>> expected;
  int i = 0;
  for (const auto& t : all_types()) {
    std::vector<int64_t> ne = {t.block_size * (1 + i % 3), 3};
    if (i % 4 == 1) ne = {t.block_size * 2};
    if (i % 4 == 2) ne = {t.block_size, 2, 3};
    if (i % 4 == 3) ne = {t.block_size, 1, 2, 2};
    size_t n_bytes = row_bytes(t, ne[0]);
    for (size_t d = 1; d < ne.size(); ++d) n_bytes *= static_cast<size_t>(ne[d]);
    payloads.push_back(random_bytes(n_bytes, static_cast<uint32_t>(i)));
    const std::string name = "tensor." + std::string(t.name);
    ASSERT_TRUE(w.add_tensor(name, t.type, ne, payloads.back()).ok());
    expected.emplace_back(name, t.type, ne);
    ++i;
  }
  const std::string path = temp_path("roundtrip.gguf");
  auto status = w.write(path);
  ASSERT_TRUE(status.ok()) << status.error().message;

  auto file = File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->version(), 3u);
  ASSERT_EQ(file->metadata().size(), 15u);
  EXPECT_EQ(file->metadata()[5].first, "v.u32");
  EXPECT_EQ(*file->get_u32("v.u32"), 4097u);
  EXPECT_EQ(*file->find("v.u8"), Value(uint8_t{7}));
  EXPECT_EQ(*file->find("v.i8"), Value(int8_t{-7}));
  EXPECT_EQ(*file->find("v.u16"), Value(uint16_t{65535}));
  EXPECT_EQ(*file->find("v.i16"), Value(int16_t{-32768}));
  EXPECT_EQ(*file->find("v.i32"), Value(int32_t{-5}));
  EXPECT_EQ(*file->find("v.f32"), Value(1e-5f));
  EXPECT_EQ(*file->find("v.bool"), Value(true));
  EXPECT_EQ(*file->find("v.u64"), Value(uint64_t{1} << 63));
  EXPECT_EQ(*file->find("v.i64"), Value(int64_t{-1}));
  EXPECT_EQ(*file->find("v.f64"), Value(3.141592653589793));
  EXPECT_EQ(*file->find("v.strings"), Value(array_of({"<unk>", "<s>", "", "\xe2\x96\x81the"})));
  EXPECT_EQ(*file->find("v.floats"), Value(floats));
  EXPECT_EQ(*file->find("v.bools"), Value(bools));

  ASSERT_EQ(file->tensors().size(), expected.size());
  uint64_t running_offset = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    const auto& t = file->tensors()[k];
    const auto& [name, type, ne] = expected[k];
    EXPECT_EQ(t.name, name);
    EXPECT_EQ(t.type, type);
    EXPECT_EQ(t.n_dims, ne.size());
    for (size_t d = 0; d < ne.size(); ++d) EXPECT_EQ(t.ne[d], ne[d]);
    // llama.cpp requires tensors packed in order, each padded to the alignment.
    EXPECT_EQ(t.offset, running_offset);
    running_offset += (t.n_bytes + 31) / 32 * 32;
    ASSERT_EQ(t.n_bytes, payloads[k].size());
    EXPECT_EQ(0, std::memcmp(t.data, payloads[k].data(), t.n_bytes)) << name;
  }
  EXPECT_EQ(file->file_size(), file->data_offset() + running_offset);
  std::filesystem::remove(path);
}

TEST(GgufWriter, LazyProducerAndCustomAlignment) {
  Writer w;
  w.set("general.alignment", Value(uint32_t{64}));
  std::vector<float> values = {1, 2, 3, 4, 5};
  ASSERT_TRUE(w.add_tensor("x", TensorType::F32, {5}, [&](std::span<uint8_t> out) -> Status {
                 std::memcpy(out.data(), values.data(), out.size());
                 return Ok{};
               }).ok());
  ASSERT_TRUE(w.add_tensor("y", TensorType::F32, {1}, [&](std::span<uint8_t> out) -> Status {
                 std::memcpy(out.data(), values.data(), out.size());
                 return Ok{};
               }).ok());
  const std::string path = temp_path("lazy.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto file = File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->data_offset() % 64, 0u);
  EXPECT_EQ(file->tensors()[1].offset, 64u);
  EXPECT_EQ(*dequantize_tensor(file->tensors()[0]), values);
  std::filesystem::remove(path);
}

TEST(GgufWriter, FailingProducerLeavesNoFile) {
  Writer w;
  ASSERT_TRUE(w.add_tensor("x", TensorType::F32, {4}, [](std::span<uint8_t>) -> Status {
                 return make_error("source truncated");
               }).ok());
  const std::string path = temp_path("failed.gguf");
  std::filesystem::remove(path);
  auto status = w.write(path);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("source truncated"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GgufWriter, RefusesInvalidTensors) {
  Writer w;
  std::vector<uint8_t> bytes(34);
  EXPECT_FALSE(w.add_tensor("q", TensorType::Q8_0, {16}, bytes).ok());        // not a whole block
  EXPECT_FALSE(w.add_tensor("q", TensorType::Q8_0, {32, 2}, bytes).ok());     // wrong byte count
  EXPECT_FALSE(w.add_tensor(std::string(64, 'n'), TensorType::Q8_0, {32}, bytes).ok());
  EXPECT_FALSE(w.add_tensor("q", TensorType::Q8_0, {32, 1, 1, 1, 1}, bytes).ok());
  EXPECT_TRUE(w.add_tensor("q", TensorType::Q8_0, {32}, bytes).ok());
  EXPECT_FALSE(w.add_tensor("q", TensorType::Q8_0, {32}, bytes).ok());        // duplicate
}

// Rewriting a real llama.cpp file reproduces it byte for byte: same layout rules as llama.cpp's writer.
TEST(GgufWriter, RewritesFixtureByteForByte) {
  const std::string source = std::string(CRIA_SHARED_DIR) + "/fixtures/models/kjv/gguf/kjv-Q4_K_M.gguf";
  if (!std::filesystem::exists(source)) GTEST_SKIP() << "fixture absent: " << source;
  auto in = File::open(source);
  ASSERT_TRUE(in.ok()) << in.error().message;
  Writer w;
  for (const auto& [key, value] : in->metadata()) w.set(key, value);
  for (const auto& t : in->tensors()) {
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    ASSERT_TRUE(w.add_tensor(t.name, t.type, ne, std::span<const uint8_t>(t.data, t.n_bytes)).ok());
  }
  const std::string path = temp_path("rewrite.gguf");
  ASSERT_TRUE(w.write(path).ok());
  std::ifstream a(source, std::ios::binary), b(path, std::ios::binary);
  std::vector<char> bytes_a((std::istreambuf_iterator<char>(a)), {});
  std::vector<char> bytes_b((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(bytes_a.size(), bytes_b.size());
  EXPECT_TRUE(bytes_a == bytes_b) << "rewritten file differs from llama.cpp's";
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cria::gguf
