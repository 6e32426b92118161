// Request bodies of the OpenAI-compatible API into typed requests. The shared readers live in
// openai_fields.cpp, the bounded JSON reader in openai_json.cpp.
#include "serve/openai_request.h"

#include <algorithm>
#include <array>
#include <exception>
#include <limits>
#include <new>

#include "grammar/json_schema.h"
#include "serve/openai_fields.h"
#include "serve/openai_json.h"

namespace cria::serve {

using detail::Check;
using detail::given;
using detail::indexed;
using detail::invalid;
using detail::Json;
using detail::member;
using detail::missing;
using detail::Range;

std::string error_json(const ApiError& error) {
  Json e = Json::object();
  e["message"] = error.message;
  e["type"] = error.type;
  e["param"] = error.param.empty() ? Json(nullptr) : Json(error.param);
  e["code"] = error.code.empty() ? Json(nullptr) : Json(error.code);
  Json body = Json::object();
  body["error"] = std::move(e);
  // Messages quote what the client sent (nlohmann's parse errors quote raw bytes): never throw on them.
  return detail::dump_compact(body);
}

ApiError bad_request(std::string message, std::string param) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

namespace {

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kMaxStops = 4;
constexpr size_t kMaxEmbeddingInputs = 2048;

// The body as a JSON object, or the error to answer with.
std::variant<Json, ApiError> parse_object(std::string_view body) {
  auto parsed = detail::parse_json_body(body);
  if (auto* error = std::get_if<ApiError>(&parsed)) return *error;
  Json& j = std::get<Json>(parsed);
  if (!j.is_object())
    return bad_request("the request body must be a JSON object, got " + detail::describe(j, 40));
  return std::move(j);
}

// Runs a parser so that nothing escapes: the parsers report every client error as a value, so what
// reaches here is memory running out (a huge body) or a bug; both answer 500 rather than end the server.
template <class T, class F>
Parsed<T> guarded(std::string_view body, F&& parse) noexcept {
  try {
    auto object = parse_object(body);
    if (auto* error = std::get_if<ApiError>(&object)) return *error;
    return parse(std::get<Json>(object));
  } catch (const std::bad_alloc&) {
    return ApiError{500, "out of memory while reading the request", "server_error", "", ""};
  } catch (const std::exception& e) {
    return ApiError{500, std::string("internal error while reading the request: ") + e.what(), "server_error",
                    "", ""};
  }
}

Check read_model(const Json& body, std::string& model) { return detail::opt_string(body, "model", model); }

// --- generation fields ---

Check read_length(const Json& body, GenerationFields& gen) {
  // llama.cpp's n_predict counts least, OpenAI's newer max_completion_tokens most; each must be valid.
  if (const Json* v = given(body, "n_predict")) {
    // Not `*v == -1`: nlohmann compares 2^64 - 1 (unsigned) with -1 through a cast and finds them equal.
    const bool unlimited = v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() == -1;
    int64_t n = 0;
    if (!unlimited && detail::read_int(*v, "n_predict", 1, kIntMax, n)) {
      return invalid("n_predict", "-1 (no limit) or an integer between 1 and 2147483647", *v);
    }
    gen.max_tokens = unlimited ? std::nullopt : std::optional<int>(static_cast<int>(n));
  }
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    std::optional<int64_t> n;
    if (auto e = detail::opt_int(body, key, 1, kIntMax, n)) return e;
    if (n) gen.max_tokens = static_cast<int>(*n);
  }
  return std::nullopt;
}

Check read_stop(const Json& body, std::vector<std::string>& stop) {
  const Json* v = given(body, "stop");
  if (v == nullptr) return std::nullopt;
  constexpr const char* kWhat = "a non-empty string or an array of up to 4 non-empty strings";
  if (v->is_string()) {
    if (v->get_ref<const Json::string_t&>().empty()) return invalid("stop", kWhat, *v);
    stop = {v->get<std::string>()};
    return std::nullopt;
  }
  if (!v->is_array() || v->size() > kMaxStops) return invalid("stop", kWhat, *v);
  stop.clear();
  for (size_t k = 0; k < v->size(); ++k) {
    const Json& s = (*v)[k];
    if (!s.is_string() || s.get_ref<const Json::string_t&>().empty()) {
      return invalid(indexed("stop", k), "a non-empty string", s);
    }
    stop.push_back(s.get<std::string>());
  }
  return std::nullopt;
}

Check read_stream(const Json& body, GenerationFields& gen) {
  if (auto e = detail::opt_bool(body, "stream", gen.stream)) return e;
  const Json* options = given(body, "stream_options");
  if (options == nullptr) return std::nullopt;
  if (!options->is_object()) return invalid("stream_options", "an object", *options);
  // As OpenAI: stream_options without a stream is a mistake worth telling, not something to ignore.
  if (!gen.stream)
    return bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options");
  if (const Json* usage = given(*options, "include_usage")) {
    if (auto e = detail::read_bool(*usage, "stream_options.include_usage", gen.include_usage)) return e;
  }
  return std::nullopt;
}

// llama-server's sampler fields beside the OpenAI ones: mirostat, typical-p, dynamic temperature, XTC, DRY
// and the chain's order (`samplers`: an array of names, or a string of names with ';' or letters).
Check read_llama_sampling(const Json& j, sampling::SamplingParams& p) {
  std::optional<int64_t> mirostat, allowed, last_n;
  if (auto e = detail::opt_int(j, "mirostat", 0, 2, mirostat)) return e;
  if (auto e = detail::opt_float(j, "mirostat_tau", Range{0, kInf}, p.mirostat_tau)) return e;
  if (auto e = detail::opt_float(j, "mirostat_eta", Range{0, kInf}, p.mirostat_eta)) return e;
  if (auto e = detail::opt_float(j, "typical_p", Range{0, 1, true}, p.typical_p)) return e;
  if (auto e = detail::opt_float(j, "dynatemp_range", Range{0, kInf}, p.dynatemp_range)) return e;
  if (auto e = detail::opt_float(j, "dynatemp_exponent", Range{0, kInf}, p.dynatemp_exponent)) return e;
  if (auto e = detail::opt_float(j, "xtc_probability", Range{0, 1}, p.xtc_probability)) return e;
  if (auto e = detail::opt_float(j, "xtc_threshold", Range{0, kInf}, p.xtc_threshold)) return e;
  if (auto e = detail::opt_float(j, "dry_multiplier", Range{0, kInf}, p.dry_multiplier)) return e;
  if (auto e = detail::opt_float(j, "dry_base", Range{0, kInf}, p.dry_base)) return e;
  if (auto e = detail::opt_int(j, "dry_allowed_length", 0, 1 << 20, allowed)) return e;
  if (auto e = detail::opt_int(j, "dry_penalty_last_n", -1, 1 << 30, last_n)) return e;
  if (mirostat) p.mirostat = static_cast<int>(*mirostat);
  if (allowed) p.dry_allowed_length = static_cast<int>(*allowed);
  if (last_n) p.dry_penalty_last_n = static_cast<int>(*last_n);
  if (const Json* breakers = detail::given(j, "dry_sequence_breakers")) {
    if (!breakers->is_array()) return detail::invalid("dry_sequence_breakers", "an array of strings", *breakers);
    p.dry_sequence_breakers.clear();
    for (size_t i = 0; i < breakers->size(); ++i) {
      std::string b;
      if (auto e = detail::read_string((*breakers)[i], detail::indexed("dry_sequence_breakers", i), b)) return e;
      p.dry_sequence_breakers.push_back(std::move(b));
    }
  }
  if (const Json* order = detail::given(j, "samplers")) {
    std::string text, bad;
    if (order->is_array()) {
      for (size_t i = 0; i < order->size(); ++i) {
        std::string name;
        if (auto e = detail::read_string((*order)[i], detail::indexed("samplers", i), name)) return e;
        text += (i ? ";" : "") + name;
      }
      bad = sampling::parse_stage_names(text, p.stages);
    } else if (order->is_string()) {
      text = order->get<std::string>();
      const bool names = text.find_first_of(";_") != std::string::npos || text == "dry" || text == "xtc";
      bad = names ? sampling::parse_stage_names(text, p.stages) : sampling::parse_stage_chars(text, p.stages);
    } else {
      return detail::invalid("samplers", "an array of sampler names or a string", *order);
    }
    if (!bad.empty()) return bad_request(bad, "samplers");
  }
  return std::nullopt;
}

Check read_generation(const Json& body, GenerationFields& gen) {
  if (auto e = read_length(body, gen)) return e;
  if (auto e = detail::opt_float(body, "temperature", Range{0, 2}, gen.temperature)) return e;
  if (auto e = detail::opt_float(body, "top_p", Range{0, 1, true}, gen.top_p)) return e;
  std::optional<int64_t> top_k;
  if (auto e = detail::opt_int(body, "top_k", 0, kIntMax, top_k)) return e;
  if (top_k) gen.top_k = static_cast<int>(*top_k);
  if (auto e = detail::opt_float(body, "min_p", Range{0, 1}, gen.min_p)) return e;
  if (auto e = detail::opt_float(body, "repeat_penalty", Range{0, kInf, true}, gen.repeat_penalty)) return e;
  if (auto e = detail::opt_float(body, "presence_penalty", Range{-2, 2}, gen.presence_penalty)) return e;
  if (auto e = detail::opt_float(body, "frequency_penalty", Range{-2, 2}, gen.frequency_penalty)) return e;
  if (const Json* seed = given(body, "seed")) {
    // Any 64-bit integer is accepted (clients pick them freely); the sampler's seed is 32 bits, so the
    // low 32 bits of the two's complement form are used: -1 becomes 4294967295.
    if (seed->is_number_unsigned()) {
      gen.seed = static_cast<uint32_t>(seed->get<uint64_t>());
    } else if (seed->is_number_integer()) {
      gen.seed = static_cast<uint32_t>(static_cast<uint64_t>(seed->get<int64_t>()));
    } else {
      return invalid("seed", "an integer", *seed);
    }
  }
  if (auto e = read_stop(body, gen.stop)) return e;
  std::optional<int64_t> n;
  if (auto e = detail::opt_int(body, "n", 1, 8, n)) return e;
  if (n) gen.n = static_cast<int>(*n);
  if (auto e = read_stream(body, gen)) return e;
  if (auto e = detail::opt_bool(body, "ignore_eos", gen.ignore_eos)) return e;
  std::string grammar;
  if (auto e = detail::opt_string(body, "grammar", grammar)) return e;
  if (!grammar.empty()) {
    auto g = grammar::parse_gbnf(grammar);
    if (!g) return bad_request("'grammar' is not a valid GBNF grammar: " + g.error().message, "grammar");
    gen.grammar = std::make_shared<const grammar::Grammar>(std::move(*g));
  }
  return read_llama_sampling(body, gen.llama_sampling);
}

// --- chat messages ---

constexpr std::array<std::string_view, 5> kRoles = {"system", "developer", "user", "assistant", "tool"};

// A content array's text parts joined with "\n"; any other part is an error, this model reads text only.
Check read_content_parts(const Json& parts, const std::string& param, std::string& out) {
  out.clear();
  for (size_t k = 0; k < parts.size(); ++k) {
    const Json& part = parts[k];
    const std::string part_param = indexed(param, k);
    if (!part.is_object()) return invalid(part_param, "a content part object", part);
    const Json* type = given(part, "type");
    if (type == nullptr) return missing(member(part_param, "type"));
    if (!type->is_string()) return invalid(member(part_param, "type"), "a string", *type);
    if (*type != "text") {
      const std::string type_param = member(part_param, "type");
      std::string message = "'";
      message.append(type_param).append("' is ").append(detail::describe(*type, 40));
      message.append(": this model takes text only, so content parts must be of type \"text\"");
      return bad_request(std::move(message), type_param);
    }
    const Json* text = given(part, "text");
    if (text == nullptr) return missing(member(part_param, "text"));
    if (!text->is_string()) return invalid(member(part_param, "text"), "a string", *text);
    if (k > 0) out += '\n';
    out += text->get_ref<const Json::string_t&>();
  }
  return std::nullopt;
}

Check read_message(const Json& m, const std::string& param, ChatMessage& out) {
  if (!m.is_object()) return invalid(param, "an object with 'role' and 'content'", m);
  const Json* role = given(m, "role");
  if (role == nullptr) return missing(member(param, "role"));
  const bool known =
      role->is_string() && std::find(kRoles.begin(), kRoles.end(), role->get<std::string>()) != kRoles.end();
  if (!known) {
    return invalid(member(param, "role"),
                   "one of \"system\", \"developer\", \"user\", \"assistant\" or \"tool\"", *role);
  }
  out.role = role->get<std::string>();

  const Json* tool_calls = given(m, "tool_calls");
  if (tool_calls != nullptr) {
    if (!tool_calls->is_array())
      return invalid(member(param, "tool_calls"), "an array of tool calls", *tool_calls);
    for (size_t k = 0; k < tool_calls->size(); ++k) {
      const Json& call = (*tool_calls)[k];
      if (!call.is_object())
        return invalid(indexed(member(param, "tool_calls"), k), "a tool call object", call);
    }
  }
  for (const char* key : {"name", "tool_call_id"}) {
    if (const Json* v = given(m, key); v != nullptr && !v->is_string())
      return invalid(member(param, key), "a string", *v);
  }

  out.raw = m;
  const std::string content_param = member(param, "content");
  const Json* content = given(m, "content");
  if (content == nullptr) {
    // Only an assistant turn that calls tools may come without text (OpenAI's rule).
    if (out.role != "assistant" || tool_calls == nullptr || tool_calls->empty()) {
      return missing(content_param);
    }
    out.content.clear();
  } else if (content->is_string()) {
    out.content = content->get<std::string>();
  } else if (content->is_array()) {
    if (auto e = read_content_parts(*content, content_param, out.content)) return e;
    out.raw["content"] = out.content;  // templates expect a string
  } else {
    return invalid(content_param, "a string or an array of content parts", *content);
  }
  return std::nullopt;
}

Check read_messages(const Json& body, std::vector<ChatMessage>& out) {
  const Json* messages = given(body, "messages");
  if (messages == nullptr) return missing("messages");
  if (!messages->is_array() || messages->empty())
    return invalid("messages", "a non-empty array of messages", *messages);
  out.clear();
  out.reserve(messages->size());
  for (size_t k = 0; k < messages->size(); ++k) {
    ChatMessage message;
    if (auto e = read_message((*messages)[k], indexed("messages", k), message)) return e;
    out.push_back(std::move(message));
  }
  return std::nullopt;
}

Check read_tools(const Json& body, ChatRequest& req) {
  if (const Json* tools = given(body, "tools")) {
    if (!tools->is_array()) return invalid("tools", "an array of tools", *tools);
    for (size_t k = 0; k < tools->size(); ++k) {
      if (!(*tools)[k].is_object()) return invalid(indexed("tools", k), "a tool object", (*tools)[k]);
    }
    req.tools = *tools;
  }
  if (const Json* choice = given(body, "tool_choice")) {
    const bool known_mode =
        choice->is_string() && (*choice == "none" || *choice == "auto" || *choice == "required");
    if (!known_mode && !choice->is_object()) {
      return invalid("tool_choice", "\"none\", \"auto\", \"required\" or an object naming a tool", *choice);
    }
    req.tool_choice = *choice;
  }
  return std::nullopt;
}

// A JSON Schema's grammar for gen.grammar, or a 400 naming `param` and the schema's problem.
Check schema_grammar(const Json& schema, const std::string& param, GenerationFields& gen) {
  if (gen.grammar) return bad_request("give one of 'grammar', 'json_schema' and 'response_format'", param);
  auto text = grammar::json_schema_to_gbnf(schema);
  if (!text) return bad_request("'" + param + "': " + text.error().message, param);
  auto g = grammar::parse_gbnf(*text);
  if (!g) return bad_request("'" + param + "': the schema's grammar is not valid: " + g.error().message, param);
  gen.grammar = std::make_shared<const grammar::Grammar>(std::move(*g));
  return std::nullopt;
}

// OpenAI's response_format: "text", "json_object" (any JSON object) or "json_schema" (json_schema.schema),
// and llama-server's "json_schema" field; each becomes the request's grammar.
Check read_response_format(const Json& body, GenerationFields& gen) {
  if (const Json* schema = given(body, "json_schema")) {
    if (auto e = schema_grammar(*schema, "json_schema", gen)) return e;
  }
  const Json* format = given(body, "response_format");
  if (format == nullptr) return std::nullopt;
  if (!format->is_object()) return invalid("response_format", "an object", *format);
  const Json* type = given(*format, "type");
  if (type == nullptr) return missing("response_format.type");
  if (!type->is_string()) return invalid("response_format.type", "a string", *type);
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") return schema_grammar(Json{{"type", "object"}, {"additionalProperties", true}}, "response_format", gen);
  if (*type == "json_schema") {
    const Json* spec = given(*format, "json_schema");
    if (spec == nullptr) return missing("response_format.json_schema");
    if (!spec->is_object()) return invalid("response_format.json_schema", "an object", *spec);
    const Json* schema = given(*spec, "schema");
    if (schema == nullptr) return missing("response_format.json_schema.schema");
    return schema_grammar(*schema, "response_format.json_schema.schema", gen);
  }
  return bad_request("response_format type " + type->get<std::string>() +
                         " is not supported (text, json_object or json_schema)",
                     "response_format.type");
}

Check read_chat_logprobs(const Json& body, ChatRequest& req) {
  if (auto e = detail::opt_bool(body, "logprobs", req.logprobs)) return e;
  std::optional<int64_t> top;
  if (auto e = detail::opt_int(body, "top_logprobs", 0, 20, top)) return e;
  if (top) {
    if (!req.logprobs) return bad_request("'top_logprobs' needs 'logprobs' set to true", "top_logprobs");
    req.top_logprobs = static_cast<int>(*top);
  }
  return std::nullopt;
}

// --- prompts and inputs ---

using PromptValue = std::variant<std::string, std::vector<int32_t>>;

// One prompt: a string or a list of token ids, perhaps wrapped in a one-element list.
Check read_prompt(const Json& body, PromptValue& out) {
  const Json* prompt = given(body, "prompt");
  if (prompt == nullptr) return missing("prompt");
  constexpr const char* kWhat = "a string or an array of token ids";
  if (prompt->is_string()) {
    out = prompt->get<std::string>();
    return std::nullopt;
  }
  if (!prompt->is_array() || prompt->empty()) return invalid("prompt", kWhat, *prompt);
  const Json& first = prompt->front();
  if (first.is_number()) {
    std::vector<int32_t> ids;
    if (auto e = detail::read_token_ids(*prompt, "prompt", ids)) return e;
    out = std::move(ids);
    return std::nullopt;
  }
  if (!first.is_string() && !first.is_array()) return invalid("prompt[0]", kWhat, first);
  if (prompt->size() > 1) {
    return bad_request("one prompt per request is supported; got " + std::to_string(prompt->size()),
                       "prompt");
  }
  if (first.is_string()) {
    out = first.get<std::string>();
    return std::nullopt;
  }
  std::vector<int32_t> ids;
  if (auto e = detail::read_token_ids(first, "prompt[0]", ids)) return e;
  out = std::move(ids);
  return std::nullopt;
}

Check read_embedding_input(const Json& value, const std::string& param, PromptValue& out) {
  if (value.is_string()) {
    if (value.get_ref<const Json::string_t&>().empty()) return invalid(param, "a non-empty string", value);
    out = value.get<std::string>();
    return std::nullopt;
  }
  std::vector<int32_t> ids;
  if (auto e = detail::read_token_ids(value, param, ids)) return e;
  out = std::move(ids);
  return std::nullopt;
}

Check read_embedding_inputs(const Json& body, std::vector<PromptValue>& out) {
  const Json* input = given(body, "input");
  if (input == nullptr) return missing("input");
  constexpr const char* kWhat =
      "a string, an array of strings, an array of token ids or an array of such arrays";
  out.clear();
  if (input->is_string()) {
    out.emplace_back();
    return read_embedding_input(*input, "input", out.back());
  }
  if (!input->is_array() || input->empty()) return invalid("input", kWhat, *input);
  if (input->front().is_number()) {  // one list of token ids
    out.emplace_back();
    return read_embedding_input(*input, "input", out.back());
  }
  if (input->size() > kMaxEmbeddingInputs) {
    return bad_request("'input' may hold at most 2048 inputs, got " + std::to_string(input->size()), "input");
  }
  out.reserve(input->size());
  for (size_t k = 0; k < input->size(); ++k) {
    const Json& item = (*input)[k];
    if (!item.is_string() && !item.is_array())
      return invalid(indexed("input", k), "a string or an array of token ids", item);
    out.emplace_back();
    if (auto e = read_embedding_input(item, indexed("input", k), out.back())) return e;
  }
  return std::nullopt;
}

}  // namespace

