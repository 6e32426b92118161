// Read-only memory mapping of a whole file. Weights stay in the mapping; nothing is copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/result.h"

namespace cria {

// Lets this process's pages of a read-only file mapping in [data, data + bytes) go (whole pages inside
// the range only): they stay in the page cache, and a later read maps them again. For weights that were
// copied elsewhere (repacked), so that a process does not hold both.
void release_mapped_pages(const void* data, size_t bytes);

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  static Result<MappedFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Bytes of the mapping this process has touched and that are in memory now (its share of the page
  // cache, from /proc/self/smaps; 0 where that cannot be read).
  uint64_t resident_bytes() const;

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace cria
