#include "gguf/gguf_split.h"

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <span>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"

namespace cria::gguf {

std::string split_path(const std::string& prefix, int index, int count) {
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", index + 1, count);
  return prefix + suffix;
}

std::optional<SplitName> parse_split_path(std::string_view path) {
  // -NNNNN-of-NNNNN.gguf: 20 characters (counts of more than five digits are not written by llama.cpp).
  constexpr std::string_view kTail = ".gguf";
  if (path.size() < 20 || !path.ends_with(kTail)) return std::nullopt;
  const std::string_view s = path.substr(path.size() - 20);
  auto digits = [](std::string_view d, int& out) {
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  };
  SplitName n;
  int no = 0;
  if (s[0] != '-' || s.substr(6, 4) != "-of-" || !digits(s.substr(1, 5), no) || !digits(s.substr(10, 5), n.count)) {
    return std::nullopt;
  }
  if (no < 1 || n.count < 1 || no > n.count) return std::nullopt;
  n.index = no - 1;
  n.prefix = std::string(path.substr(0, path.size() - 20));
  return n;
}

}  // namespace cria::gguf

namespace cria::gguf {

namespace {

uint64_t pad32(uint64_t n) { return (n + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment; }

// Dimensions as ggml writes them: trailing 1s dropped (at least one).
std::vector<int64_t> dims(const TensorInfo& t) {
  size_t n = 4;
  while (n > 1 && t.ne[n - 1] == 1) --n;
  return {t.ne.begin(), t.ne.begin() + static_cast<std::ptrdiff_t>(n)};
}

Status add(Writer& w, const TensorInfo& t) {
  return w.add_tensor(t.name, t.type, dims(t), std::span<const uint8_t>(t.data, t.n_bytes));
}

void set_split_keys(Writer& w, int index, int count, int n_tensors) {
  // Each set moves its key to the end (gguf's setters remove, then append).
  for (std::string_view key : {kSplitNo, kSplitTensorsCount, kSplitCount}) w.remove(std::string(key));
  w.set(std::string(kSplitNo), static_cast<uint16_t>(index));
  w.set(std::string(kSplitTensorsCount), static_cast<int32_t>(n_tensors));
  w.set(std::string(kSplitCount), static_cast<uint16_t>(count));
}

}  // namespace

Result<uint64_t> parse_split_size(std::string_view text) {
  if (text.size() < 2) return make_error("split size '" + std::string(text) + "': expected a number and M or G, e.g. 2G");
  const char unit = text.back();
  if (unit != 'M' && unit != 'G') {
    return make_error("split size '" + std::string(text) + "': supported units are M (megabytes) or G (gigabytes)");
  }
  uint64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9' || n > (uint64_t{1} << 40)) return make_error("split size '" + std::string(text) + "': not a whole number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) return make_error("split size '" + std::string(text) + "': must be positive");
  return n * (unit == 'M' ? 1000'000ull : 1000'000'000ull);
}

Result<std::vector<int>> plan_split(const File& in, const SplitOptions& o) {
  if (o.max_bytes == 0 && o.max_tensors < 1) return make_error("--split-max-tensors must be at least 1");
  const auto& tensors = in.tensors();
  std::vector<int> shard(tensors.size());
  int current = o.no_tensor_first ? 1 : 0;
  std::vector<int> counts(1 + static_cast<size_t>(current), 0);
  uint64_t size = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = pad32(tensors[i].n_bytes);
    const bool next = o.max_bytes > 0 ? size + n > o.max_bytes : i > 0 && i % static_cast<size_t>(o.max_tensors) == 0;
    if (next) {
      ++current;
      counts.push_back(0);
      size = n;
    } else {
      size += n;
    }
    shard[i] = current;
    ++counts[static_cast<size_t>(current)];
  }
  for (size_t s = o.no_tensor_first ? 1 : 0; s < counts.size(); ++s) {
    if (counts[s] == 0) {
      return make_error("shard " + std::to_string(s + 1) + " would hold no tensor (the first tensor, '" +
                        (tensors.empty() ? std::string() : tensors[0].name) + "', is " +
                        std::to_string(tensors.empty() ? 0 : tensors[0].n_bytes) + " bytes): the size limit is too small");
    }
  }
  if (counts.size() > 99999) return make_error("more than 99999 shards");
  return shard;
}

Result<std::vector<std::string>> split_gguf(const File& in, const SplitOptions& options, const std::string& prefix) {
  auto plan = plan_split(in, options);
  if (!plan) return plan.error();
  const int n_shards = plan->empty() ? 1 : plan->back() + 1;
  const int n_tensors = static_cast<int>(in.tensors().size());
  std::vector<std::string> paths;
  for (int s = 0; s < n_shards; ++s) {
    Writer w;
    if (s == 0) {
      // general.alignment is copied and followed (llama-gguf-split copies it but pads to 32 whatever it
      // says, which breaks files that ask for another alignment; with 32 the bytes are the same).
      for (const auto& [key, value] : in.metadata()) w.set(key, value);
    }
    set_split_keys(w, s, n_shards, n_tensors);
    for (size_t i = 0; i < plan->size(); ++i) {
      if ((*plan)[i] != s) continue;
      if (auto st = add(w, in.tensors()[i]); !st) return st.error();
    }
    paths.push_back(split_path(prefix, s, n_shards));
    if (auto st = w.write(paths.back()); !st) return st.error();
  }
  return paths;
}

Status merge_gguf(const File& first, const std::string& out) {
  if (std::filesystem::exists(out)) return make_error(out + ": the output file already exists");
  if (first.n_shards() < 2) return make_error(first.path() + ": not the first shard of a split model (split.count below 2)");
  Writer w;
  for (const auto& [key, value] : first.metadata()) {
    if (key == kSplitCount) continue;
    w.set(key, value);
  }
  w.set(std::string(kSplitCount), static_cast<uint16_t>(0));
  for (const TensorInfo& t : first.tensors()) {
    if (auto st = add(w, t); !st) return st;
  }
  return w.write(out);
}

}  // namespace cria::gguf
