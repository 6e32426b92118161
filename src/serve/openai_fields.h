// Private helpers of the request parsers: typed reads of one JSON value with OpenAI-style errors
// ("'temperature' must be a number between 0 and 2, got \"hot\"", param "temperature").
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/openai_json.h"
#include "serve/openai_request.h"

namespace cria::serve::detail {

using Check = std::optional<ApiError>;  // an error, or none when the value was fine

constexpr int64_t kMaxTokenId = std::numeric_limits<int32_t>::max();

// "'param' must be <what>, got <value>".
ApiError invalid(std::string_view param, std::string_view what, const Json& got);
// "'param' is required".
ApiError missing(std::string_view param);

// The member `key` of the object `obj`, or nullptr when it is absent or null: OpenAI's optional fields
// take null for "not given".
const Json* given(const Json& obj, std::string_view key);

// Bounds of a number; an open end excludes its value, an infinite one is no bound.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;
};

Check read_bool(const Json& v, std::string_view param, bool& out);
Check read_string(const Json& v, std::string_view param, std::string& out);
// A JSON integer (never a float or a boolean) in [lo, hi].
Check read_int(const Json& v, std::string_view param, int64_t lo, int64_t hi, int64_t& out);
// A JSON number (integers too; never a boolean) within `range`.
Check read_number(const Json& v, std::string_view param, const Range& range, double& out);
// A non-empty array of token ids, each in [0, 2^31 - 1].
Check read_token_ids(const Json& v, std::string_view param, std::vector<int32_t>& out);

// Optional members of `obj`: `out` is left as it is when the member is absent or null.
Check opt_bool(const Json& obj, std::string_view key, bool& out);
Check opt_string(const Json& obj, std::string_view key, std::string& out);
Check opt_int(const Json& obj, std::string_view key, int64_t lo, int64_t hi, std::optional<int64_t>& out);
Check opt_float(const Json& obj, std::string_view key, const Range& range, float& out);

// "messages[3]", "messages[3].content[1]", ...
std::string indexed(std::string_view param, size_t index);
std::string member(std::string_view param, std::string_view key);

}  // namespace cria::serve::detail
