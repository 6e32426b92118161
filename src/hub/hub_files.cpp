#include "hub/hub_files.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "gguf/gguf_split.h"

namespace cria::hub {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

std::string base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// One model of the repository: a file, or a split model's shards in order.
struct Candidate {
  std::vector<HubFile> files;
  std::string tag;
  uint64_t size = 0;
};

}  // namespace

Result<HubRef> parse_hub_ref(std::string_view text) {
  HubRef ref;
  const size_t colon = text.find(':');
  ref.repo = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) ref.tag = std::string(text.substr(colon + 1));
  const size_t slash = ref.repo.find('/');
  const bool shape = slash != std::string::npos && slash > 0 && slash + 1 < ref.repo.size() &&
                     ref.repo.find('/', slash + 1) == std::string::npos;
  const bool chars = std::all_of(ref.repo.begin(), ref.repo.end(), [](char c) { return name_char(c) || c == '/'; });
  if (!shape || !chars || ref.repo.size() > 96 || ref.repo.find("..") != std::string::npos) {
    return make_error("'" + std::string(text) + "' is not a Hugging Face repository: expected user/name or user/name:QUANT "
                      "(letters, digits, '-', '_' and '.')");
  }
  if (colon != std::string_view::npos && (ref.tag.empty() || !std::all_of(ref.tag.begin(), ref.tag.end(), name_char))) {
    return make_error("'" + std::string(text) + "': the quant after ':' must be a name such as Q4_K_M");
  }
  return ref;
}

Result<std::vector<HubFile>> parse_tree_listing(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return make_error("the Hub's file listing is not a JSON array");
  std::vector<HubFile> out;
  for (const auto& e : j) {
    if (!e.is_object() || e.value("type", "") != "file" || !e.contains("path") || !e["path"].is_string()) continue;
    HubFile f;
    f.path = e["path"].get<std::string>();
    if (e.contains("size") && e["size"].is_number_unsigned()) f.size = e["size"].get<uint64_t>();
    if (e.contains("lfs") && e["lfs"].is_object()) {
      const auto& lfs = e["lfs"];
      if (lfs.contains("oid") && lfs["oid"].is_string()) f.sha256 = lfs["oid"].get<std::string>();
      if (lfs.contains("size") && lfs["size"].is_number_unsigned()) f.size = lfs["size"].get<uint64_t>();
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string quant_tag(std::string_view file_name) {
  static const char* kTags[] = {"Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "IQ2_XXS", "IQ3_XXS", "Q3_K_XL", "Q4_K_XL", "Q5_K_XL",
                                "Q6_K_XL", "Q2_K_XL", "Q8_K_XL", "IQ1_S", "IQ1_M", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XS",
                                "IQ3_S", "IQ3_M", "IQ4_XS", "IQ4_NL", "Q2_K_S", "Q2_K_L", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                "Q4_K_S", "Q4_K_M", "Q4_K_L", "Q5_K_S", "Q5_K_M", "Q5_K_L", "Q6_K_L", "TQ1_0", "TQ2_0",
                                "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16",
                                "F16", "F32"};
  const std::string name = upper(base_name(file_name));
  auto boundary = [&](size_t at) { return at >= name.size() || name[at] == '.' || name[at] == '-' || name[at] == '_'; };
  // The longest known tag standing as a word of the name (between '.', '-', '_' or the ends).
  std::string best;
  for (const char* tag : kTags) {
    const std::string t = tag;
    for (size_t at = name.find(t); at != std::string::npos; at = name.find(t, at + 1)) {
      if ((at == 0 || boundary(at - 1)) && boundary(at + t.size()) && t.size() > best.size()) best = t;
    }
  }
  return best;
}

Result<std::vector<HubFile>> choose_files(const std::vector<HubFile>& files, const HubRef& ref) {
  std::vector<Candidate> models;
  std::map<std::string, size_t> split_index;  // shard prefix -> models index
  for (const HubFile& f : files) {
    const std::string name = base_name(f.path);
    if (upper(name).size() < 5 || upper(name).substr(upper(name).size() - 5) != ".GGUF") continue;
    if (upper(name).find("MMPROJ") != std::string::npos) continue;
    if (auto shard = gguf::parse_split_path(f.path)) {
      const std::string key = shard->prefix + "/" + std::to_string(shard->count);
      auto [it, added] = split_index.emplace(key, models.size());
      if (added) models.push_back({});
      Candidate& c = models[it->second];
      c.files.push_back(f);
      c.size += f.size;
      continue;
    }
    models.push_back({{f}, quant_tag(name), f.size});
  }
  for (auto& [key, index] : split_index) {
    Candidate& c = models[index];
    std::sort(c.files.begin(), c.files.end(), [](const HubFile& a, const HubFile& b) { return a.path < b.path; });
    const auto first = gguf::parse_split_path(c.files[0].path);
    for (size_t i = 0; i < c.files.size() || static_cast<int>(i) < first->count; ++i) {
      const std::string want = gguf::split_path(first->prefix, static_cast<int>(i), first->count);
      if (i >= c.files.size() || c.files[i].path != want) {
        return make_error(ref.repo + ": the split model " + first->prefix + " lacks " + base_name(want));
      }
    }
    c.tag = quant_tag(base_name(first->prefix));
  }
  if (models.empty()) return make_error(ref.repo + " has no GGUF file");
  const Candidate* chosen = nullptr;
  if (!ref.tag.empty()) {
    const std::string want = upper(ref.tag);
    for (const Candidate& c : models) {
      if (c.tag == want) {
        chosen = &c;
        break;
      }
    }
    if (chosen == nullptr) {
      std::set<std::string> tags;
      for (const Candidate& c : models) tags.insert(c.tag.empty() ? base_name(c.files[0].path) : c.tag);
      std::string list;
      for (const auto& t : tags) list += (list.empty() ? "" : ", ") + t;
      return make_error(ref.repo + " has no " + ref.tag + " file; it has: " + list);
    }
  } else {
    for (const char* preferred : {"Q4_K_M", "Q4_K_S", "Q5_K_M", "Q8_0"}) {
      for (const Candidate& c : models) {
        if (c.tag == preferred) {
          chosen = &c;
          break;
        }
      }
      if (chosen != nullptr) break;
    }
    if (chosen == nullptr) {
      chosen = &*std::min_element(models.begin(), models.end(), [](const Candidate& a, const Candidate& b) { return a.size < b.size; });
    }
  }
  return chosen->files;
}

}  // namespace cria::hub
