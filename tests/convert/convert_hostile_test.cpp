// Hostile and broken checkpoints: each conversion fails with an error that names the problem, and
// leaves neither the output file nor the writer's temporary file behind. The inputs are made here from
// the KJV checkpoints, with one file replaced.
#include <gtest/gtest.h>
#include <zip.h>

#include <nlohmann/json.hpp>

#include "convert/converter.h"
#include "convert_test_support.h"

namespace cria::test {
namespace {

namespace fs = std::filesystem;

class ConvertHostile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kjv_checkpoint("hf")) || !fs::exists(kjv_checkpoint("meta"))) {
      GTEST_SKIP() << "fixture absent: " << kjv_checkpoint("");
    }
  }

  // Converts `dir` and expects failure with every one of `phrases` in the message.
  void expect_refused(const fs::path& dir, std::initializer_list<std::string> phrases) {
    const fs::path out = scratch_ / "out.gguf";
    convert::ConvertOptions options;
    options.dir = dir;
    options.outfile = out;
    options.outtype = convert::OutType::F32;
    auto result = convert::convert_checkpoint(options);
    ASSERT_FALSE(result.ok()) << "converted a broken checkpoint in " << dir;
    for (const auto& phrase : phrases) {
      EXPECT_NE(result.error().message.find(phrase), std::string::npos)
          << "'" << phrase << "' not in: " << result.error().message;
    }
    EXPECT_TRUE(nothing_written(out));
  }

  // A copy of a KJV layout (links) with `file` replaced by `bytes`.
  fs::path with_file(const std::string& layout, const std::string& file, const std::string& bytes) {
    const fs::path dir = scratch_ / (layout + "_" + std::to_string(copies_++));
    link_checkpoint(kjv_checkpoint(layout), dir, file);
    write_bytes(dir / file, bytes);
    return dir;
  }

  // The Meta checkpoint's .pth with its data.pkl replaced.
  std::string pth_with_pickle(const std::string& pickle) {
    const fs::path copy = scratch_ / "rewritten.pth";
    fs::copy_file(kjv_checkpoint("meta") / "consolidated.00.pth", copy, fs::copy_options::overwrite_existing);
    fs::permissions(copy, fs::perms::owner_read | fs::perms::owner_write);
    int error = 0;
    zip_t* archive = zip_open(copy.c_str(), 0, &error);
    EXPECT_NE(archive, nullptr);
    const zip_int64_t index = zip_name_locate(archive, "consolidated.00/data.pkl", 0);
    EXPECT_GE(index, 0);
    zip_source_t* source = zip_source_buffer(archive, pickle.data(), pickle.size(), 0);
    EXPECT_EQ(zip_file_replace(archive, static_cast<zip_uint64_t>(index), source, 0), 0);
    EXPECT_EQ(zip_close(archive), 0);
    return read_file(copy);
  }

  std::string original_pickle() {
    int error = 0;
    zip_t* archive = zip_open((kjv_checkpoint("meta") / "consolidated.00.pth").c_str(), ZIP_RDONLY, &error);
    zip_stat_t stat;
    zip_stat(archive, "consolidated.00/data.pkl", 0, &stat);
    std::string bytes(stat.size, '\0');
    zip_file_t* f = zip_fopen(archive, "consolidated.00/data.pkl", 0);
    zip_fread(f, bytes.data(), bytes.size());
    zip_fclose(f);
    zip_discard(archive);
    return bytes;
  }

  // model.safetensors rebuilt with its header edited by `edit`.
  std::string safetensors_with_header(const std::function<void(nlohmann::json&)>& edit) {
    const std::string original = read_file(kjv_checkpoint("hf") / "model.safetensors");
    uint64_t n = 0;
    std::memcpy(&n, original.data(), 8);
    auto header = nlohmann::json::parse(original.substr(8, n));
    edit(header);
    const std::string text = header.dump();
    std::string bytes(8, '\0');
    const uint64_t len = text.size();
    std::memcpy(bytes.data(), &len, 8);
    return bytes + text + original.substr(8 + n);
  }

  ScratchDir scratch_{"hostile"};
  int copies_ = 0;
};

TEST_F(ConvertHostile, PickleNamingANonTensorGlobalIsRefused) {
  std::string pickle = original_pickle();
  // The first tensor's rebuild function swapped for os.system: a classic pickle exploit.
  const std::string from = "ctorch._utils\n_rebuild_tensor_v2\n";
  const size_t at = pickle.find(from);
  ASSERT_NE(at, std::string::npos);
  pickle.replace(at, from.size(), "cposix\nsystem\n");
  expect_refused(with_file("meta", "consolidated.00.pth", pth_with_pickle(pickle)), {"posix.system", "refusing"});
}

TEST_F(ConvertHostile, PickleWithAnUnknownOpcodeIsRefused) {
  std::string pickle = original_pickle();
  pickle.insert(2, "]");  // EMPTY_LIST right after PROTO: a list is nothing a state dict holds
  expect_refused(with_file("meta", "consolidated.00.pth", pth_with_pickle(pickle)), {"opcode 0x5d"});
}

