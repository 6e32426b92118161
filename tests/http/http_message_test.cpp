// The response bytes the server writes by hand: status line, headers, chunks and its own error bodies.
#include "http/http_message.h"

#include <gtest/gtest.h>

namespace cria::http::detail {
namespace {

TEST(HttpMessage, HeadOfAWholeResponse) {
  std::vector<Header> extra = {{"Retry-After", "3"}, {"X-Bad", "a\r\nb"}, {"Content-Length", "1"}};
  std::string out;
  append_head(out, {429, "application/json", &extra, true, Head::Framing::kLength, 17, false});
  EXPECT_EQ(out,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: application/json\r\n"
            "Content-Length: 17\r\nConnection: keep-alive\r\n\r\n");
}

TEST(HttpMessage, HeadOfAStream) {
  std::vector<Header> extra = {{"Content-Type", "text/html"}, {"X-Request-Id", "7"}};
  std::string out;
  append_head(out, {200, "text/event-stream", &extra, false, Head::Framing::kChunked, 0, true});
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nX-Request-Id: 7\r\nContent-Type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
            "Connection: close\r\n\r\n");
  // The application's own Cache-Control wins; other content types need no proxy hint.
  extra = {{"cache-control", "no-store"}};
  out.clear();
  append_head(out, {201, "application/x-ndjson", &extra, true, Head::Framing::kUntilClose, 0, true});
  EXPECT_EQ(out,
            "HTTP/1.1 201 Created\r\ncache-control: no-store\r\nContent-Type: application/x-ndjson\r\n"
            "Connection: keep-alive\r\n\r\n");
}

TEST(HttpMessage, StatusesWithoutBodyAndOddCodes) {
  std::string out;
  append_head(out, {204, "", nullptr, true, Head::Framing::kLength, 0, false});
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(sanitize_status(42), 500);
  EXPECT_EQ(sanitize_status(1000), 500);
  EXPECT_EQ(sanitize_status(599), 599);
  EXPECT_EQ(reason_phrase(599), "Unknown");
}

TEST(HttpMessage, ChunksAndErrorBodies) {
  std::string out;
  append_chunk(out, "");
  EXPECT_EQ(out, "");  // an empty chunk would end the body
  append_chunk(out, std::string(26, 'x'));
  EXPECT_EQ(out, "1a\r\n" + std::string(26, 'x') + "\r\n");
  EXPECT_EQ(default_error_body(413, "too \"big\"\n\x01"),
            "{\"error\":{\"message\":\"too \\\"big\\\"\\n\\u0001\",\"code\":413}}");
}

TEST(HttpMessage, HeaderNamesAndValues) {
  EXPECT_TRUE(header_allowed({"X-Custom_1", "any value; q=1"}));
  EXPECT_FALSE(header_allowed({"", "v"}));
  EXPECT_FALSE(header_allowed({"Bad Name", "v"}));
  EXPECT_FALSE(header_allowed({"X-Nul", std::string("a\0b", 3)}));
  EXPECT_FALSE(header_allowed({"transfer-encoding", "chunked"}));
  EXPECT_FALSE(header_allowed({"Connection", "close"}));
  EXPECT_EQ(to_lower("Content-TYPE"), "content-type");
  Request req;
  req.headers = {{"authorization", "Bearer x"}, {"authorization", "second"}};
  EXPECT_EQ(req.header("Authorization"), "Bearer x");
}

}  // namespace
}  // namespace cria::http::detail
