#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/result.h"
#include "core/base/strings.h"

namespace berth {
namespace {

Result<int> half(int v) {
  if (v % 2) return Error::invalid("{} is odd", v);
  return v / 2;
}
Result<int> quarter(int v) {
  int h = BERTH_TRY(half(v));
  return BERTH_TRY_CTX(half(h), "quarter {}", v);
}

TEST(Result, TryPropagatesWithContext) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "quarter 6: 3 is odd");
  Error e = Error::sys(ENOENT, "open {}", "/x");
  EXPECT_EQ(e.code(), Code::kNotFound);
  EXPECT_EQ(e.message(), "open /x: No such file or directory");
  EXPECT_EQ(e.sys_errno(), ENOENT);
}

TEST(Strings, Timestamps) {
  EXPECT_EQ(format_rfc3339_nano(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_nano(1735689600123456789LL), "2025-01-01T00:00:00.123456789Z");
  EXPECT_EQ(*parse_unix_timestamp_ns("1735689600.000000001"), 1735689600000000001LL);
  EXPECT_EQ(*parse_unix_timestamp_ns("1735689600"), 1735689600000000000LL);
  EXPECT_EQ(*parse_unix_timestamp_ns("1.5"), 1500000000LL);
  EXPECT_FALSE(parse_unix_timestamp_ns("x").has_value());
  EXPECT_FALSE(parse_unix_timestamp_ns("1.").has_value());
  EXPECT_FALSE(parse_unix_timestamp_ns("1.0000000001").has_value());
}

TEST(Strings, HumanDuration) {
  const int64_t s = 1000000000;
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(1 * s), "1 second");
  EXPECT_EQ(human_duration(59 * s), "59 seconds");
  EXPECT_EQ(human_duration(60 * s), "About a minute");
  EXPECT_EQ(human_duration(5 * 60 * s), "5 minutes");
  EXPECT_EQ(human_duration(3600 * s), "About an hour");
  EXPECT_EQ(human_duration(3 * 3600 * s), "3 hours");
}

TEST(Strings, IdsAndHex) {
  std::string a = random_id(), b = random_id();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_TRUE(is_hex(a));
  EXPECT_NE(a, b);
  EXPECT_FALSE(is_hex("ABC"));
  EXPECT_FALSE(is_hex(""));
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
}

TEST(File, AtomicWriteAndRemoveTree) {
  char tmpl[] = "/tmp/berth-base-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string f = dir + "/a/b/state.json";
  ASSERT_TRUE(make_dirs(dir + "/a/b").has_value());
  ASSERT_TRUE(write_file_atomic(f, "one").has_value());
  ASSERT_TRUE(write_file_atomic(f, "two").has_value());
  EXPECT_EQ(*read_file(f), "two");
  EXPECT_FALSE(path_exists(f + ".tmp"));
  ASSERT_EQ(symlink("/etc", (dir + "/a/link").c_str()), 0);
  ASSERT_TRUE(remove_tree(dir).has_value());
  EXPECT_FALSE(path_exists(dir));
  EXPECT_TRUE(path_exists("/etc/passwd"));  // the symlink was removed, not followed
  EXPECT_EQ(read_file(dir + "/nope").error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace berth
