// Fuzz target: any bytes given to the GGUF reader give a File or an Error, never a crash, a hang or a
// read outside the input. When a file parses, everything a caller may touch is touched.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = cria::gguf::File::parse(data, size, "fuzz.gguf");
  if (!file) return 0;
  for (const auto& [key, value] : file->metadata()) {
    (void)value.to_display_string(4);
  }
  std::vector<float> row;
  for (const auto& t : file->tensors()) {
    const auto& traits = t.traits();
    if (traits.dequantize == nullptr || t.ne[0] == 0 || t.n_rows() == 0) continue;
    // Decode the first row only: rows can be huge, and one row exercises every block layout.
    if (t.ne[0] > (1 << 20)) continue;
    row.resize(static_cast<size_t>(t.ne[0]));
    traits.dequantize(t.data, row.data(), t.ne[0]);
  }
  return 0;
}
