// The loader against malformed architecture files: each is an arch fixture rewritten with one thing
// wrong (metadata or a tensor), and must be refused with an error that names what is wrong; an unknown
// architecture names itself and the supported ones. A Phi-3 file with its fused tensors split into
// separate Q/K/V and gate/up tensors computes exactly the same logits (the fused views are exact).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <unistd.h>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/session.h"
#include "test_support.h"

namespace cria::model {
namespace {

namespace fs = std::filesystem;

fs::path arch_file(const std::string& name) { return test::shared_dir() / "fixtures/models/arch" / name; }

// Rewrites `source` with metadata changed by `meta` and each tensor passed through `tensor` (which may
// skip it by returning false or change its name, shape and bytes), and returns the loader's error.
struct TensorEdit {
  std::string name;
  TensorType type;
  std::vector<int64_t> ne;
  std::span<const uint8_t> bytes;
};

std::string load_error(const fs::path& source, const std::function<void(gguf::Writer&)>& meta,
                       const std::function<bool(TensorEdit&)>& tensor) {
  auto file = gguf::File::open(source.string());
  EXPECT_TRUE(file.ok());
  gguf::Writer w;
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  meta(w);
  for (const auto& t : file->tensors()) {
    TensorEdit e{t.name, t.type, {}, std::span(t.data, t.n_bytes)};
    for (size_t d = 0; d < static_cast<size_t>(t.n_dims); ++d) e.ne.push_back(t.ne[d]);
    if (!tensor(e)) continue;
    EXPECT_TRUE(w.add_tensor(e.name, e.type, e.ne, e.bytes).ok()) << e.name;
  }
  const fs::path path = fs::temp_directory_path() / ("cria_arch_" + std::to_string(::getpid()) + ".gguf");
  EXPECT_TRUE(w.write(path.string()).ok());
  auto model = Model::load(path.string());
  fs::remove(path);
  return model.ok() ? std::string() : model.error().message;
}

const auto kKeep = [](TensorEdit&) { return true; };
const auto kSame = [](gguf::Writer&) {};

// Tensor edits: leave tensor `name` out; cut its dimension `dim` down to n (and its bytes with it).
std::function<bool(TensorEdit&)> without(std::string name) {
  return [name](TensorEdit& e) { return e.name != name; };
}
std::function<bool(TensorEdit&)> shrunk(std::string name, size_t dim, int64_t n) {
  return [name, dim, n](TensorEdit& e) {
    if (e.name == name) {
      e.bytes = e.bytes.first(e.bytes.size() / static_cast<size_t>(e.ne[dim]) * static_cast<size_t>(n));
      e.ne[dim] = n;
    }
    return true;
  };
}

#define REQUIRE_ARCH(name)                \
  const fs::path src = arch_file(name);   \
  CRIA_REQUIRE_FIXTURE(src)

TEST(ModelArchLoading, UnknownArchitectureNamesItselfAndTheSupportedOnes) {
  REQUIRE_ARCH("kjv-qwen2-Q8_0.gguf");
  const std::string err = load_error(
      src,
      [](gguf::Writer& w) {
        w.set("general.architecture", gguf::Value(std::string("mamba")));
      },
      kKeep);
  EXPECT_NE(err.find("unknown architecture 'mamba'"), std::string::npos) << err;
  EXPECT_NE(err.find("qwen2moe"), std::string::npos) << err;
  EXPECT_NE(err.find("gemma3"), std::string::npos) << err;
}

TEST(ModelArchLoading, ExpertsWhereTheArchitectureHasNone) {
  REQUIRE_ARCH("kjv-gemma-Q8_0.gguf");
  const std::string err = load_error(
      src, [](gguf::Writer& w) { w.set("gemma.expert_count", gguf::Value(uint32_t{4})); }, kKeep);
  EXPECT_NE(err.find("has no mixture-of-experts form"), std::string::npos) << err;
}

TEST(ModelArchLoading, MoreExpertsUsedThanThereAre) {
  REQUIRE_ARCH("kjv-qwen3moe-Q8_0.gguf");
  const std::string err = load_error(
      src, [](gguf::Writer& w) { w.set("qwen3moe.expert_used_count", gguf::Value(uint32_t{5})); }, kKeep);
  EXPECT_NE(err.find("expert_used_count 5 of expert_count 4"), std::string::npos) << err;
}

TEST(ModelArchLoading, MissingExpertTensor) {
  REQUIRE_ARCH("kjv-llama-moe-Q8_0.gguf");
  const std::string err = load_error(src, kSame, without("blk.1.ffn_up_exps.weight"));
  EXPECT_NE(err.find("tensor 'blk.1.ffn_up_exps.weight' is missing"), std::string::npos) << err;
}

TEST(ModelArchLoading, ExpertTensorWithTooFewExperts) {
  REQUIRE_ARCH("kjv-qwen2moe-Q8_0.gguf");
  const std::string err = load_error(src, kSame, shrunk("blk.0.ffn_down_exps.weight", 2, 3));
  EXPECT_NE(err.find("tensor 'blk.0.ffn_down_exps.weight' has shape [192, 256, 3], expected [192, 256, 4]"),
            std::string::npos)
      << err;
}

TEST(ModelArchLoading, MissingSharedExpertGate) {
  REQUIRE_ARCH("kjv-qwen2moe-Q8_0.gguf");
  const std::string err =
      load_error(src, kSame, without("blk.1.ffn_gate_inp_shexp.weight"));
  EXPECT_NE(err.find("tensor 'blk.1.ffn_gate_inp_shexp.weight' is missing"), std::string::npos) << err;
}

TEST(ModelArchLoading, MissingQueryNorm) {
  REQUIRE_ARCH("kjv-qwen3-Q8_0.gguf");
  const std::string err = load_error(src, kSame, without("blk.0.attn_q_norm.weight"));
  EXPECT_NE(err.find("tensor 'blk.0.attn_q_norm.weight' is missing"), std::string::npos) << err;
}

TEST(ModelArchLoading, MissingPostNorm) {
  REQUIRE_ARCH("kjv-gemma2-Q8_0.gguf");
  const std::string err = load_error(src, kSame, without("blk.7.post_ffw_norm.weight"));
  EXPECT_NE(err.find("tensor 'blk.7.post_ffw_norm.weight' is missing"), std::string::npos) << err;
}

TEST(ModelArchLoading, FusedQkvOfTheWrongHeight) {
  REQUIRE_ARCH("kjv-phi3-Q8_0.gguf");
  const std::string err = load_error(src, kSame, shrunk("blk.0.attn_qkv.weight", 1, 480));
  EXPECT_NE(err.find("tensor 'blk.0.attn_qkv.weight' has shape [256, 480], expected [256, 512]"), std::string::npos)
      << err;
}

TEST(ModelArchLoading, OddRopeDimensionCount) {
  REQUIRE_ARCH("kjv-phi3-Q8_0.gguf");
  const std::string err =
      load_error(src, [](gguf::Writer& w) { w.set("phi3.rope.dimension_count", gguf::Value(uint32_t{31})); }, kKeep);
  EXPECT_NE(err.find("rope.dimension_count 31 must be even"), std::string::npos) << err;
}

// Phi-3's fused attn_qkv and [gate; up] ffn_up, split into separate tensors, give the same logits.
TEST(ModelArchLoading, FusedTensorsEqualSplitOnes) {
  REQUIRE_ARCH("kjv-phi3-Q8_0.gguf");
  auto file = gguf::File::open(src.string());
  ASSERT_TRUE(file.ok());
  gguf::Writer w;
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  for (const auto& t : file->tensors()) {
    const size_t row = t.row_bytes();
    auto part = [&](const std::string& name, int64_t row0, int64_t rows) {
      ASSERT_TRUE(w.add_tensor(name, t.type, {t.ne[0], rows}, std::span(t.data + row0 * row, rows * row)).ok());
    };
    const std::string blk = t.name.substr(0, t.name.find('.', 4) + 1);
    if (t.name.ends_with("attn_qkv.weight")) {
      part(blk + "attn_q.weight", 0, 256);
      part(blk + "attn_k.weight", 256, 128);
      part(blk + "attn_v.weight", 384, 128);
    } else if (t.name.ends_with("ffn_up.weight")) {
      part(blk + "ffn_gate.weight", 0, 768);
      part(blk + "ffn_up.weight", 768, 768);
    } else {
      std::vector<int64_t> ne;
      for (size_t d = 0; d < static_cast<size_t>(t.n_dims); ++d) ne.push_back(t.ne[d]);
      ASSERT_TRUE(w.add_tensor(t.name, t.type, ne, std::span(t.data, t.n_bytes)).ok());
    }
  }
  const fs::path path = fs::temp_directory_path() / ("cria_phi3_split_" + std::to_string(::getpid()) + ".gguf");
  ASSERT_TRUE(w.write(path.string()).ok());
  auto logits = [](const std::string& p) {
    auto model = Model::load(p).value();
    auto session = Session::create(model, {64, 64, 2}).value();
    const std::vector<int32_t> prompt = {1, 512, 37, 260, 1045, 92, 7, 300, 301};
    EXPECT_TRUE(session->decode(prompt).ok());
    return std::vector<float>(session->logits(), session->logits() + model->n_vocab());
  };
  const auto fused = logits(src.string());
  const auto split = logits(path.string());
  fs::remove(path);
  ASSERT_EQ(fused.size(), split.size());
  EXPECT_EQ(0, std::memcmp(fused.data(), split.data(), fused.size() * sizeof(float)));
}

}  // namespace
}  // namespace cria::model
