#include "tokenizer/unicode.h"

#include <algorithm>

namespace cria::tokenizer {

namespace {

bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

uint32_t lookup_pair(const unicode_data::CodepointPair* table, size_t n, uint32_t cp) {
  const auto* end = table + n;
  const auto* it = std::lower_bound(table, end, cp, [](const auto& p, uint32_t v) { return p.from < v; });
  return (it != end && it->from == cp) ? it->to : cp;
}

}  // namespace

uint32_t decode_utf8(std::string_view text, size_t& offset) {
  const size_t n = text.size();
  const auto* s = reinterpret_cast<const uint8_t*>(text.data()) + offset;
  const size_t left = n - offset;
  const uint8_t b0 = s[0];
  if (b0 < 0x80) {
    offset += 1;
    return b0;
  }
  if ((b0 & 0xE0) == 0xC0 && left >= 2 && is_cont(s[1])) {
    offset += 2;
    return (uint32_t(b0 & 0x1F) << 6) | (s[1] & 0x3F);
  }
  if ((b0 & 0xF0) == 0xE0 && left >= 3 && is_cont(s[1]) && is_cont(s[2])) {
    offset += 3;
    return (uint32_t(b0 & 0x0F) << 12) | (uint32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  }
  if ((b0 & 0xF8) == 0xF0 && left >= 4 && is_cont(s[1]) && is_cont(s[2]) && is_cont(s[3])) {
    const uint32_t cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(s[1] & 0x3F) << 12) |
                        (uint32_t(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    if (cp <= 0x10FFFF) {
      offset += 4;
      return cp;
    }
  }
  offset += 1;
  return kReplacementChar;
}

size_t utf8_size(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

uint32_t cpt_flags(uint32_t cp) {
  using unicode_data::kFlagRunCount;
  using unicode_data::kFlagRuns;
  if (cp > 0x10FFFF) return 0;
  // The last run whose start is <= cp.
  const uint32_t key = (cp << 8) | 0xFF;
  const auto* it = std::upper_bound(kFlagRuns, kFlagRuns + kFlagRunCount, key);
  return it == kFlagRuns ? 0 : (*(it - 1) & 0xFF);
}

bool is_whitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t nfd_first(uint32_t cp) {
  if (cp < 0xC0) return cp;
  if (cp >= 0xAC00 && cp <= 0xD7A3) return 0x1100 + (cp - 0xAC00) / (21 * 28);  // Hangul: leading jamo
  return lookup_pair(unicode_data::kNfdFirst, unicode_data::kNfdFirstCount, cp);
}

uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return lookup_pair(unicode_data::kLower, unicode_data::kLowerCount, cp);
}

}  // namespace cria::tokenizer