Parsed<ChatRequest> parse_chat_request(std::string_view body) {
  return guarded<ChatRequest>(body, [](const Json& j) -> Parsed<ChatRequest> {
    ChatRequest req;
    if (auto e = read_model(j, req.model)) return *e;
    if (auto e = read_messages(j, req.messages)) return *e;
    if (auto e = read_generation(j, req.gen)) return *e;
    if (auto e = read_chat_logprobs(j, req)) return *e;
    if (auto e = read_tools(j, req)) return *e;
    if (auto e = read_response_format(j, req.gen)) return *e;
    return req;
  });
}

Parsed<CompletionRequest> parse_completion_request(std::string_view body) {
  return guarded<CompletionRequest>(body, [](const Json& j) -> Parsed<CompletionRequest> {
    CompletionRequest req;
    if (auto e = read_model(j, req.model)) return *e;
    if (auto e = read_prompt(j, req.prompt)) return *e;
    if (auto e = read_generation(j, req.gen)) return *e;
    if (auto e = detail::opt_bool(j, "echo", req.echo)) return *e;
    std::optional<int64_t> logprobs;
    if (auto e = detail::opt_int(j, "logprobs", 0, 5, logprobs)) return *e;
    if (logprobs) req.logprobs = static_cast<int>(*logprobs);
    if (auto e = read_response_format(j, req.gen)) return *e;
    return req;
  });
}

