// Mount plan: pure, no root.
#include "core/runtime/mount_plan.h"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "tests/unit/runtime/plan_steps.h"

namespace berth::runtime {
namespace {

using test::find;
using test::index_of;

Spec three_layer_spec() {
  Spec s;
  s.id = std::string(64, 'a');
  s.lower_dirs = {"/l/bottom", "/l/middle", "/l/top"};
  s.upper_dir = "/c/upper";
  s.work_dir = "/c/work";
  s.rootfs_dir = "/c/rootfs";
  s.args = {"sh"};
  s.cwd = "/app/src";
  return s;
}

TEST(MountPlan, StartsPrivateThenOverlayWithLayersTopFirst) {
  MountPlan p = make_mount_plan(three_layer_spec());
  ASSERT_GE(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].kind, MountKind::kMakePrivate);
  const MountStep& ov = p.steps[1];
  ASSERT_EQ(ov.kind, MountKind::kOverlay);
  EXPECT_EQ(ov.target, "/c/rootfs");
  EXPECT_EQ(ov.fstype, "overlay");
  ASSERT_EQ(ov.options.size(), 5u);
  // lowerdir+: the first one added is the topmost layer.
  EXPECT_EQ(ov.options[0].key, "lowerdir+");
  EXPECT_EQ(ov.options[0].value, "/l/top");
  EXPECT_EQ(ov.options[1].value, "/l/middle");
  EXPECT_EQ(ov.options[2].value, "/l/bottom");
  EXPECT_EQ(ov.options[3].key, "upperdir");
  EXPECT_EQ(ov.options[3].value, "/c/upper");
  EXPECT_EQ(ov.options[4].key, "workdir");
  EXPECT_EQ(ov.options[4].value, "/c/work");
  EXPECT_EQ(ov.fallback_lowerdir, "/l/top:/l/middle:/l/bottom");
}

TEST(MountPlan, ClassicLowerdirEscapes) {
  EXPECT_EQ(classic_lowerdir({"/a:b", "/c\\d", "/e"}), "/a\\:b:/c\\\\d:/e");
}

TEST(MountPlan, KernelFilesystemsWithDockerFlags) {
  MountPlan p = make_mount_plan(three_layer_spec());
  const MountStep* proc = find(p, MountKind::kFilesystem, "/proc");
  ASSERT_TRUE(proc);
  EXPECT_EQ(proc->fstype, "proc");
  EXPECT_EQ(proc->attrs, uint64_t(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV));

  const MountStep* dev = find(p, MountKind::kFilesystem, "/dev");
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->fstype, "tmpfs");
  EXPECT_TRUE(dev->attrs & MOUNT_ATTR_NOSUID);
  EXPECT_FALSE(dev->attrs & MOUNT_ATTR_NODEV);  // device nodes live there

  const MountStep* pts = find(p, MountKind::kFilesystem, "/dev/pts");
  ASSERT_TRUE(pts);
  EXPECT_EQ(pts->fstype, "devpts");
  bool ptmx = false;
  for (const auto& o : pts->options) ptmx |= o.key == "ptmxmode" && o.value == "0666";
  EXPECT_TRUE(ptmx);

  EXPECT_TRUE(find(p, MountKind::kFilesystem, "/dev/shm"));
  EXPECT_TRUE(find(p, MountKind::kFilesystem, "/dev/mqueue"));
  const MountStep* sys = find(p, MountKind::kFilesystem, "/sys");
  ASSERT_TRUE(sys);
  EXPECT_EQ(sys->fstype, "sysfs");
  EXPECT_TRUE(sys->attrs & MOUNT_ATTR_RDONLY);
}

TEST(MountPlan, DevicesAndLinks) {
  MountPlan p = make_mount_plan(three_layer_spec());
  struct {
    const char* name;
    uint32_t major, minor;
  } const devices[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const auto& d : devices) {
    std::string path = std::string("/dev/") + d.name;
    const MountStep* s = find(p, MountKind::kDevice, path);
    ASSERT_TRUE(s) << path;
    EXPECT_EQ(s->source, path);  // the host's node, bound if mknod is not allowed
    EXPECT_EQ(s->mode, uint32_t(S_IFCHR | 0666)) << path;
    EXPECT_EQ(s->dev_major, d.major) << path;
    EXPECT_EQ(s->dev_minor, d.minor) << path;
    EXPECT_LT(index_of(p, MountKind::kFilesystem, "/dev"), index_of(p, MountKind::kDevice, path));
  }
  const MountStep* fd = find(p, MountKind::kSymlink, "/dev/fd");
  ASSERT_TRUE(fd);
  EXPECT_EQ(fd->source, "/proc/self/fd");
  EXPECT_EQ(find(p, MountKind::kSymlink, "/dev/stderr")->source, "/proc/self/fd/2");
  EXPECT_EQ(find(p, MountKind::kSymlink, "/dev/ptmx")->source, "pts/ptmx");
}

