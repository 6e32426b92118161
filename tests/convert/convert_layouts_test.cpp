// The other shapes a checkpoint comes in, built from the KJV weights: Meta shards (13B and larger ship
// two or more), sharded safetensors with an index, and pytorch_model.bin. Each conversion must still
// reproduce llama.cpp's F32 tensors exactly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "convert/converter.h"
#include "convert/tensor_file.h"
#include "convert_test_support.h"
#include "torch_zip_writer.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

std::vector<TensorToSave> read_all(const fs::path& path) {
  auto file = path.extension() == ".safetensors" ? convert::open_safetensors(path.string())
                                                 : convert::open_torch_zip(path.string());
  EXPECT_TRUE(file.ok()) << file.error().message;
  std::vector<TensorToSave> out;
  if (!file.ok()) return out;
  for (size_t i = 0; i < (*file)->tensors().size(); ++i) {
    const auto& t = (*file)->tensors()[i];
    out.push_back({t.name, t.shape, std::vector<float>(static_cast<size_t>(t.n_elements()))});
    EXPECT_TRUE((*file)->read_f32(i, out.back().values).ok());
  }
  return out;
}

void write_safetensors(const fs::path& path, const std::vector<TensorToSave>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& t : tensors) {
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  const std::string text = header.dump();
  const uint64_t n = text.size();
  write_bytes(path, std::string(reinterpret_cast<const char*>(&n), 8) + text + data);
}

convert::ConvertOptions f32_options(const fs::path& dir, const fs::path& out) {
  convert::ConvertOptions options;
  options.dir = dir;
  options.outfile = out;
  options.outtype = convert::OutType::F32;
  options.checkpoint.context_length = 256;
  return options;
}

fs::path convert_to_f32(const fs::path& dir, const fs::path& out) {
  auto result = convert::convert_checkpoint(f32_options(dir, out));
  EXPECT_TRUE(result.ok()) << result.error().message;
  return out;
}

class ConvertLayouts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kjv_checkpoint("meta")) || !fs::exists(kjv_checkpoint("hf"))) {
      GTEST_SKIP() << "fixture absent: " << kjv_checkpoint("");
    }
  }
  void expect_reference(const fs::path& dir) {
    const fs::path out = convert_to_f32(dir, scratch_ / "out.gguf");
    auto file = gguf::File::open(out.string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    expect_reference_tensors(*file, "kjv-F32.gguf");
  }
  ScratchDir scratch_{"layouts"};
};

// Meta's model-parallel split: embeddings, wo and w2 by columns, other matrices by rows, norms copied.
TEST_F(ConvertLayouts, MergesMetaShards) {
  const fs::path dir = scratch_ / "meta2";
  fs::create_directories(dir);
  for (const char* f : {"params.json", "tokenizer.model"}) fs::create_symlink(kjv_checkpoint("meta") / f, dir / f);
  std::vector<TensorToSave> shards[2];
  for (auto& t : read_all(kjv_checkpoint("meta") / "consolidated.00.pth")) {
    if (t.shape.size() == 1) {
      shards[0].push_back(t);
      shards[1].push_back(t);
      continue;
    }
    const bool by_columns = t.name.starts_with("tok_embeddings.") || t.name.ends_with(".attention.wo.weight") ||
                            t.name.ends_with(".feed_forward.w2.weight");
    const int64_t rows = t.shape[0], cols = t.shape[1];
    for (int s = 0; s < 2; ++s) {
      TensorToSave part{t.name, by_columns ? std::vector<int64_t>{rows, cols / 2} : std::vector<int64_t>{rows / 2, cols}, {}};
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          const bool mine = by_columns ? (c < cols / 2) == (s == 0) : (r < rows / 2) == (s == 0);
          if (mine) part.values.push_back(t.values[static_cast<size_t>(r * cols + c)]);
        }
      }
      shards[s].push_back(std::move(part));
    }
  }
  ASSERT_TRUE(write_torch_zip(dir / "consolidated.00.pth", "consolidated.00", shards[0]));
  ASSERT_TRUE(write_torch_zip(dir / "consolidated.01.pth", "consolidated.01", shards[1]));
  expect_reference(dir);

  // A gap in the shard numbering is an error, not a silently smaller model.
  fs::rename(dir / "consolidated.01.pth", dir / "consolidated.02.pth");
  auto result = convert::convert_checkpoint(f32_options(dir, scratch_ / "gap.gguf"));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("consolidated.01.pth is missing"), std::string::npos) << result.error().message;
  EXPECT_TRUE(nothing_written(scratch_ / "gap.gguf"));
}

TEST_F(ConvertLayouts, ReadsShardedSafetensorsWithAnIndex) {
  const fs::path dir = scratch_ / "sharded";
  link_checkpoint(kjv_checkpoint("hf"), dir, "model.safetensors");
  const auto tensors = read_all(kjv_checkpoint("hf") / "model.safetensors");
  const size_t half = tensors.size() / 2;
  const std::string names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  write_safetensors(dir / names[0], {tensors.begin(), tensors.begin() + static_cast<ptrdiff_t>(half)});
  write_safetensors(dir / names[1], {tensors.begin() + static_cast<ptrdiff_t>(half), tensors.end()});
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < tensors.size(); ++i) index["weight_map"][tensors[i].name] = names[i < half ? 0 : 1];
  write_bytes(dir / "model.safetensors.index.json", index.dump());
  expect_reference(dir);

  fs::remove(dir / names[1]);
  auto result = convert::convert_checkpoint(f32_options(dir, scratch_ / "missing.gguf"));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find(names[1]), std::string::npos) << result.error().message;
  EXPECT_TRUE(nothing_written(scratch_ / "missing.gguf"));
}

TEST_F(ConvertLayouts, ReadsPytorchModelBin) {
  const fs::path dir = scratch_ / "bin";
  link_checkpoint(kjv_checkpoint("hf"), dir, "model.safetensors");
  ASSERT_TRUE(write_torch_zip(dir / "pytorch_model.bin", "archive", read_all(kjv_checkpoint("hf") / "model.safetensors")));
  expect_reference(dir);
}

}  // namespace
}  // namespace cria::test