Parsed<EmbeddingRequest> parse_embedding_request(std::string_view body) {
  return guarded<EmbeddingRequest>(body, [](const Json& j) -> Parsed<EmbeddingRequest> {
    EmbeddingRequest req;
    if (auto e = read_model(j, req.model)) return *e;
    if (auto e = read_embedding_inputs(j, req.inputs)) return *e;
    if (const Json* format = given(j, "encoding_format")) {
      if (*format != "float" && *format != "base64") {
        return invalid("encoding_format", "\"float\" or \"base64\"", *format);
      }
      req.encoding_format = format->get<std::string>();
    }
    // OpenAI's newer models shorten vectors on request; this model's size is fixed, so say so rather
    // than answer with vectors of another length than asked for.
    if (given(j, "dimensions") != nullptr) {
      return bad_request("'dimensions' is not supported: this model's embeddings have a fixed size",
                         "dimensions");
    }
    return req;
  });
}

Parsed<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  return guarded<TokenizeRequest>(body, [](const Json& j) -> Parsed<TokenizeRequest> {
    TokenizeRequest req;
    const Json* content = given(j, "content");
    if (content == nullptr) return missing("content");
    if (auto e = detail::read_string(*content, "content", req.content)) return *e;
    if (auto e = detail::opt_bool(j, "add_special", req.add_special)) return *e;
    if (auto e = detail::opt_bool(j, "with_pieces", req.with_pieces)) return *e;
    return req;
  });
}

Parsed<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  return guarded<DetokenizeRequest>(body, [](const Json& j) -> Parsed<DetokenizeRequest> {
    DetokenizeRequest req;
    const Json* tokens = given(j, "tokens");
    if (tokens == nullptr) return missing("tokens");
    // An empty list is fine here: it detokenizes to "".
    if (tokens->is_array() && tokens->empty()) return req;
    if (auto e = detail::read_token_ids(*tokens, "tokens", req.tokens)) return *e;
    return req;
  });
}

Parsed<ApplyTemplateRequest> parse_apply_template_request(std::string_view body) {
  return guarded<ApplyTemplateRequest>(body, [](const Json& j) -> Parsed<ApplyTemplateRequest> {
    ApplyTemplateRequest req;
    if (auto e = read_messages(j, req.messages)) return *e;
    return req;
  });
}

nlohmann::ordered_json template_messages(const std::vector<ChatMessage>& messages) {
  Json out = Json::array();
  for (const auto& m : messages) {
    if (m.raw.is_object()) {
      out.push_back(m.raw);
    } else {  // built in code rather than parsed
      out.push_back(Json{{"role", m.role}, {"content", m.content}});
    }
  }
  return out;
}

}  // namespace cria::serve
