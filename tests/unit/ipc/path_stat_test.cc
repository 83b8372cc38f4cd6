// The X-Docker-Container-Path-Stat header: base64 of Docker's JSON, both ways.
#include "ipc/proto/path_stat.h"

#include <gtest/gtest.h>

namespace berth::ipc {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  std::string all;
  for (int i = 0; i < 256; i++) all += static_cast<char>(i);
  for (size_t n = 0; n < all.size(); n += 7) EXPECT_EQ(base64_decode(base64_encode(all.substr(0, n))).value(), all.substr(0, n));
  EXPECT_FALSE(base64_decode("Zm9v!").has_value());
}

TEST(PathStat, EncodesDockersJson) {
  PathStat s{"passwd", 1234, 0644, "2024-01-02T03:04:05.5Z", ""};
  std::string json = base64_decode(encode_path_stat(s)).value();
  EXPECT_EQ(json, R"({"name":"passwd","size":1234,"mode":420,"mtime":"2024-01-02T03:04:05.5Z","linkTarget":""})");
  PathStat back = decode_path_stat(encode_path_stat(s)).value();
  EXPECT_EQ(back.name, "passwd");
  EXPECT_EQ(back.size, 1234);
  EXPECT_EQ(back.mode, 0644u);
  EXPECT_FALSE(back.is_dir());
}

// What dockerd sends for a directory and a symlink (Go's FileMode bits).
TEST(PathStat, DecodesDirectoriesAndSymlinks) {
  std::string dir = base64_encode(R"({"name":"etc","size":4096,"mode":2147484141,"mtime":"x","linkTarget":""})");
  EXPECT_TRUE(decode_path_stat(dir).value().is_dir());
  std::string link = base64_encode(R"({"name":"l","size":3,"mode":134218239,"mtime":"x","linkTarget":"/d/f"})");
  PathStat l = decode_path_stat(link).value();
  EXPECT_TRUE(l.is_symlink());
  EXPECT_EQ(l.link_target, "/d/f");
  EXPECT_FALSE(decode_path_stat(base64_encode("[]")).has_value());
}

}  // namespace
}  // namespace berth::ipc
