// Large read-mostly buffers (repacked weights) placed on 2 MiB pages where the kernel allows it.
// Streaming hundreds of megabytes through 4 KiB pages costs a page walk every 4 KiB; transparent huge
// pages cut that 512-fold. The buffer works the same when huge pages are unavailable; CRIA_HUGE_PAGES=0
// asks for ordinary pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace cria {

// `bytes` of zeroed memory, 4 KiB-aligned; when it is at least 2 MiB, 2 MiB-aligned and advised to use
// transparent huge pages. Throws std::bad_alloc when the memory cannot be had.
std::shared_ptr<uint8_t[]> allocate_huge_pages(size_t bytes);

constexpr size_t kHugePageBytes = size_t{2} << 20;

// Whether allocate_huge_pages can give huge pages at all: not turned off by CRIA_HUGE_PAGES=0, and the
// kernel's transparent huge pages not set to "never" (Linux; false elsewhere).
bool huge_pages_available();

}  // namespace cria
