// Reading the small JSON files of a checkpoint (config.json, params.json, tokenizer_config.json...)
// and their fields with errors that name the file and the key.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/result.h"

namespace cria::convert {

using Json = nlohmann::json;

// The parsed file, which must hold a JSON object.
Result<Json> read_json_object(const std::filesystem::path& path);

// A required positive integer that fits in uint32 ("config.json: 'hidden_size' ...").
Result<uint32_t> require_count(const Json& object, const std::string& key, const std::string& file);
// The same when present; nullopt when absent or null.
Result<std::optional<uint32_t>> optional_count(const Json& object, const std::string& key, const std::string& file);
// A number when present (ints are accepted); nullopt when absent or null.
Result<std::optional<double>> optional_number(const Json& object, const std::string& key, const std::string& file);

}  // namespace cria::convert