TEST(MountPlan, MasksAndReadonlyPathsBeforePivot) {
  MountPlan p = make_mount_plan(three_layer_spec());
  size_t pivot = index_of(p, MountKind::kPivotRoot, "/c/rootfs");
  ASSERT_NE(pivot, SIZE_MAX);
  size_t proc = index_of(p, MountKind::kFilesystem, "/proc");
  size_t sys = index_of(p, MountKind::kFilesystem, "/sys");
  for (const char* m : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                        "/proc/scsi", "/sys/firmware"}) {
    size_t i = index_of(p, MountKind::kMask, m);
    ASSERT_NE(i, SIZE_MAX) << m;
    EXPECT_GT(i, std::max(proc, sys)) << m;
    EXPECT_LT(i, pivot) << m;
  }
  for (const char* r : {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
    size_t i = index_of(p, MountKind::kReadonly, r);
    ASSERT_NE(i, SIZE_MAX) << r;
    EXPECT_LT(i, pivot) << r;
  }
}

Spec shared_dirs_spec() {
  Spec s = three_layer_spec();
  s.empty_dir = "/b/empty";
  s.cgroup_skeleton = "/b/cgroup-view";
  s.cgroup_view = {{"memory", "cgroup", "memory"}, {"cpu,cpuacct", "cgroup", "cpu,cpuacct"}};
  return s;
}

TEST(MountPlan, SharedHostDirsStandInForTmpfsWithoutSysAdmin) {
  Spec s = shared_dirs_spec();
  ASSERT_TRUE(shares_host_dirs(s));
  ASSERT_TRUE(binds_cgroup_skeleton(s));
  MountPlan p = make_mount_plan(s);
  for (const char* m : {"/proc/acpi", "/proc/scsi", "/sys/firmware"}) {
    const MountStep* step = find(p, MountKind::kMask, m);
    ASSERT_TRUE(step) << m;
    EXPECT_EQ(step->source, "/b/empty") << m;
  }
  size_t sys = index_of(p, MountKind::kFilesystem, "/sys");
  size_t view = index_of(p, MountKind::kBindTree, "/sys/fs/cgroup");
  size_t pivot = index_of(p, MountKind::kPivotRoot, "/c/rootfs");
  ASSERT_NE(view, SIZE_MAX);
  EXPECT_GT(view, sys);
  EXPECT_LT(view, pivot);
  EXPECT_EQ(p.steps[view].source, "/b/cgroup-view");
  EXPECT_TRUE(p.steps[view].attrs & MOUNT_ATTR_RDONLY);
  EXPECT_TRUE(p.steps[view].no_symlinks);
  EXPECT_EQ(describe_step(p.steps[view]), "bind /b/cgroup-view on /sys/fs/cgroup");
}

TEST(MountPlan, SysAdminPrivilegedOrCgroupV2KeepTheirOwnTmpfs) {
  Spec admin = shared_dirs_spec();
  admin.security.capabilities |= uint64_t(1) << CAP_SYS_ADMIN;  // could remount a shared bind writable
  EXPECT_FALSE(shares_host_dirs(admin));
  EXPECT_FALSE(binds_cgroup_skeleton(admin));
  MountPlan p = make_mount_plan(admin);
  EXPECT_EQ(find(p, MountKind::kMask, "/proc/acpi")->source, "");
  EXPECT_FALSE(find(p, MountKind::kBindTree, "/sys/fs/cgroup"));

  Spec priv = shared_dirs_spec();
  priv.security.privileged = true;
  EXPECT_FALSE(binds_cgroup_skeleton(priv));
  EXPECT_FALSE(find(make_mount_plan(priv), MountKind::kBindTree, "/sys/fs/cgroup"));

  Spec v2 = shared_dirs_spec();
  v2.cgroup_view = {{"", "cgroup2", ""}};  // one cgroup2 mount at /sys/fs/cgroup itself: nothing to stand in for
  EXPECT_FALSE(binds_cgroup_skeleton(v2));
  EXPECT_FALSE(find(make_mount_plan(v2), MountKind::kBindTree, "/sys/fs/cgroup"));
  EXPECT_EQ(find(make_mount_plan(v2), MountKind::kMask, "/proc/acpi")->source, "/b/empty");

  Spec unset = three_layer_spec();  // no shared dirs given: tmpfs, as before
  unset.cgroup_view = shared_dirs_spec().cgroup_view;
  EXPECT_FALSE(binds_cgroup_skeleton(unset));
  EXPECT_EQ(find(make_mount_plan(unset), MountKind::kMask, "/proc/acpi")->source, "");
}

