// The text of one generated sequence as a client receives it: token pieces go in, and out comes only
// text that is final. Two things are held back until the next pieces decide them: the end of a UTF-8
// character split across tokens, and a tail that might be the start of a stop string. A stop string is
// found across token boundaries; neither it nor anything after it is ever emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cria::serve {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop = {});

  // Adds a token's bytes; returns the text that can now be sent (possibly empty). After a stop string
  // is found, stopped() is true and later calls return nothing.
  std::string push(std::string_view piece);
  // The end of the sequence: whatever was held back (an incomplete UTF-8 tail as it is; the client's
  // JSON encoder replaces it).
  std::string flush();

  bool stopped() const { return stopped_; }
  // All text emitted so far (push and flush results, concatenated).
  const std::string& emitted() const { return emitted_; }

 private:
  std::vector<std::string> stop_;
  std::string pending_;  // received, not yet emitted
  std::string emitted_;
  bool stopped_ = false;
};

// Bytes at the end of `s` that start a UTF-8 character whose remaining bytes have not arrived (0-3).
size_t incomplete_utf8_tail(std::string_view s);

}  // namespace cria::serve
