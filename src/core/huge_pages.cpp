#include "core/huge_pages.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace cria {

namespace {
constexpr size_t kPage = 4096;

// CRIA_HUGE_PAGES=0 gives ordinary pages, to compare (read at each call, so one process can hold both).
bool huge_pages_wanted() {
  const char* env = std::getenv("CRIA_HUGE_PAGES");
  return env == nullptr || std::strcmp(env, "0") != 0;
}
}  // namespace

bool huge_pages_available() {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // The kernel's setting is read once; the environment at each call, as allocate_huge_pages does.
  static const bool never = [] {
    std::ifstream setting("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    return std::getline(setting, line) && line.find("[never]") != std::string::npos;
  }();
  return huge_pages_wanted() && !never;
#else
  return false;
#endif
}

std::shared_ptr<uint8_t[]> allocate_huge_pages(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHugePageBytes && huge_pages_wanted()) {
    // Map one huge page more than needed, then unmap the unaligned head and the tail past `bytes`.
    const size_t mapped = bytes + kHugePageBytes;
    void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    auto* raw = static_cast<uint8_t*>(p);
    const uintptr_t address = reinterpret_cast<uintptr_t>(raw);
    uint8_t* aligned = raw + (kHugePageBytes - address % kHugePageBytes) % kHugePageBytes;
    if (aligned > raw) munmap(raw, static_cast<size_t>(aligned - raw));
    uint8_t* end = aligned + bytes;
    uint8_t* tail = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(end) + kPage - 1) / kPage * kPage);
    if (tail < raw + mapped) munmap(tail, static_cast<size_t>(raw + mapped - tail));
    madvise(aligned, bytes, MADV_HUGEPAGE);  // advice only: without it the pages are ordinary
    return std::shared_ptr<uint8_t[]>(aligned, [bytes](uint8_t* q) { munmap(q, bytes); });
  }
#endif
  // Ordinary memory, still page-aligned: the bandwidth reader's aligned loads rely on it.
  auto* p = static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t{kPage}));
  std::memset(p, 0, bytes);
  return std::shared_ptr<uint8_t[]>(p, [](uint8_t* q) { ::operator delete[](q, std::align_val_t{kPage}); });
}

}  // namespace cria
