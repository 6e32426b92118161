#include "hub/pull.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf_split.h"

namespace cria::hub {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

fs::path ref_manifest(const fs::path& cache, const HubRef& ref, const std::string& file) {
  const std::string name = !file.empty() ? "file-" + std::to_string(std::hash<std::string>{}(file)) : ref.tag.empty() ? "default" : upper(ref.tag);
  return cache / ref.repo / ".cria-refs" / (name + ".json");
}

// The files a reference resolved to before, if they are all still in the cache.
std::optional<std::vector<HubFile>> cached_resolution(const fs::path& cache, const HubRef& ref, const std::string& file) {
  std::ifstream in(ref_manifest(cache, ref, file));
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  const Json j = Json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) return std::nullopt;
  std::vector<HubFile> files;
  for (const Json& f : j) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string()) return std::nullopt;
    HubFile h{f["path"].get<std::string>(), f.value("size", uint64_t{0}), f.value("sha256", std::string())};
    std::error_code ec;
    const fs::path local = cache / ref.repo / h.path;
    if (!fs::exists(local, ec) || (h.size > 0 && fs::file_size(local, ec) != h.size)) return std::nullopt;
    files.push_back(std::move(h));
  }
  return files;
}

void remember(const fs::path& cache, const HubRef& ref, const std::string& file, const std::vector<HubFile>& files) {
  Json j = Json::array();
  for (const auto& f : files) j.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  std::error_code ec;
  const fs::path m = ref_manifest(cache, ref, file);
  fs::create_directories(m.parent_path(), ec);
  std::ofstream(m.string() + ".tmp") << j.dump();
  fs::rename(m.string() + ".tmp", m, ec);
}

std::string url_path(const std::string& p) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : p) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void touch(const fs::path& p) {
  std::error_code ec;
  fs::last_write_time(p, fs::file_time_type::clock::now(), ec);
}

}  // namespace

fs::path default_cache_dir() {
  if (std::string c = env("CRIA_CACHE"); !c.empty()) return c;
  if (std::string x = env("XDG_CACHE_HOME"); !x.empty()) return fs::path(x) / "cria";
  if (std::string h = env("HOME"); !h.empty()) return fs::path(h) / ".cache" / "cria";
  return fs::path(".cria-cache");
}

PullOptions pull_options_from_env(PullOptions o) {
  if (o.endpoint.empty()) o.endpoint = env("HF_ENDPOINT");
  if (o.endpoint.empty()) o.endpoint = "https://huggingface.co";
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.download.token.empty()) o.download.token = env("HF_TOKEN");
  if (o.cache.empty()) o.cache = default_cache_dir();
  return o;
}

Result<std::string> pull(const HubRef& ref, const PullOptions& o) {
  const fs::path repo_dir = o.cache / ref.repo;
  std::vector<HubFile> files;
  if (o.offline) {
    auto known = cached_resolution(o.cache, ref, o.file);
    if (!known) {
      return make_error(ref.repo + (ref.tag.empty() ? "" : ":" + ref.tag) + " is not in the cache (" + o.cache.string() +
                        ") and --offline forbids the network");
    }
    files = std::move(*known);
  } else {
    const std::string listing_url = o.endpoint + "/api/models/" + ref.repo + "/tree/main?recursive=true";
    // With a copy in the cache, one short attempt: an unreachable Hub must not hold up a model at hand.
    auto cached = cached_resolution(o.cache, ref, o.file);
    DownloadOptions ask = o.download;
    if (cached) {
      ask.retries = 0;
      ask.connect_timeout_s = std::min(ask.connect_timeout_s, 5L);
      ask.stall_timeout_s = std::min(ask.stall_timeout_s, 10L);
    }
    auto listing = fetch_text(listing_url, ask);
    if (!listing || listing->status != 200) {
      // No network, or the Hub refuses: a model fetched before is still usable.
      if (cached) {
        if (o.note) o.note("cannot reach the Hub (" + (listing ? http_status_message(listing->status, ref.repo) : listing.error().message) + "); using the cached copy");
        files = std::move(*cached);
      } else if (!listing) {
        return listing.error();
      } else {
        return make_error(http_status_message(listing->status, "repository " + ref.repo));
      }
    } else {
      auto all = parse_tree_listing(listing->body);
      if (!all) return make_error(ref.repo + ": " + all.error().message);
      if (!o.file.empty()) {
        auto it = std::find_if(all->begin(), all->end(), [&](const HubFile& f) { return f.path == o.file; });
        if (it == all->end()) return make_error(ref.repo + " has no file " + o.file);
        files = {*it};
        if (auto shard = gguf::parse_split_path(it->path); shard && shard->index == 0) {
          for (int i = 1; i < shard->count; ++i) {
            const std::string want = gguf::split_path(shard->prefix, i, shard->count);
            auto s = std::find_if(all->begin(), all->end(), [&](const HubFile& f) { return f.path == want; });
            if (s == all->end()) return make_error(ref.repo + ": the split model lacks " + want);
            files.push_back(*s);
          }
        }
      } else {
        auto chosen = choose_files(*all, ref);
        if (!chosen) return chosen.error();
        files = std::move(*chosen);
      }
      for (const HubFile& f : files) {
        const fs::path local = repo_dir / f.path;
        std::error_code ec;
        if (fs::exists(local, ec) && (f.size == 0 || fs::file_size(local, ec) == f.size)) {
          if (o.note) o.note(f.path + ": in the cache");
          continue;
        }
        if (o.note) o.note("fetching " + ref.repo + "/" + f.path);
        const std::string url = o.endpoint + "/" + ref.repo + "/resolve/main/" + url_path(f.path);
        if (auto st = download_file(url, local.string(), f.size, f.sha256, o.download); !st) return st.error();
      }
      remember(o.cache, ref, o.file, files);
    }
  }
  for (const HubFile& f : files) touch(repo_dir / f.path);
  return (repo_dir / files.front().path).string();
}

std::vector<CachedFile> list_cache(const fs::path& cache) {
  std::vector<CachedFile> out;
  std::error_code ec;
  if (!fs::is_directory(cache, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(cache, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const fs::path rel = fs::relative(it->path(), cache, ec);
    auto parts = rel.begin();
    if (std::distance(rel.begin(), rel.end()) < 3) continue;  // USER/NAME/FILE at least
    const std::string user = parts->string();
    const std::string name = (++parts)->string();
    fs::path inside;
    for (++parts; parts != rel.end(); ++parts) inside /= *parts;
    const std::string p = inside.generic_string();
    if (p.starts_with(".cria-refs") || !p.ends_with(".gguf")) continue;
    out.push_back({user + "/" + name, p, quant_tag(p), fs::file_size(it->path(), ec), fs::last_write_time(it->path(), ec)});
  }
  std::sort(out.begin(), out.end(), [](const CachedFile& a, const CachedFile& b) { return std::tie(a.repo, a.path) < std::tie(b.repo, b.path); });
  return out;
}

Result<int> remove_cached(const fs::path& cache, const HubRef& ref) {
  int removed = 0;
  std::error_code ec;
  for (const CachedFile& f : list_cache(cache)) {
    if (f.repo != ref.repo || (!ref.tag.empty() && f.quant != upper(ref.tag))) continue;
    if (fs::remove(cache / f.repo / f.path, ec)) ++removed;
  }
  if (removed == 0) return make_error("nothing cached for " + ref.repo + (ref.tag.empty() ? "" : ":" + ref.tag) + " in " + cache.string());
  // The references that named the removed files resolve again next time.
  fs::remove_all(cache / ref.repo / ".cria-refs", ec);
  return removed;
}

}  // namespace cria::hub