TEST_F(ConvertHostile, TruncatedPthIsRefused) {
  const std::string whole = read_file(kjv_checkpoint("meta") / "consolidated.00.pth");
  expect_refused(with_file("meta", "consolidated.00.pth", whole.substr(0, whole.size() / 2)),
                 {"consolidated.00.pth", "zip"});
}

TEST_F(ConvertHostile, TruncatedSafetensorsIsRefused) {
  const std::string whole = read_file(kjv_checkpoint("hf") / "model.safetensors");
  expect_refused(with_file("hf", "model.safetensors", whole.substr(0, whole.size() - 1000)),
                 {"model.safetensors", "past the end", "truncated"});
  expect_refused(with_file("hf", "model.safetensors", whole.substr(0, 100)), {"header length", "past the end"});
  expect_refused(with_file("hf", "model.safetensors", whole.substr(0, 5)), {"truncated"});
}

TEST_F(ConvertHostile, SafetensorsOffsetsThatOverlapAreRefused) {
  const std::string bytes = safetensors_with_header([](nlohmann::json& h) {
    // Point one norm at the bytes of another of the same size.
    h["model.layers.1.input_layernorm.weight"]["data_offsets"] = h["model.layers.0.input_layernorm.weight"]["data_offsets"];
  });
  expect_refused(with_file("hf", "model.safetensors", bytes), {"overlap", "input_layernorm"});
}

TEST_F(ConvertHostile, SafetensorsOffsetsPastTheEndAreRefused) {
  const std::string bytes = safetensors_with_header([](nlohmann::json& h) {
    auto& offsets = h["model.norm.weight"]["data_offsets"];
    const uint64_t begin = offsets[0].get<uint64_t>() + (1ull << 40);
    offsets = {begin, begin + 512};
  });
  expect_refused(with_file("hf", "model.safetensors", bytes), {"model.norm.weight", "past the end"});
}

TEST_F(ConvertHostile, SafetensorsSpanThatDisagreesWithTheShapeIsRefused) {
  const std::string bytes = safetensors_with_header([](nlohmann::json& h) { h["model.norm.weight"]["shape"] = {4096}; });
  expect_refused(with_file("hf", "model.safetensors", bytes), {"model.norm.weight", "need"});
}

TEST_F(ConvertHostile, ConfigWithAMissingKeyIsRefused) {
  auto config = nlohmann::json::parse(read_file(kjv_checkpoint("hf") / "config.json"));
  config.erase("hidden_size");
  expect_refused(with_file("hf", "config.json", config.dump()), {"config.json", "'hidden_size'", "missing"});
}

TEST_F(ConvertHostile, ConfigWithAWronglyTypedKeyIsRefused) {
  auto config = nlohmann::json::parse(read_file(kjv_checkpoint("hf") / "config.json"));
  config["num_attention_heads"] = "eight";
  expect_refused(with_file("hf", "config.json", config.dump()), {"'num_attention_heads'", "positive integer"});
}

TEST_F(ConvertHostile, ConfigThatDisagreesWithTheWeightsIsRefused) {
  auto config = nlohmann::json::parse(read_file(kjv_checkpoint("hf") / "config.json"));
  config["intermediate_size"] = 1024;
  expect_refused(with_file("hf", "config.json", config.dump()), {"ffn_down", "shape", "[768, 256]", "[1024, 256]"});
  config = nlohmann::json::parse(read_file(kjv_checkpoint("hf") / "config.json"));
  config["num_hidden_layers"] = 7;
  expect_refused(with_file("hf", "config.json", config.dump()), {"blk.6.", "missing"});
}

TEST_F(ConvertHostile, ConfigOfAnotherArchitectureIsRefused) {
  auto config = nlohmann::json::parse(read_file(kjv_checkpoint("hf") / "config.json"));
  config["architectures"] = {"GPTNeoXForCausalLM"};
  expect_refused(with_file("hf", "config.json", config.dump()), {"GPTNeoXForCausalLM", "not supported"});
  expect_refused(with_file("hf", "config.json", "{\"hidden_size\": 256,"), {"config.json", "not valid JSON"});
}

TEST_F(ConvertHostile, ParamsWithAMissingKeyIsRefused) {
  auto params = nlohmann::json::parse(read_file(kjv_checkpoint("meta") / "params.json"));
  params.erase("n_heads");
  expect_refused(with_file("meta", "params.json", params.dump()), {"params.json", "'n_heads'"});
}

TEST_F(ConvertHostile, CorruptTokenizerModelIsRefused) {
  std::string model = read_file(kjv_checkpoint("hf") / "tokenizer.model");
  expect_refused(with_file("hf", "tokenizer.model", model.substr(0, model.size() / 2)),
                 {"tokenizer.model", "SentencePiece"});
}

TEST_F(ConvertHostile, DirectoryWithoutACheckpointIsRefused) {
  expect_refused(scratch_.path(), {"neither a Meta checkpoint"});
  expect_refused(scratch_ / "does-not-exist", {"not a directory"});
}

}  // namespace
}  // namespace cria::test
