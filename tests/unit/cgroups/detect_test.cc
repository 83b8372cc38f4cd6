#include <algorithm>

#include <gtest/gtest.h>

#include "cgroups/cgroups.h"
#include "tests/unit/cgroups/tree.h"

namespace berth::cgroups {
namespace {

using test::CgroupTree;

// This build machine's layout: v1 hierarchies, a named systemd one, and a
// cgroup2 mount at unified/ holding no controller.
constexpr char kHybridMountinfo[] =
    "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr char kHybridCgroup[] =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n"
    "4:memory:/process_api/a319\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

constexpr char kV2Mountinfo[] =
    "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
constexpr char kV2Cgroup[] = "0::/user.slice/user-1000.slice/session-2.scope\n";

struct Host {
  CgroupTree tree;
  DetectOptions opts;
  Host(std::string_view mountinfo, std::string_view cgroup) {
    tree.put("proc/mountinfo", mountinfo);
    tree.put("proc/cgroup", cgroup);
    opts.mountinfo = tree.path("proc/mountinfo");
    opts.proc_self_cgroup = tree.path("proc/cgroup");
    opts.root_prefix = tree.path("fs");
  }
};

bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(Detect, HybridIsV1WithEveryControllerHierarchy) {
  Host h(kHybridMountinfo, kHybridCgroup);
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ((*d)->version(), Version::kV1);
  auto c = (*d)->controllers();
  for (const char* want : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"}) {
    EXPECT_TRUE(has(c, want)) << want;
  }
  EXPECT_EQ(c.size(), 8u);  // no "name=systemd", nothing from unified/
}

TEST(Detect, HybridMountsAndSelfPaths) {
  Host h(kHybridMountinfo, kHybridCgroup);
  for (const char* m :
       {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"}) {
    h.tree.mkdir(std::string("fs/sys/fs/cgroup/") + m);
  }
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  auto cg = (*d)->create("berth", "c1");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  EXPECT_EQ((*cg)->path(), "/process_api/a319/berth/c1");  // the memory hierarchy's
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/memory/process_api/a319/berth/c1"));
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/cpu/berth/c1"));
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/pids/berth/c1"));
  EXPECT_FALSE(h.tree.exists("fs/sys/fs/cgroup/systemd/berth"));
  EXPECT_FALSE(h.tree.exists("fs/sys/fs/cgroup/unified/berth"));
}

TEST(Detect, HybridWithHugetlbOnUnifiedIsStillV1) {
  std::string cgroup = std::string(kHybridCgroup);
  Host h(kHybridMountinfo, "10:hugetlb:/\n" + cgroup);  // hugetlb in no v1 mount
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ((*d)->version(), Version::kV1);
  EXPECT_FALSE(has((*d)->controllers(), "hugetlb"));
}

TEST(Detect, CoMountedControllersAreOneHierarchy) {
  Host h("35 31 0:32 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
         "36 31 0:33 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
         "2:cpu,cpuacct:/a\n1:memory:/\n");
  h.tree.mkdir("fs/sys/fs/cgroup/cpu,cpuacct");
  h.tree.mkdir("fs/sys/fs/cgroup/memory");
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ((*d)->controllers(), (std::vector<std::string>{"cpu", "cpuacct", "memory"}));
  ASSERT_TRUE((*d)->create("b", "c").has_value());
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/cpu,cpuacct/a/b/c"));
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/memory/b/c"));
}

TEST(Detect, PureV2) {
  Host h(kV2Mountinfo, kV2Cgroup);
  h.tree.mkdir("fs/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope");
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ((*d)->version(), Version::kV2);
  auto cg = (*d)->create("berth", "c1");
  ASSERT_TRUE(cg.has_value()) << cg.error().message();
  EXPECT_EQ((*cg)->path(), "/user.slice/user-1000.slice/session-2.scope/berth/c1");
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/berth/c1"));
  EXPECT_GE((*cg)->clone_into_fd(), 0);
}

TEST(Detect, OnlyANamedV1HierarchyBesideCgroup2IsV2) {
  Host h(std::string(kV2Mountinfo) + "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n",
         "1:name=systemd:/\n0::/x\n");
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  EXPECT_EQ((*d)->version(), Version::kV2);
}

TEST(Detect, BindMountedSubtreeMakesPathsRelativeToTheMount) {
  // Inside a container without a cgroup namespace: the mount shows only
  // /docker/abc of the hierarchy, which /proc/self/cgroup names in full.
  Host h("36 31 0:33 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
         "4:memory:/docker/abc/inner\n");
  h.tree.mkdir("fs/sys/fs/cgroup/memory/inner");
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  ASSERT_TRUE((*d)->create("b", "c").has_value());
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/memory/inner/b/c"));
}

TEST(Detect, EscapedMountPoint) {
  Host h("36 31 0:33 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n", "4:memory:/\n");
  h.tree.mkdir("fs/sys/fs/cgroup/my memory");
  auto d = detect(h.opts);
  ASSERT_TRUE(d.has_value()) << d.error().message();
  ASSERT_TRUE((*d)->create("/b", "c").has_value());
  EXPECT_TRUE(h.tree.exists("fs/sys/fs/cgroup/my memory/b/c"));
}

TEST(Detect, NothingUsableIsAClearError) {
  Host h("22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n", "1:name=systemd:/\n");
  auto d = detect(h.opts);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), Code::kNotSupported);
  EXPECT_NE(d.error().message().find("no cgroup v1 controller hierarchy and no cgroup2 mount"), std::string::npos)
      << d.error().message();
}

TEST(Detect, UnreadableMountinfo) {
  DetectOptions o;
  o.mountinfo = "/nonexistent/mountinfo";
  auto d = detect(o);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), Code::kNotFound);
  EXPECT_EQ(d.error().message().rfind("detect cgroups: ", 0), 0u) << d.error().message();
}

}  // namespace
}  // namespace berth::cgroups
