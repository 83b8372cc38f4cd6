#include "ipc/proto/detach_keys.h"

#include <gtest/gtest.h>

namespace berth::ipc {
namespace {

TEST(DetachKeys, ParsesDockerFormat) {
  EXPECT_EQ(*parse_detach_keys(""), std::string("\x10\x11"));
  EXPECT_EQ(*parse_detach_keys("ctrl-a"), std::string("\x01"));
  EXPECT_EQ(*parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"),
            std::string("\x00\x1b\x1c\x1d\x1e\x1f", 6));
  EXPECT_EQ(*parse_detach_keys("a,ctrl-x,b"), std::string("a\x18" "b"));
  for (const char* bad : {"ctrl-", "ctrl-1", "ab", "ctrl-p,", ",", "ctrl-pp"}) {
    auto r = parse_detach_keys(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("Invalid detach keys"), std::string::npos) << r.error().message();
  }
}

TEST(DetachKeys, PassesOtherBytesAndHoldsPrefixes) {
  DetachMatcher m("\x10\x11");
  std::string out;
  EXPECT_FALSE(m.feed("ls\n", &out));
  EXPECT_EQ(out, "ls\n");
  EXPECT_FALSE(m.feed("\x10", &out));
  EXPECT_EQ(out, "ls\n");  // held back
  EXPECT_EQ(m.pending(), 1u);
  EXPECT_FALSE(m.feed("x", &out));
  EXPECT_EQ(out, "ls\n\x10x");  // released in order
  EXPECT_FALSE(m.feed("\x10\x10", &out));
  EXPECT_EQ(out, "ls\n\x10x\x10");  // the second ctrl-p may start the sequence
  EXPECT_TRUE(m.feed("\x11" "after", &out));
  EXPECT_EQ(out, "ls\n\x10x\x10");  // the sequence and what follows are not forwarded
}

TEST(DetachKeys, MatchesAcrossChunksAndSingleKey) {
  DetachMatcher m(*parse_detach_keys("ctrl-x,y,z"));
  std::string out;
  EXPECT_FALSE(m.feed("a\x18", &out));
  EXPECT_FALSE(m.feed("y", &out));
  EXPECT_TRUE(m.feed("z", &out));
  EXPECT_EQ(out, "a");
  DetachMatcher one("\x1d");
  out.clear();
  EXPECT_TRUE(one.feed("ab\x1d", &out));
  EXPECT_EQ(out, "ab");
}

}  // namespace
}  // namespace berth::ipc
