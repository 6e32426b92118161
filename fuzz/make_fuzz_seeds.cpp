// make_fuzz_seeds OUT_DIR FILE...: for each GGUF file, writes a small copy that keeps its metadata (arrays
// cut to their first items) and its first tensors (cut to one row), so seeds look like real models.
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"

using namespace cria;

namespace {

gguf::Value shorten(const gguf::Value& v) {
  const auto* a = v.as_array();
  if (a == nullptr) return v;
  gguf::Array cut;
  cut.element_type = a->element_type;
  std::visit(
      [&cut](const auto& items) {
        using I = std::decay_t<decltype(items)>;
        if constexpr (!std::is_same_v<I, std::monostate>) {
          cut.items = I(items.begin(), items.begin() + static_cast<long>(std::min<size_t>(items.size(), 16)));
        }
      },
      a->items);
  return cut;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR FILE...\n");
    return 2;
  }
  const std::filesystem::path out_dir = argv[1];
  std::filesystem::create_directories(out_dir);
  int written = 0;
  for (int i = 2; i < argc; ++i) {
    auto file = gguf::File::open(argv[i]);
    if (!file) {
      std::fprintf(stderr, "skipping %s\n", file.error().message.c_str());
      continue;
    }
    gguf::Writer w;
    for (const auto& [key, value] : file->metadata()) w.set(key, shorten(value));
    int kept = 0;
    for (const auto& t : file->tensors()) {
      if (kept == 6) break;
      const auto status = w.add_tensor(t.name, t.type, {t.ne[0]}, std::span<const uint8_t>(t.data, t.row_bytes()));
      if (status) ++kept;
    }
    const auto out = out_dir / (std::filesystem::path(argv[i]).stem().string() + ".seed.gguf");
    if (auto status = w.write(out.string()); !status) {
      std::fprintf(stderr, "%s\n", status.error().message.c_str());
      return 1;
    }
    ++written;
  }
  std::printf("wrote %d seeds to %s\n", written, out_dir.c_str());
  return 0;
}
