// Shared by the convert tests: the KJV checkpoints, scratch directories, and copies of a checkpoint
// with one file replaced (so hostile inputs are generated here rather than committed).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "gguf/gguf_reader.h"
#include "sha256.h"
#include "test_support.h"

namespace cria::test {

inline std::filesystem::path kjv_checkpoint(const std::string& layout) {
  return shared_dir() / "fixtures" / "models" / "kjv" / layout;
}

// A fresh directory, removed when the object goes away.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("cria_convert_" + name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Links every file of `from` into `to`, except `except` (which the caller then writes itself).
inline void link_checkpoint(const std::filesystem::path& from, const std::filesystem::path& to,
                            const std::string& except = "") {
  std::filesystem::create_directories(to);
  for (const auto& entry : std::filesystem::directory_iterator(from)) {
    if (entry.path().filename() == except) continue;
    std::filesystem::create_symlink(entry.path(), to / entry.path().filename());
  }
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Neither the output nor the writer's temporary file may exist after a failed conversion.
inline bool nothing_written(const std::filesystem::path& output) {
  return !std::filesystem::exists(output) && !std::filesystem::exists(output.string() + ".tmp");
}

// Every tensor of `file` has the type, shape and SHA-256 that reference/conversion_tensor_hashes.json
// lists for llama.cpp's `reference_name` ("kjv-F32.gguf"), and there are no others.
inline void expect_reference_tensors(const gguf::File& file, const std::string& reference_name) {
  const auto hashes_file = shared_dir() / "fixtures/models/kjv/reference/conversion_tensor_hashes.json";
  const auto hashes = nlohmann::json::parse(read_file(hashes_file))[reference_name];
  ASSERT_FALSE(hashes.empty()) << reference_name << " not in " << hashes_file;
  ASSERT_EQ(file.tensors().size(), hashes.size());
  for (const auto& [name, expected] : hashes.items()) {
    const gguf::TensorInfo* t = file.find_tensor(name);
    ASSERT_NE(t, nullptr) << "missing " << name;
    EXPECT_EQ(t->traits().name, expected["type"].get<std::string>()) << name;
    std::vector<int64_t> shape(t->ne.begin(), t->ne.begin() + t->n_dims);
    EXPECT_EQ(shape, expected["shape"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(sha256_hex({t->data, t->n_bytes}), expected["sha256"].get<std::string>()) << name;
  }
}

}  // namespace cria::test
