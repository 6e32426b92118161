// Split GGUF models (gguf/gguf_split): the bundled KJV Q8_0 model split into 3 shards opens as the original
// (metadata, tensors, bytes, and the model's logits bit for bit), merges into the original plus the split
// keys, and the shards' bytes follow llama-gguf-split's layout exactly (checked byte by byte on a small
// file against one built here by hand from that layout); missing, renamed and inconsistent shards are
// errors naming the file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_split.h"
#include "gguf/gguf_writer.h"
#include "gguf_bytes.h"
#include "model/model.h"
#include "model/session.h"
#include "test_support.h"

namespace cria::gguf {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cria_split_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const std::string kKjv = CRIA_SOURCE_DIR "/models/kjv-Q8_0.gguf";

void expect_same_tensors(const File& a, const File& b) {
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const TensorInfo& x = a.tensors()[i];
    const TensorInfo& y = b.tensors()[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.type, y.type);
    EXPECT_EQ(x.ne, y.ne);
    ASSERT_EQ(x.n_bytes, y.n_bytes);
    EXPECT_EQ(std::memcmp(x.data, y.data, x.n_bytes), 0) << x.name;
  }
}

std::vector<float> last_logits(const std::string& path) {
  auto file = File::open(path);
  EXPECT_TRUE(file.ok()) << file.error().message;
  auto model = model::Model::from_file(std::move(*file));
  EXPECT_TRUE(model.ok());
  auto session = model::Session::create(*model, {64, 64, 1});
  const std::vector<int32_t> tokens = {1, 450, 7, 99, 1000, 23};
  EXPECT_TRUE((*session)->decode(tokens).ok());
  const float* l = (*session)->logits();
  return {l, l + (*model)->n_vocab()};
}

TEST(GgufSplit, ThreeShardsOpenAndMergeAsTheOriginal) {
  const fs::path dir = fresh_dir("kjv");
  auto original = File::open(kKjv);
  ASSERT_TRUE(original.ok()) << original.error().message;
  SplitOptions o;
  o.max_tensors = 20;  // 57 tensors: 20, 20, 17
  auto paths = split_gguf(*original, o, (dir / "kjv").string());
  ASSERT_TRUE(paths.ok()) << paths.error().message;
  ASSERT_EQ(paths->size(), 3u);
  EXPECT_EQ(fs::path((*paths)[2]).filename(), "kjv-00003-of-00003.gguf");

  // Each shard alone: shard 0 the original keys then split.no, split.tensors.count, split.count; the others
  // those three only.
  for (int s = 0; s < 3; ++s) {
    std::ifstream in((*paths)[static_cast<size_t>(s)], std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto alone = File::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "shard");
    ASSERT_TRUE(alone.ok()) << alone.error().message;
    const auto& md = alone->metadata();
    const size_t n_keys = s == 0 ? original->metadata().size() + 3 : 3;
    ASSERT_EQ(md.size(), n_keys);
    for (size_t k = 0; s == 0 && k < original->metadata().size(); ++k) EXPECT_EQ(md[k].first, original->metadata()[k].first);
    EXPECT_EQ(md[n_keys - 3].first, "split.no");
    EXPECT_EQ(*md[n_keys - 3].second.get_if<uint16_t>(), s);
    EXPECT_EQ(md[n_keys - 2].first, "split.tensors.count");
    EXPECT_EQ(*md[n_keys - 2].second.get_if<int32_t>(), 57);
    EXPECT_EQ(md[n_keys - 1].first, "split.count");
    EXPECT_EQ(*md[n_keys - 1].second.get_if<uint16_t>(), 3);
    EXPECT_EQ(alone->tensors().size(), s < 2 ? 20u : 17u);
    EXPECT_EQ(alone->version(), 3u);
  }

  // The first shard opens as the whole model.
  auto whole = File::open((*paths)[0]);
  ASSERT_TRUE(whole.ok()) << whole.error().message;
  EXPECT_EQ(whole->n_shards(), 3);
  expect_same_tensors(*whole, *original);
  EXPECT_EQ(last_logits((*paths)[0]), last_logits(kKjv)) << "logits of the split model";

  // Merged: the original's metadata and tensors, plus the split keys with split.count 0 (as llama-gguf-split).
  const std::string merged = (dir / "merged.gguf").string();
  ASSERT_TRUE(merge_gguf(*whole, merged).ok());
  auto m = File::open(merged);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->n_shards(), 1);
  expect_same_tensors(*m, *original);
  ASSERT_EQ(m->metadata().size(), original->metadata().size() + 3);
  EXPECT_EQ(m->metadata().back().first, "split.count");
  EXPECT_EQ(*m->metadata().back().second.get_if<uint16_t>(), 0);
  EXPECT_EQ(fs::file_size(merged), fs::file_size(kKjv) + 96) << "three keys more, everything else in place";
  EXPECT_FALSE(merge_gguf(*whole, merged).ok()) << "the output exists";
  fs::remove_all(dir);
}

