// Helpers shared by the tests: where the fixtures are, and skipping when they are absent.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace cria::test {

// ../shared beside the project (CRIA_SHARED_DIR may be overridden by the environment variable of that name).
std::filesystem::path shared_dir();
std::filesystem::path kjv_gguf_dir();

// Every *.gguf below a directory, sorted.
std::vector<std::filesystem::path> gguf_files_under(const std::filesystem::path& dir);

// The whole file as bytes (empty when it cannot be read).
std::string read_file(const std::filesystem::path& path);

// Eight KJV prompts of different lengths, for the tests that decode several sequences together.
extern const char* const kKjvPrompts[8];

// A folder under the system's temporary one, "NAME_PID", removed with everything in it at the end.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Random Gaussian data, deterministic per seed, never all zeros.
std::vector<float> gaussian(size_t n, uint32_t seed, float stddev = 1.0f);

}  // namespace cria::test

// Skips the current test when a fixture path is missing, naming it.
#define CRIA_REQUIRE_FIXTURE(path)                                                   \
  do {                                                                               \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "fixture absent: " << (path); \
  } while (0)
