// Checks an allocation whose size comes from the user (a context size, a batch size, a thread count)
// against the memory the machine has before it is made: a context of ten million tokens is a clear error
// naming what it would need, not minutes of swapping, an out-of-memory kill or std::bad_alloc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace cria {

// Memory available to new allocations without swapping (Linux: MemAvailable in /proc/meminfo; elsewhere
// the free physical pages), or nothing when the system does not say.
std::optional<uint64_t> available_memory_bytes();

// "1.50 GiB", "12.0 MiB": a byte count for messages.
std::string format_bytes(uint64_t bytes);

// An error "WHAT needs SIZE, more than the AVAILABLE of memory available (HINT)" when `bytes` exceeds the
// available memory; Ok when it fits or the system does not say.
Status check_memory(uint64_t bytes, const std::string& what, const std::string& hint);

}  // namespace cria