TEST(GgufSplit, BadShardsAreNamed) {
  const fs::path dir = fresh_dir("bad");
  auto original = File::open(kKjv);
  ASSERT_TRUE(original.ok());
  SplitOptions o;
  o.max_tensors = 20;
  auto paths = split_gguf(*original, o, (dir / "m").string());
  ASSERT_TRUE(paths.ok());
  auto second = File::open((*paths)[1]);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("shard 2 of 3 of a split model; open the first one (" + (*paths)[0] + ")"),
            std::string::npos)
      << second.error().message;
  // Shard 3 in shard 2's place: its numbering says so.
  fs::copy_file((*paths)[1], (dir / "keep.gguf"));
  fs::copy_file((*paths)[2], (*paths)[1], fs::copy_options::overwrite_existing);
  auto swapped = File::open((*paths)[0]);
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.error().message.find("say shard 3 of 3, expected 2 of 3"), std::string::npos) << swapped.error().message;
  fs::copy_file(dir / "keep.gguf", (*paths)[1], fs::copy_options::overwrite_existing);
  // A shard missing.
  fs::remove((*paths)[2]);
  auto missing = File::open((*paths)[0]);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("shard 3 of 3: " + (*paths)[2]), std::string::npos) << missing.error().message;
  // The first shard under another name.
  fs::rename((*paths)[0], dir / "renamed.gguf");
  auto renamed = File::open((dir / "renamed.gguf").string());
  ASSERT_FALSE(renamed.ok());
  EXPECT_NE(renamed.error().message.find("must be named PREFIX-00001-of-00003.gguf"), std::string::npos);
  // A limit below the first tensor.
  SplitOptions tiny;
  tiny.max_bytes = 1000;
  auto too_small = split_gguf(*original, tiny, (dir / "t").string());
  ASSERT_FALSE(too_small.ok());
  EXPECT_NE(too_small.error().message.find("would hold no tensor"), std::string::npos);
  EXPECT_EQ(*parse_split_size("2G"), 2000000000u);
  EXPECT_EQ(*parse_split_size("500M"), 500000000u);
  EXPECT_FALSE(parse_split_size("2GB").ok());
  EXPECT_FALSE(parse_split_size("0M").ok());
  EXPECT_FALSE(parse_split_size("1.5G").ok());
  fs::remove_all(dir);
}

// The layout llama-gguf-split writes (its source: version 3, keys as u64 length + bytes + i32 type + value,
// tensor infos with trailing unit dimensions dropped, metadata padded to 32 bytes, every tensor's data
// padded to 32 including the last), built by hand for the second shard of a three-tensor file split one
// tensor per shard, and compared byte for byte.
TEST(GgufSplit, ShardBytesFollowLlamaGgufSplit) {
  const fs::path dir = fresh_dir("bytes");
  Writer w;
  w.set("general.architecture", "llama");
  w.set("x.flag", true);
  std::vector<uint8_t> a(8, 1), b(12, 2), c(40, 3);
  ASSERT_TRUE(w.add_tensor("a", TensorType::F32, {2}, a).ok());
  ASSERT_TRUE(w.add_tensor("b", TensorType::F32, {3, 1}, b).ok());
  ASSERT_TRUE(w.add_tensor("c", TensorType::F32, {10}, c).ok());
  const std::string src = (dir / "src.gguf").string();
  ASSERT_TRUE(w.write(src).ok());
  auto in = File::open(src);
  ASSERT_TRUE(in.ok());
  SplitOptions o;
  o.max_tensors = 1;
  auto paths = split_gguf(*in, o, (dir / "out").string());
  ASSERT_TRUE(paths.ok());
  ASSERT_EQ(paths->size(), 3u);

  test::GgufBytes e;
  e.u32(0x46554747).u32(3).u64(1).u64(3);
  e.str("split.no").i32(2).pod(uint16_t{1});
  e.str("split.tensors.count").i32(5).i32(3);
  e.str("split.count").i32(2).pod(uint16_t{3});
  e.str("b").u32(1).pod(int64_t{3}).i32(0).u64(0);  // [3, 1] is written 1-D, as ggml_n_dims gives
  e.pad(32);
  e.raw(b.data(), b.size()).pad(32);
  std::ifstream f((*paths)[1], std::ios::binary);
  const std::vector<uint8_t> got((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, e.bytes);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cria::gguf