TEST(MountPlan, SysfsOfTheSharedNetnsOnlyWhenGivenAndSafe) {
  Spec s = shared_dirs_spec();
  EXPECT_FALSE(shares_sysfs(s));  // no namespace given: a sysfs of its own
  EXPECT_FALSE(find(make_mount_plan(s), MountKind::kFilesystem, "/sys")->template_netns);
  s.sysfs_netns_fd = 7;
  ASSERT_TRUE(shares_sysfs(s));
  MountPlan p = make_mount_plan(s);
  const MountStep* sys = find(p, MountKind::kFilesystem, "/sys");
  ASSERT_TRUE(sys);
  EXPECT_TRUE(sys->template_netns);
  EXPECT_TRUE(sys->attrs & MOUNT_ATTR_RDONLY);
  EXPECT_EQ(describe_step(*sys), "mount the shared sysfs on /sys");

  Spec admin = s;
  admin.security.capabilities |= uint64_t(1) << CAP_SYS_ADMIN;  // could remount the shared superblock
  EXPECT_FALSE(shares_sysfs(admin));
  Spec remapped = s;
  remapped.userns = {.uid = 100000, .gid = 100000, .size = 65536};  // may not enter berthd's namespace
  EXPECT_FALSE(shares_sysfs(remapped));
  Spec host = s;
  host.new_netns = false;
  EXPECT_FALSE(shares_sysfs(host));
  EXPECT_FALSE(find(make_mount_plan(host), MountKind::kFilesystem, "/sys"));
}

TEST(MountPlan, WorkdirAfterPivotAndNoReadonlyRootByDefault) {
  MountPlan p = make_mount_plan(three_layer_spec());
  size_t pivot = index_of(p, MountKind::kPivotRoot, "/c/rootfs");
  size_t mk = index_of(p, MountKind::kMakeDir, "/app/src");
  EXPECT_EQ(mk, pivot + 1);
  for (const auto& s : p.steps) EXPECT_NE(s.kind, MountKind::kReadonlyRoot);
}

TEST(MountPlan, ReadonlyRootIsLast) {
  Spec s = three_layer_spec();
  s.readonly_rootfs = true;
  MountPlan p = make_mount_plan(s);
  EXPECT_EQ(p.steps.back().kind, MountKind::kReadonlyRoot);
  EXPECT_EQ(p.steps[p.steps.size() - 2].kind, MountKind::kMakeDir);
}

TEST(MountPlan, HostNetworkBindsSysReadonly) {
  Spec s = three_layer_spec();
  s.new_netns = false;
  MountPlan p = make_mount_plan(s);
  EXPECT_FALSE(find(p, MountKind::kFilesystem, "/sys"));
  const MountStep* sys = find(p, MountKind::kBindTree, "/sys");
  ASSERT_TRUE(sys);
  EXPECT_EQ(sys->source, "/sys");
  EXPECT_TRUE(sys->attrs & MOUNT_ATTR_RDONLY);
}

TEST(MountPlan, DeterministicAndDescribed) {
  MountPlan a = make_mount_plan(three_layer_spec());
  MountPlan b = make_mount_plan(three_layer_spec());
  ASSERT_EQ(a.steps.size(), b.steps.size());
  for (size_t i = 0; i < a.steps.size(); i++) EXPECT_EQ(describe_step(a.steps[i]), describe_step(b.steps[i]));
  EXPECT_EQ(describe_step(a.steps[1]), "mount overlay on /c/rootfs");
  EXPECT_EQ(describe_step(*find(a, MountKind::kFilesystem, "/proc")), "mount proc on /proc");
  EXPECT_EQ(describe_step(*find(a, MountKind::kDevice, "/dev/null")), "create device /dev/null");
}

}  // namespace
}  // namespace berth::runtime
