// The chat page that `cria serve` answers GET / with: src/serve/web/chat.html, one self-contained file
// (inline CSS and JavaScript, no outside requests), compiled in at build time by cmake/embed_file.cmake.
#pragma once

#include <string_view>

namespace cria::serve {

// The page's bytes, exactly as in the source tree (UTF-8 HTML).
std::string_view chat_page_html();

}  // namespace cria::serve
