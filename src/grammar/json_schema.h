// JSON Schema to a GBNF grammar (gbnf.h) whose sentences are JSON documents valid against the schema, for
// llama.cpp's --json-schema and OpenAI's response_format. Supported:
//   type (one or a list), enum, const, nullable;
//   objects: properties (in their order), required, additionalProperties (false or absent: no others;
//     true or a schema: other string keys after the listed ones);
//   arrays: items, minItems, maxItems; strings: minLength, maxLength, or pattern (the subset regex_gbnf.h
//     lists; not together with a length: bound it in the pattern);
//   integers: minimum, maximum, exclusiveMinimum, exclusiveMaximum (as digit patterns);
//   anyOf, oneOf (as alternatives: oneOf's exclusivity is not enforced), allOf of one schema;
//   $ref to "#", "#/$defs/NAME" or "#/definitions/NAME" (recursion allowed);
//   annotations, which change nothing: title, description, $schema, $id, $comment, examples, default,
//   deprecated, readOnly, writeOnly.
// Between tokens the grammar allows one space or one newline at most (no indentation), so that a model
// fond of whitespace cannot spend its budget on it.
// Anything else (format, minimum on a non-integer number, prefixItems, ...) is an error naming the
// keyword and where it is ("#/properties/age"), never silently ignored.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace cria::grammar {

// Properties keep the schema's order (an ordered_json keeps the order of the text it was parsed from).
// `root_name` names the document's rule (another name lets a caller embed it in a grammar of its own,
// whose rule names must then not start with "root").
Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema, const std::string& root_name = "root");

}  // namespace cria::grammar
