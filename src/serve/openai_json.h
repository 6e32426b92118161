// Private helpers of the OpenAI protocol layer: reading an untrusted body into JSON with bounded depth
// and linear time, making strings safe to dump, and describing a value in an error message.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "serve/openai_request.h"

namespace cria::serve::detail {

using Json = nlohmann::ordered_json;

// Deeper bodies are refused before anything recursive (copies, dumps, templates) touches them; real
// requests, tool schemas included, stay far below.
constexpr size_t kMaxJsonDepth = 128;

// Parses a request body: any JSON value, or an ApiError (400) saying why not (syntax, overflow, depth).
// Object keys are found through a hash once an object grows, so a body with many keys stays linear
// (ordered_json's own lookup is a scan); a repeated key keeps its first place and its last value, as
// Python's json does.
std::variant<Json, ApiError> parse_json_body(std::string_view body);

// `text` with every byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD, so that
// the JSON holding it can be dumped with the default (throwing) error handler.
std::string valid_utf8(std::string_view text);
bool is_valid_utf8(std::string_view text);

// Compact JSON that never throws on invalid UTF-8 (such bytes become U+FFFD).
std::string dump_compact(const Json& j);

// The value as JSON, cut to about `limit` bytes on a character boundary ("..." marks the cut), for
// "got ..." in messages.
std::string describe(const Json& value, size_t limit = 80);

}  // namespace cria::serve::detail
