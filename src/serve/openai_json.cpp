#include "serve/openai_json.h"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cria::serve::detail {
namespace {

// Length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlong forms, surrogates or values
// above U+10FFFF, the same rules nlohmann's dump checks), or 0 when the byte there starts none.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // range of the first continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// Builds the value from nlohmann's SAX events. Each open container collects its children in a plain
// vector and becomes JSON when it closes, so children are moved, never copied (ordered_json's object
// storage copies its elements when it grows).
class BoundedBuilder {
 public:
  BoundedBuilder() { stack_.reserve(kMaxJsonDepth); }

  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t& /*text*/) { return put(Json(v)); }
  bool string(Json::string_t& v) { return put(Json(std::move(v))); }
  bool binary(Json::binary_t& /*v*/) { return false; }  // JSON text has no binary values

  bool start_object(std::size_t /*elements*/) { return open(true); }
  bool start_array(std::size_t /*elements*/) { return open(false); }

  bool key(Json::string_t& k) {
    Frame& f = stack_.back();
    // A short object is scanned; a long one gets a hash index once, then keeps it up to date.
    constexpr size_t kIndexFrom = 16;
    std::optional<size_t> existing;
    if (f.index.empty() && f.members.size() < kIndexFrom) {
      for (size_t m = 0; m < f.members.size(); ++m) {
        if (f.members[m].first == k) existing = m;
      }
    } else {
      if (f.index.empty()) {
        for (size_t m = 0; m < f.members.size(); ++m) f.index.emplace(f.members[m].first, m);
      }
      if (auto it = f.index.find(k); it != f.index.end()) existing = it->second;
    }
    if (existing) {
      f.pending = *existing;
      return true;
    }
    f.pending = f.members.size();
    if (!f.index.empty()) f.index.emplace(k, f.pending);
    f.members.emplace_back(std::move(k), nullptr);
    return true;
  }

  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...": the bracket
    // names nlohmann's internals, the rest is for the client. "last read" can quote a whole string.
    std::string_view what = ex.what();
    if (auto close = what.find("] "); what.starts_with("[json.exception.") && close != what.npos) {
      what.remove_prefix(close + 2);
    }
    constexpr size_t kMaxDetail = 240;
    std::string detail = valid_utf8(what.substr(0, kMaxDetail));
    if (what.size() > kMaxDetail) detail += "...";
    error_ = bad_request("the request body is not valid JSON: " + detail);
    return false;
  }

  std::optional<ApiError>& error() { return error_; }
  Json& root() { return root_; }

 private:
  struct Frame {
    bool object = false;
    std::vector<Json> items;                            // an array's elements
    std::vector<std::pair<std::string, Json>> members;  // an object's members, in first-seen order
    std::unordered_map<std::string, size_t> index;      // member positions, for long objects
    size_t pending = 0;                                 // the member the next value belongs to
  };

  bool open(bool object) {
    if (stack_.size() >= kMaxJsonDepth) {
      error_ = bad_request("the request body nests arrays and objects deeper than " +
                           std::to_string(kMaxJsonDepth) + " levels");
      return false;
    }
    stack_.emplace_back();
    stack_.back().object = object;
    return true;
  }

  bool close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    Json value;
    if (f.object) {
      value = Json::object();
      auto& map = value.get_ref<Json::object_t&>();
      map.reserve(f.members.size());
      for (auto& [k, v] : f.members) map.emplace_back(std::move(k), std::move(v));
    } else {
      value = Json::array();
      value.get_ref<Json::array_t&>() = std::move(f.items);
    }
    return put(std::move(value));
  }

  bool put(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
    } else if (Frame& f = stack_.back(); f.object) {
      f.members[f.pending].second = std::move(v);
    } else {
      f.items.push_back(std::move(v));
    }
    return true;
  }

  std::vector<Frame> stack_;
  Json root_;
  std::optional<ApiError> error_;
};

}  // namespace

std::variant<Json, ApiError> parse_json_body(std::string_view body) {
  // nlohmann's lexer takes a NUL byte for the end of the input, so "{}\0anything" would pass. JSON has no
  // place for a raw NUL (strings must escape it), so any is an error.
  if (const size_t nul = body.find('\0'); nul != body.npos) {
    return bad_request("the request body is not valid JSON: a NUL byte at offset " + std::to_string(nul));
  }
  BoundedBuilder builder;
  const bool ok = Json::sax_parse(body.data(), body.data() + body.size(), &builder);
  if (builder.error()) return *builder.error();
  if (!ok) return bad_request("the request body is not valid JSON");
  return std::move(builder.root());
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8_sequence(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8_sequence(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string dump_compact(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string describe(const Json& value, size_t limit) {
  std::string text = dump_compact(value);
  if (text.size() <= limit) return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  text.resize(cut);
  return text + "...";
}

}  // namespace cria::serve::detail
