// The chat page compiled into cria serve (cmake/embed_file.cmake) against src/serve/web/chat.html.
#include <gtest/gtest.h>

#include <string>

#include "serve/web_page.h"
#include "test_support.h"

namespace cria::serve {
namespace {

TEST(WebPage, EmbeddedPageIsTheSourceFileByteForByte) {
  const std::string on_disk = test::read_file(CRIA_SOURCE_DIR "/src/serve/web/chat.html");
  ASSERT_FALSE(on_disk.empty());
  EXPECT_EQ(chat_page_html().size(), on_disk.size());
  EXPECT_TRUE(chat_page_html() == on_disk);  // not EXPECT_EQ: a mismatch would print 15 KB twice
}

TEST(WebPage, IsOneSelfContainedHtmlDocument) {
  const std::string_view page = chat_page_html();
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  // No outside requests: scripts, styles and fonts are inline, and the API is the page's own origin.
  EXPECT_EQ(page.find("http://"), std::string_view::npos);
  EXPECT_EQ(page.find("https://"), std::string_view::npos);
  // Model output is shown as text; nothing in the page parses strings as HTML.
  EXPECT_EQ(page.find("innerHTML"), std::string_view::npos);
  EXPECT_EQ(page.find("insertAdjacentHTML"), std::string_view::npos);
  // The elements the browser test (tests/e2e/chat_page.mjs) drives.
  for (const char* id : {"input", "send", "stop", "system", "temperature", "max-tokens", "messages", "stats", "error"}) {
    EXPECT_NE(page.find("id=\"" + std::string(id) + "\""), std::string_view::npos) << id;
  }
}

}  // namespace
}  // namespace cria::serve
