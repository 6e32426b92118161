#include "convert/json_file.h"

#include <fstream>
#include <sstream>

namespace cria::convert {

Result<Json> read_json_object(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, false);
  if (json.is_discarded()) return make_error(path.string() + ": not valid JSON");
  if (!json.is_object()) return make_error(path.string() + ": expected a JSON object");
  return json;
}

Result<std::optional<uint32_t>> optional_count(const Json& object, const std::string& key, const std::string& file) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<uint32_t>();
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > UINT32_MAX) {
    return make_error(file + ": '" + key + "' must be a positive integer, got " + it->dump());
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(it->get<int64_t>()));
}

Result<uint32_t> require_count(const Json& object, const std::string& key, const std::string& file) {
  auto value = optional_count(object, key, file);
  if (!value) return value.error();
  if (!value->has_value()) return make_error(file + ": required key '" + key + "' is missing");
  return **value;
}

Result<std::optional<double>> optional_number(const Json& object, const std::string& key, const std::string& file) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) return make_error(file + ": '" + key + "' must be a number, got " + it->dump());
  return std::optional<double>(it->get<double>());
}

}  // namespace cria::convert
