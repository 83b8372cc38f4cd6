// Mount plan with user mounts (binds, volumes, tmpfs): pure, no root.
#include <sys/mount.h>

#include <gtest/gtest.h>

#include "core/runtime/mount_plan.h"
#include "tests/unit/runtime/plan_steps.h"

namespace berth::runtime {
namespace {

using test::index_of;

Spec base_spec() {
  Spec s;
  s.id = std::string(64, 'b');
  s.lower_dirs = {"/l/one"};
  s.upper_dir = "/c/upper";
  s.work_dir = "/c/work";
  s.rootfs_dir = "/c/rootfs";
  s.args = {"sh"};
  return s;
}

Mount bind(std::string source, std::string target) {
  Mount m;
  m.source = std::move(source);
  m.target = std::move(target);
  return m;
}

TEST(MountPlanUser, BindsAfterKernelFilesystemsBeforeMasksAndPivot) {
  Spec s = base_spec();
  s.mounts.push_back(bind("/host/data", "/data"));
  MountPlan p = make_mount_plan(s);
  size_t b = index_of(p, MountKind::kBind, "/data");
  ASSERT_NE(b, SIZE_MAX);
  EXPECT_GT(b, index_of(p, MountKind::kFilesystem, "/sys"));
  EXPECT_GT(b, index_of(p, MountKind::kFilesystem, "/dev/mqueue"));
  EXPECT_LT(b, index_of(p, MountKind::kMask, "/proc/kcore"));
  EXPECT_LT(b, index_of(p, MountKind::kPivotRoot, "/c/rootfs"));
  const MountStep& st = p.steps[b];
  EXPECT_EQ(st.source, "/host/data");
  EXPECT_TRUE(st.recursive);
  EXPECT_FALSE(st.file);
  EXPECT_EQ(st.attrs, 0u);
  EXPECT_EQ(describe_step(st), "bind /host/data on /data");
}

TEST(MountPlanUser, ReadonlyNonRecursiveAndFileBinds) {
  Spec s = base_spec();
  Mount ro = bind("/h/conf", "/etc/app.conf");
  ro.readonly = true;
  ro.recursive = false;
  ro.file = true;
  s.mounts.push_back(ro);
  MountPlan p = make_mount_plan(s);
  const MountStep& st = p.steps[index_of(p, MountKind::kBind, "/etc/app.conf")];
  EXPECT_EQ(st.attrs, uint64_t(MOUNT_ATTR_RDONLY));
  EXPECT_FALSE(st.recursive);
  EXPECT_TRUE(st.file);
}

TEST(MountPlanUser, ShallowestTargetFirstStableOtherwise) {
  Spec s = base_spec();
  s.mounts.push_back(bind("/h/deep", "/a/b/c"));
  s.mounts.push_back(bind("/h/top", "/a"));
  s.mounts.push_back(bind("/h/x", "/x"));
  s.mounts.push_back(bind("/h/mid", "/a/b/"));
  MountPlan p = make_mount_plan(s);
  size_t top = index_of(p, MountKind::kBind, "/a"), x = index_of(p, MountKind::kBind, "/x");
  size_t mid = index_of(p, MountKind::kBind, "/a/b/"), deep = index_of(p, MountKind::kBind, "/a/b/c");
  EXPECT_LT(top, x);  // same depth: the caller's order
  EXPECT_LT(x, mid);
  EXPECT_LT(mid, deep);
}

TEST(MountPlanUser, VolumePopulateRightBeforeItsBind) {
  Spec s = base_spec();
  Mount v = bind("/var/lib/berth/volumes/v1/_data", "/etc");
  v.populate = true;
  s.mounts.push_back(v);
  s.mounts.push_back(bind("/h/other", "/srv"));
  MountPlan p = make_mount_plan(s);
  size_t pop = index_of(p, MountKind::kPopulate, "/etc");
  ASSERT_NE(pop, SIZE_MAX);
  EXPECT_EQ(pop + 1, index_of(p, MountKind::kBind, "/etc"));
  EXPECT_EQ(p.steps[pop].source, "/var/lib/berth/volumes/v1/_data");
  EXPECT_EQ(index_of(p, MountKind::kPopulate, "/srv"), SIZE_MAX);  // binds are never populated
  EXPECT_EQ(describe_step(p.steps[pop]), "copy /etc into the volume /var/lib/berth/volumes/v1/_data");
}

TEST(MountPlanUser, TmpfsWithOptionsAttrsAndParents) {
  Spec s = base_spec();
  Mount t;
  t.kind = Mount::Kind::kTmpfs;
  t.target = "/run/app";
  t.attrs = MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID;
  t.readonly = true;
  t.options = {{"size", "1m"}, {"mode", "1777"}};
  s.mounts.push_back(t);
  MountPlan p = make_mount_plan(s);
  size_t i = index_of(p, MountKind::kFilesystem, "/run/app");
  ASSERT_NE(i, SIZE_MAX);
  const MountStep& st = p.steps[i];
  EXPECT_EQ(st.fstype, "tmpfs");
  EXPECT_TRUE(st.make_parents);
  EXPECT_EQ(st.attrs, uint64_t(MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY));
  ASSERT_EQ(st.options.size(), 3u);
  EXPECT_EQ(st.options[0].key, "source");
  EXPECT_EQ(st.options[0].value, "tmpfs");
  EXPECT_EQ(st.options[1].key, "size");
  EXPECT_EQ(st.options[1].value, "1m");
  EXPECT_EQ(st.options[2].key, "mode");
}

TEST(MountPlanUser, UserMountOnDevShmReplacesTheDefault) {
  Spec s = base_spec();
  Mount t;
  t.kind = Mount::Kind::kTmpfs;
  t.target = "/dev/shm";
  t.options = {{"size", "2m"}};
  s.mounts.push_back(t);
  MountPlan p = make_mount_plan(s);
  int shm = 0;
  for (const auto& st : p.steps)
    if (st.target == "/dev/shm") {
      shm++;
      ASSERT_EQ(st.options.size(), 2u);
      EXPECT_EQ(st.options[1].value, "2m");
      EXPECT_GT(&st - p.steps.data(), ptrdiff_t(index_of(p, MountKind::kFilesystem, "/dev")));
    }
  EXPECT_EQ(shm, 1);
  // A mount on /sys/x leaves the default /sys alone.
  Spec s2 = base_spec();
  s2.mounts.push_back(bind("/h", "/sys/x"));
  MountPlan p2 = make_mount_plan(s2);
  EXPECT_NE(index_of(p2, MountKind::kFilesystem, "/sys"), SIZE_MAX);
}

TEST(MountPlanUser, ReadonlyRootStaysLastAndLeavesUserMountsAlone) {
  Spec s = base_spec();
  s.readonly_rootfs = true;
  s.mounts.push_back(bind("/h", "/data"));
  MountPlan p = make_mount_plan(s);
  EXPECT_EQ(p.steps.back().kind, MountKind::kReadonlyRoot);
  EXPECT_EQ(p.steps[index_of(p, MountKind::kBind, "/data")].attrs, 0u);
}

}  // namespace
}  // namespace berth::runtime
