#include <gtest/gtest.h>

#include "cgroups/control.h"
#include "tests/unit/cgroups/tree.h"

namespace berth::cgroups {
namespace {

TEST(Control, JoinPath) {
  EXPECT_EQ(join_path("/", "a/b"), "/a/b");
  EXPECT_EQ(join_path("/x/", "/a/"), "/x/a");
  EXPECT_EQ(join_path("/", "/"), "/");
  EXPECT_EQ(join_path("/sys/fs/cgroup", "/"), "/sys/fs/cgroup");
}

TEST(Control, CgroupPath) {
  EXPECT_EQ(*cgroup_path("/user.slice/d", "berth", "c1"), "/user.slice/d/berth/c1");
  EXPECT_EQ(*cgroup_path("/user.slice/d", "/berth", "c1"), "/berth/c1");
  EXPECT_EQ(*cgroup_path("/", "", "c1"), "/c1");
  EXPECT_EQ(*cgroup_path("/", "a/b", "c1"), "/a/b/c1");
  for (const char* bad : {"", ".", "..", "a/b"}) {
    auto r = cgroup_path("/", "berth", bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  }
  EXPECT_FALSE(cgroup_path("/", "../../etc", "c").has_value());
  EXPECT_EQ(creation_start("/a", "b"), "/a");
  EXPECT_EQ(creation_start("/a", "/b"), "/");
}

TEST(Control, Parsers) {
  auto kv = parse_flat_keyed("cache 4096\nrss 8192\nbad\nx y\n\ntotal_rss 1\n");
  ASSERT_EQ(kv.size(), 3u);
  EXPECT_EQ(kv[0], (std::pair<std::string, uint64_t>{"cache", 4096}));
  EXPECT_EQ(kv[2], (std::pair<std::string, uint64_t>{"total_rss", 1}));
  EXPECT_EQ(keyed_value("oom 1\noom_kill 2\n", "oom_kill"), 2u);
  EXPECT_FALSE(keyed_value("oom 1\n", "oom_kill").has_value());
  EXPECT_EQ(words(" cpu  +memory\npids\n"), (std::vector<std::string>{"cpu", "memory", "pids"}));
  EXPECT_EQ(parse_u64(" 18446744073709551615\n"), UINT64_MAX);
  EXPECT_FALSE(parse_u64("-1").has_value());
  EXPECT_FALSE(parse_u64("").has_value());
}

TEST(Control, ReadWriteAndLimits) {
  test::CgroupTree t;
  t.put("cg/memory.limit_in_bytes", "9223372036854771712\n");
  t.put("cg/pids.max", "max\n");
  t.put("cg/memory.max", "1048576\n");
  t.put("cg/cgroup.procs", "10\n20\n");
  std::string cg = t.path("cg");
  EXPECT_EQ(*read_limit(cg, "memory.limit_in_bytes"), 0u);
  EXPECT_EQ(*read_limit(cg, "pids.max"), 0u);
  EXPECT_EQ(*read_limit(cg, "memory.max"), 1048576u);
  EXPECT_EQ(*read_procs(cg), (std::vector<pid_t>{10, 20}));
  auto bad = read_u64(cg, "pids.max");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::kCorrupt);

  ASSERT_TRUE(write_control(cg, "memory.max", "max").has_value());
  EXPECT_EQ(t.get("cg/memory.max"), "max");
  auto missing = write_control(cg, "memory.swap.max", "0");  // never created
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message(), "write memory.swap.max in " + cg + ": No such file or directory");
  EXPECT_FALSE(t.exists("cg/memory.swap.max"));
  auto r = read_control_if_exists(cg, "nope");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
}

TEST(Control, PollUntilIsBounded) {
  int calls = 0;
  int64_t start = monotonic_ns();
  auto r = poll_until(20, [&]() -> Result<bool> { return ++calls == 1000000; });
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  EXPECT_GT(calls, 1);
  EXPECT_LT(monotonic_ns() - start, 500 * 1000000LL);
  calls = 0;
  EXPECT_TRUE(*poll_until(1000, [&]() -> Result<bool> { return ++calls == 3; }));
}

TEST(Control, RemoveCgroupDirRemovesChildCgroupsFirst) {
  test::CgroupTree t;
  t.mkdir("cg/a/b");
  t.mkdir("cg/c");
  ASSERT_TRUE(remove_cgroup_dir(t.path("cg")).has_value());
  EXPECT_FALSE(t.exists("cg"));
  EXPECT_TRUE(remove_cgroup_dir(t.path("cg")).has_value());  // already gone
}

}  // namespace
}  // namespace berth::cgroups
