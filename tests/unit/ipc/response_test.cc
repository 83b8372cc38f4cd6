// Response building and ResponseParser.
#include "ipc/proto/response.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::ipc {
namespace {

using Event = ResponseParser::Event;

struct Parsed {
  ResponseHead head;
  std::string body;
  bool complete = false;
  std::string rest;
};

// Feeds `input` in `slice`-byte pieces; `eof` calls finish() at the end.
Result<Parsed> parse(std::string_view input, size_t slice, bool eof = false, bool head_request = false) {
  ResponseParser p;
  if (head_request) p.expect_no_body();
  Parsed out;
  std::string buf;
  size_t next = 0;
  for (;;) {
    ResponseParser::Step s = BERTH_TRY(p.feed(buf));
    if (s.event == Event::kHead) out.head = p.head();
    if (s.event == Event::kBody) out.body.append(s.body);
    buf.erase(0, s.consumed);
    if (s.event == Event::kComplete) {
      out.complete = true;
      out.rest = buf + std::string(input.substr(next));
      return out;
    }
    if (s.event != Event::kNeedMore) continue;
    if (next < input.size()) {
      buf.append(input.substr(next, slice));
      next += std::min(slice, input.size() - next);
      continue;
    }
    if (!eof) return out;
    s = BERTH_TRY(p.finish());
    out.complete = s.event == Event::kComplete;
    return out;
  }
}

TEST(ResponseBuild, StatusReasons) {
  EXPECT_STREQ(status_reason(101), "UPGRADED");
  EXPECT_STREQ(status_reason(200), "OK");
  EXPECT_STREQ(status_reason(201), "Created");
  EXPECT_STREQ(status_reason(204), "No Content");
  EXPECT_STREQ(status_reason(304), "Not Modified");
  EXPECT_STREQ(status_reason(400), "Bad Request");
  EXPECT_STREQ(status_reason(404), "Not Found");
  EXPECT_STREQ(status_reason(409), "Conflict");
  EXPECT_STREQ(status_reason(413), "Request Entity Too Large");
  EXPECT_STREQ(status_reason(431), "Request Header Fields Too Large");
  EXPECT_STREQ(status_reason(500), "Internal Server Error");
  EXPECT_STREQ(status_reason(599), "Unknown");
}

TEST(ResponseBuild, HeadAndChunks) {
  std::string out = response_head(200, {{"Api-Version", "1.50"}, {"Transfer-Encoding", "chunked"}});
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nApi-Version: 1.50\r\nTransfer-Encoding: chunked\r\n\r\n");
  append_chunk(out, "");
  append_chunk(out, "{\"StatusCode\":3}\n");
  append_chunk(out, std::string(300, 'x'));
  out += kLastChunk;
  EXPECT_NE(out.find("11\r\n{\"StatusCode\":3}\n\r\n12c\r\n"), std::string::npos);
  for (size_t slice : {size_t(1), size_t(13), out.size()}) {
    Result<Parsed> p = parse(out, slice);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(p->complete);
    EXPECT_EQ(p->head.status, 200);
    EXPECT_TRUE(p->head.chunked);
    EXPECT_EQ(p->head.header("API-VERSION"), "1.50");
    EXPECT_EQ(p->body, "{\"StatusCode\":3}\n" + std::string(300, 'x'));
  }
  EXPECT_EQ(response_head(101, {}), "HTTP/1.1 101 UPGRADED\r\n\r\n");
}

TEST(ResponseParser, ContentLengthAndKeepAlive) {
  std::string msg = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 39\r\n\r\n"
                    "{\"message\":\"No such container: nosuch\"}";
  for (size_t slice = 1; slice <= msg.size(); slice++) {
    Result<Parsed> p = parse(msg, slice);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->complete) << slice;
    EXPECT_EQ(p->head.status, 404);
    EXPECT_EQ(p->head.content_length, 39);
    EXPECT_TRUE(p->head.keep_alive);
    EXPECT_EQ(p->body, "{\"message\":\"No such container: nosuch\"}");
  }
}

TEST(ResponseParser, BodyUntilEof) {
  std::string msg = "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n\r\nabcdef";
  Result<Parsed> p = parse(msg, 4, /*eof=*/true);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->complete);
  EXPECT_FALSE(p->head.keep_alive);
  EXPECT_EQ(p->body, "abcdef");
}

TEST(ResponseParser, NoBodyStatusesAndHead) {
  Result<Parsed> p = parse("HTTP/1.1 204 No Content\r\nApi-Version: 1.50\r\n\r\n", 3);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->complete);
  EXPECT_TRUE(p->head.keep_alive);
  p = parse("HTTP/1.1 304 Not Modified\r\n\r\n", 100);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->complete);
  p = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nHTTP/1.1 200 OK", 5, false, /*head_request=*/true);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->complete);
  EXPECT_EQ(p->body, "");
  EXPECT_EQ(p->rest, "HTTP/1.1 200 OK");
}

TEST(ResponseParser, SwitchingProtocolsLeavesStream) {
  const std::string expect_rest("\x01\0\0\0\0\0\0\x02" "hi", 10);
  const std::string msg = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
                          "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + expect_rest;
  for (size_t slice : {size_t(1), size_t(9), msg.size()}) {
    Result<Parsed> p = parse(msg, slice);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->complete);
    EXPECT_EQ(p->head.status, 101);
    EXPECT_TRUE(p->head.upgrade);
    EXPECT_EQ(p->rest, expect_rest) << slice;
  }
}

TEST(ResponseParser, Errors) {
  Result<Parsed> p = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 100, /*eof=*/true);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("closed in the middle"), std::string::npos) << p.error().message();
  p = parse("NOTHTTP 200\r\n\r\n", 100);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Code::kInvalidArgument);
  EXPECT_NE(p.error().message().find("malformed HTTP response"), std::string::npos);
}

}  // namespace
}  // namespace berth::ipc
