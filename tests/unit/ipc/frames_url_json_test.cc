// Stream frames, URL escaping, filters and error bodies.
#include <gtest/gtest.h>

#include <string>

#include "ipc/proto/api_json.h"
#include "ipc/proto/frames.h"
#include "ipc/proto/url.h"

namespace berth::ipc {
namespace {

TEST(Frames, EncodeLayout) {
  std::string out;
  append_frame(out, kStreamStderr, "err\n");
  append_frame(out, kStreamStdout, "");  // nothing for empty payloads
  append_frame(out, kStreamStdout, "out\n");
  EXPECT_EQ(out, std::string("\x02\0\0\0\0\0\0\x04" "err\n" "\x01\0\0\0\0\0\0\x04" "out\n", 24));
  std::string big;
  append_frame(big, kStreamStdout, std::string(0x010203, 'z'));
  EXPECT_EQ(big.substr(0, 8), std::string("\x01\0\0\0\0\x01\x02\x03", 8));
}

TEST(Frames, RoundTripByteByByte) {
  std::string wire;
  const std::string payloads[] = {"a", std::string(70000, 'b'), "line\n", std::string("\0\x01\xff", 3)};
  for (size_t i = 0; i < std::size(payloads); i++) append_frame(wire, uint8_t(1 + i % 2), payloads[i]);
  FrameReader r;
  size_t got = 0;
  uint8_t stream = 0;
  std::string payload;
  for (char c : wire) {
    r.feed(std::string_view(&c, 1));
    while (r.next(&stream, &payload)) {
      ASSERT_LT(got, std::size(payloads));
      EXPECT_EQ(stream, 1 + got % 2);
      EXPECT_EQ(payload, payloads[got]);
      got++;
    }
  }
  EXPECT_EQ(got, std::size(payloads));
  EXPECT_EQ(r.buffered(), 0u);
  r.feed(std::string("\x01\0\0\0\0\0\0\x05" "ab", 10));
  EXPECT_FALSE(r.next(&stream, &payload));
  EXPECT_EQ(r.buffered(), 10u);  // a cut-short frame stays visible
}

TEST(Url, Encode) {
  EXPECT_EQ(url_encode("imp:v1"), "imp%3Av1");
  EXPECT_EQ(url_encode("docker.io/library/busybox"), "docker.io%2Flibrary%2Fbusybox");
  EXPECT_EQ(url_encode("a b~_-."), "a+b~_-.");
  EXPECT_EQ(url_encode(R"({"name":{"x":true}})"), "%7B%22name%22%3A%7B%22x%22%3Atrue%7D%7D");
  EXPECT_EQ(path_escape("reg:5000/a/b:tag"), "reg:5000/a/b:tag");
  EXPECT_EQ(path_escape("a b?#%"), "a%20b%3F%23%25");
}

TEST(Url, Decode) {
  EXPECT_EQ(url_decode("a+b%20c%3a%3A"), "a b c::");
  EXPECT_EQ(url_decode("100%"), "100%");      // lenient: invalid escapes kept
  EXPECT_EQ(url_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(url_decode(url_encode("x y/z:é")), "x y/z:é");
  EXPECT_EQ(path_decode("/a+b%2Fc"), "/a+b/c");
  EXPECT_EQ(path_decode("/a%2"), std::nullopt);
  EXPECT_EQ(path_decode("/a%g0"), std::nullopt);
}

TEST(Filters, MapForm) {
  Result<Filters> f = parse_filters(R"({"name":{"web":true,"db":true},"status":{"running":true}})");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->size(), 2u);
  EXPECT_EQ(f->at("name"), (std::vector<std::string>{"db", "web"}));
  EXPECT_EQ(f->at("status"), std::vector<std::string>{"running"});
}

TEST(Filters, ListFormAndEmpty) {
  Result<Filters> f = parse_filters(R"({"label":["a=b","c"],"id":[]})");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->at("label"), (std::vector<std::string>{"a=b", "c"}));
  EXPECT_TRUE(f->at("id").empty());
  EXPECT_TRUE(parse_filters("")->empty());
  EXPECT_TRUE(parse_filters("{}")->empty());
}

TEST(Filters, Invalid) {
  for (const char* bad : {"{", "[]", "\"x\"", R"({"name":"x"})", R"({"name":[1]})", "null"}) {
    Result<Filters> f = parse_filters(bad);
    ASSERT_FALSE(f) << bad;
    EXPECT_EQ(f.error().code(), Code::kInvalidArgument);
    EXPECT_NE(f.error().message().find("invalid filters"), std::string::npos);
  }
}

TEST(ErrorBody, RoundTrip) {
  std::string body = error_body("No such container: \"x\"\n");
  EXPECT_EQ(body, R"({"message":"No such container: \"x\"\n"})");
  EXPECT_EQ(message_from_error_body(body), "No such container: \"x\"\n");
  EXPECT_EQ(message_from_error_body("  plain text error\n"), "plain text error");
  EXPECT_EQ(message_from_error_body(R"({"message":5})"), R"({"message":5})");
  EXPECT_EQ(message_from_error_body(""), "");
  EXPECT_FALSE(error_body("bad \xff utf8").empty());  // replaced, not thrown
}

}  // namespace
}  // namespace berth::ipc
