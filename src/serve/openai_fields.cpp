#include "serve/openai_fields.h"

#include <cmath>
#include <cstdio>

namespace cria::serve::detail {
namespace {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string range_text(const Range& r) {
  const bool has_lo = std::isfinite(r.lo), has_hi = std::isfinite(r.hi);
  if (has_lo && has_hi && !r.lo_open)
    return "a number between " + number_text(r.lo) + " and " + number_text(r.hi);
  if (has_lo && has_hi)
    return "a number greater than " + number_text(r.lo) + " and at most " + number_text(r.hi);
  if (has_lo)
    return std::string("a number ") + (r.lo_open ? "greater than " : "of at least ") + number_text(r.lo);
  if (has_hi) return "a number of at most " + number_text(r.hi);
  return "a number";
}

std::string int_range_text(int64_t lo, int64_t hi) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  if (lo == kMin && hi == kMax) return "an integer";
  if (hi == kMax) return "an integer of at least " + std::to_string(lo);
  return "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
}

}  // namespace

ApiError invalid(std::string_view param, std::string_view what, const Json& got) {
  std::string message = "'";
  message.append(param).append("' must be ").append(what).append(", got ").append(describe(got));
  return bad_request(std::move(message), std::string(param));
}

ApiError missing(std::string_view param) {
  std::string message = "'";
  message.append(param).append("' is required");
  return bad_request(std::move(message), std::string(param));
}

const Json* given(const Json& obj, std::string_view key) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Check read_bool(const Json& v, std::string_view param, bool& out) {
  if (!v.is_boolean()) return invalid(param, "a boolean", v);
  out = v.get<bool>();
  return std::nullopt;
}

Check read_string(const Json& v, std::string_view param, std::string& out) {
  if (!v.is_string()) return invalid(param, "a string", v);
  out = v.get_ref<const Json::string_t&>();
  return std::nullopt;
}

Check read_int(const Json& v, std::string_view param, int64_t lo, int64_t hi, int64_t& out) {
  bool fits = false;
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    fits = hi >= 0 && u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo;
    if (fits) out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    const auto s = v.get<int64_t>();
    fits = s >= lo && s <= hi;
    if (fits) out = s;
  }
  if (!fits) return invalid(param, int_range_text(lo, hi), v);
  return std::nullopt;
}

Check read_number(const Json& v, std::string_view param, const Range& range, double& out) {
  if (!v.is_number()) return invalid(param, range_text(range), v);
  const double d = v.get<double>();
  const bool above_lo = range.lo_open ? d > range.lo : d >= range.lo;
  if (!above_lo || !(d <= range.hi)) return invalid(param, range_text(range), v);
  out = d;
  return std::nullopt;
}

Check read_token_ids(const Json& v, std::string_view param, std::vector<int32_t>& out) {
  if (!v.is_array() || v.empty()) return invalid(param, "a non-empty array of token ids", v);
  out.clear();
  out.reserve(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    int64_t id = 0;
    if (auto e = read_int(v[k], indexed(param, k), 0, kMaxTokenId, id)) return e;
    out.push_back(static_cast<int32_t>(id));
  }
  return std::nullopt;
}

Check opt_bool(const Json& obj, std::string_view key, bool& out) {
  const Json* v = given(obj, key);
  return v ? read_bool(*v, key, out) : std::nullopt;
}

Check opt_string(const Json& obj, std::string_view key, std::string& out) {
  const Json* v = given(obj, key);
  return v ? read_string(*v, key, out) : std::nullopt;
}

Check opt_int(const Json& obj, std::string_view key, int64_t lo, int64_t hi, std::optional<int64_t>& out) {
  const Json* v = given(obj, key);
  if (v == nullptr) return std::nullopt;
  int64_t value = 0;
  if (auto e = read_int(*v, key, lo, hi, value)) return e;
  out = value;
  return std::nullopt;
}

Check opt_float(const Json& obj, std::string_view key, const Range& range, float& out) {
  const Json* v = given(obj, key);
  if (v == nullptr) return std::nullopt;
  double value = 0;
  if (auto e = read_number(*v, key, range, value)) return e;
  // Only an unbounded range lets through what a float cannot hold; such a value is no setting anyone meant.
  if (std::fabs(value) > std::numeric_limits<float>::max())
    return invalid(key, "a number that fits a float", *v);
  // A value just above an open bound can round onto it (top_p 1e-50 is a float 0): that is outside too.
  const float f = static_cast<float>(value);
  if (range.lo_open && !(f > range.lo)) return invalid(key, range_text(range), *v);
  out = f;
  return std::nullopt;
}

std::string indexed(std::string_view param, size_t index) {
  std::string out(param);
  return out.append("[").append(std::to_string(index)).append("]");
}

std::string member(std::string_view param, std::string_view key) {
  std::string out(param);
  return out.append(".").append(key);
}

}  // namespace cria::serve::detail
