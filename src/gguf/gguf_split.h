// Split GGUF models, as llama-gguf-split writes them: shards named PREFIX-00001-of-0000N.gguf (1-based),
// each a complete GGUF file with `split.no` (UINT16, 0-based), `split.count` (UINT16) and, in every shard,
// `split.tensors.count` (INT32, the tensors of all shards); the first shard holds the model's metadata.
// File::open on the first shard opens the rest (gguf_reader.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cria::gguf {

class File;

inline constexpr std::string_view kSplitNo = "split.no";
inline constexpr std::string_view kSplitCount = "split.count";
inline constexpr std::string_view kSplitTensorsCount = "split.tensors.count";

// "PREFIX-00002-of-00003.gguf" for shard `index` (0-based) of `count`.
std::string split_path(const std::string& prefix, int index, int count);

struct SplitName {
  std::string prefix;  // the path without "-NNNNN-of-NNNNN.gguf"
  int index = 0;       // 0-based
  int count = 0;
};
// The parts of a shard's path, if it is named like one.
std::optional<SplitName> parse_split_path(std::string_view path);

// llama-gguf-split --split, byte for byte: tensors in order, a new shard before a tensor that would take
// the current one past max_bytes (data only, each padded to 32 bytes) or every max_tensors tensors (128
// by default); shard 0 has the input's metadata (version 3, alignment 32) then split.no, split.tensors.count
// and split.count; the others only those three; files PREFIX-00001-of-0000N.gguf.
struct SplitOptions {
  int max_tensors = 128;        // used when max_bytes is 0
  uint64_t max_bytes = 0;
  bool no_tensor_first = false;  // shard 0 holds the metadata alone (--no-tensor-first-split)
};
// "500M", "2G" (llama-gguf-split's units: 1000^2 and 1000^3 bytes).
Result<uint64_t> parse_split_size(std::string_view text);
// Which shard each tensor goes to (an error when a shard would be empty).
Result<std::vector<int>> plan_split(const File& in, const SplitOptions& options);
// Writes the shards; returns their paths.
Result<std::vector<std::string>> split_gguf(const File& in, const SplitOptions& options, const std::string& prefix);

// llama-gguf-split --merge: the first shard's metadata (split.count moved last, set to 0, as it does) and
// every shard's tensors, in one file (which must not exist yet).
Status merge_gguf(const File& first_shard, const std::string& out);

}  // namespace cria::gguf
