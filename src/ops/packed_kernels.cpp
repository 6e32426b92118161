#include "ops/packed_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "ops/kernel_set.h"

namespace cria::ops {

namespace {
std::atomic<bool>& repacking() {
  static std::atomic<bool> enabled = [] {
    const char* env = std::getenv("CRIA_REPACK");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return enabled;
}
}  // namespace

bool repacking_enabled() { return repacking().load(std::memory_order_relaxed); }
void set_repacking(bool enabled) { repacking().store(enabled, std::memory_order_relaxed); }

const PackedKernel* packed_kernel(Isa isa, TensorType type) {
  if (!repacking_enabled()) return nullptr;
  return best_kernel(isa, [type](const KernelSet& set) { return set.packed != nullptr ? set.packed(type) : nullptr; });
}

}  // namespace cria::ops
