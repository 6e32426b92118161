// Which files of a Hugging Face repository `cria pull user/repo[:QUANT]` fetches (as llama.cpp's -hf and
// ollama pull choose them): the repository's listing (the Hub's /api/models/REPO/tree/main?recursive=true),
// the quantization named in each GGUF file's name, and the choice: the files whose quant is QUANT
// (case-insensitive), or without one Q4_K_M, else Q4_K_S, Q5_K_M, Q8_0, else the smallest model; a split
// model's shards (NAME-0000i-of-0000N.gguf) count as one model and are all fetched. Vision projectors
// (mmproj) are never chosen.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cria::hub {

struct HubFile {
  std::string path;    // in the repository ("sub/dir/name.gguf")
  uint64_t size = 0;
  std::string sha256;  // the LFS object id (hex), "" for a file kept in git itself
};

struct HubRef {
  std::string repo;  // "user/name"
  std::string tag;   // "Q4_K_M", or "" for the default choice
};

// "user/name" or "user/name:TAG"; a bad name is an error saying what is wrong.
Result<HubRef> parse_hub_ref(std::string_view text);

// The Hub's tree listing (a JSON array of {type, path, size, oid, lfs: {oid, size}}) to files.
Result<std::vector<HubFile>> parse_tree_listing(std::string_view json);

// The quantization in a file name ("Q4_K_M" from "llama-2-7b.Q4_K_M.gguf", "F16", "IQ4_XS"), upper case;
// "" when the name has none.
std::string quant_tag(std::string_view file_name);

// The files to fetch for `ref` from `files`: one GGUF file, or every shard of a split one, in order. An
// unknown quant is an error listing the quants the repository has.
Result<std::vector<HubFile>> choose_files(const std::vector<HubFile>& files, const HubRef& ref);

}  // namespace cria::hub
