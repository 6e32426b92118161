// `cria pull` and -hf: a model from a Hugging Face repository into the local cache, and back out of it.
// The cache ($CRIA_CACHE, else $XDG_CACHE_HOME/cria, else ~/.cache/cria) holds USER/NAME/PATH for each file
// and USER/NAME/.cria-refs/TAG.json naming the files a reference resolved to, so that a cached model is
// used without the network (always with --offline; otherwise the listing is asked for again, and files
// already cached with the listed size are not downloaded again).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.h"
#include "hub/download.h"
#include "hub/hub_files.h"

namespace cria::hub {

std::filesystem::path default_cache_dir();

struct PullOptions {
  std::string endpoint;             // HF_ENDPOINT, else https://huggingface.co
  std::filesystem::path cache;      // default_cache_dir() when empty
  bool offline = false;
  std::string file;                 // --hf-file: this file of the repository instead of a quant
  DownloadOptions download;         // token, timeouts, retries, progress
  std::function<void(const std::string&)> note;  // one line per file: fetching, cached
};

// The endpoint and token from the environment (HF_ENDPOINT, HF_TOKEN) when the options leave them empty.
PullOptions pull_options_from_env(PullOptions options);

// Fetches (or finds) the model and returns the local path of its file (of the first shard when split).
Result<std::string> pull(const HubRef& ref, const PullOptions& options);

struct CachedFile {
  std::string repo, path, quant;
  uint64_t size = 0;
  std::filesystem::file_time_type last_used;
};
std::vector<CachedFile> list_cache(const std::filesystem::path& cache);
// Deletes the cached files of `ref` (all of the repository's without a tag); returns how many.
Result<int> remove_cached(const std::filesystem::path& cache, const HubRef& ref);

}  // namespace cria::hub
