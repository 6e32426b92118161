#include "core/memory_budget.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace cria {

std::optional<uint64_t> available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream in(line.substr(13));
    uint64_t kib = 0;
    if (in >> kib) return kib * 1024;
  }
#if defined(_SC_AVPHYS_PAGES)
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
#endif
  return std::nullopt;
}

std::string format_bytes(uint64_t bytes) {
  char text[32];
  const double gib = static_cast<double>(bytes) / (1ull << 30), mib = static_cast<double>(bytes) / (1ull << 20);
  if (gib >= 1.0) {
    std::snprintf(text, sizeof text, "%.2f GiB", gib);
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", mib);
  }
  return text;
}

Status check_memory(uint64_t bytes, const std::string& what, const std::string& hint) {
  const auto available = available_memory_bytes();
  if (!available || bytes <= *available) return Ok{};
  return make_error(what + " needs " + format_bytes(bytes) + ", more than the " + format_bytes(*available) +
                    " of memory available (" + hint + ")");
}

}  // namespace cria
