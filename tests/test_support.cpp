#include "test_support.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <random>

#include <unistd.h>

namespace cria::test {

TempDir::TempDir(const std::string& name)
    : path(std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()))) {
  std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

const char* const kKjvPrompts[8] = {
    "In the beginning God created",
    "The LORD is my shepherd",
    "And Jesus answered and said unto them",
    "Blessed are the",
    "And it came to pass, when the king heard the words of the book of the law, that he rent his clothes",
    "Thou shalt",
    "For God so loved the world, that he gave",
    "And the LORD spake unto Moses, saying, Speak unto the children of Israel",
};

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("CRIA_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return CRIA_SHARED_DIR;
}

std::filesystem::path kjv_gguf_dir() { return shared_dir() / "fixtures" / "models" / "kjv" / "gguf"; }

std::vector<std::filesystem::path> gguf_files_under(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".gguf") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<float> gaussian(size_t n, uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace cria::test
