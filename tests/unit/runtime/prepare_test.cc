// PATH candidates, capabilities, spec validation and child error messages:
// pure, no root.
#include "core/runtime/prepare.h"

#include <fcntl.h>
#include <linux/capability.h>

#include <gtest/gtest.h>

#include "core/base/unique_fd.h"
#include "core/runtime/child_error.h"
#include "core/runtime/mount_plan.h"

namespace berth::runtime {
namespace {

using Strings = std::vector<std::string>;

Spec valid_spec() {
  Spec s;
  s.id = std::string(64, 'b');
  s.lower_dirs = {"/l/0"};
  s.upper_dir = "/c/upper";
  s.work_dir = "/c/work";
  s.rootfs_dir = "/c/rootfs";
  s.args = {"sh", "-c", "true"};
  s.env = {"PATH=/bin", "A=1"};
  return s;
}

TEST(ExecCandidates, SlashMeansNoLookup) {
  EXPECT_EQ(exec_candidates("/bin/sh", {"PATH=/x"}), Strings{"/bin/sh"});
  EXPECT_EQ(exec_candidates("./run", {}), Strings{"./run"});
}

TEST(ExecCandidates, DefaultPath) {
  EXPECT_EQ(exec_candidates("sh", {"HOME=/"}),
            (Strings{"/usr/local/sbin/sh", "/usr/local/bin/sh", "/usr/sbin/sh", "/usr/bin/sh",
                     "/sbin/sh", "/bin/sh"}));
}

TEST(ExecCandidates, EnvPathLastWinsAndEmptyIsDot) {
  EXPECT_EQ(exec_candidates("app", {"PATH=/a", "PATH=/opt/bin/::/b"}),
            (Strings{"/opt/bin/app", "./app", "/b/app"}));
}

TEST(Capabilities, DockerDefaultMask) {
  EXPECT_EQ(default_capabilities(), 0xa80425fbULL);  // CapBnd of a default Docker container
  EXPECT_FALSE(default_capabilities() & (1ULL << CAP_SYS_ADMIN));
}

TEST(Prepare, ArgvEnvAndHomeSlot) {
  Prepared p;
  ASSERT_TRUE(prepare(valid_spec(), &p));
  ASSERT_EQ(p.argv.size(), 4u);
  EXPECT_STREQ(p.args.argv[0], "sh");
  EXPECT_EQ(p.args.argv[3], nullptr);
  // env + HOME slot + terminator
  ASSERT_EQ(p.envp.size(), 4u);
  EXPECT_EQ(p.args.home_slot, 2);
  EXPECT_EQ(p.args.envp[3], nullptr);
  EXPECT_EQ(p.args.exec_path_count, 1u);
  EXPECT_STREQ(p.args.exec_paths[0], "/bin/sh");
  EXPECT_STREQ(p.args.hostname, "bbbbbbbbbbbb");  // id[:12] by default
  EXPECT_STREQ(p.args.cwd, "/");
  EXPECT_TRUE(p.args.loopback_up);
  EXPECT_TRUE(p.args.unshare_cgroupns);

  Spec s = valid_spec();
  s.env.push_back("HOME=/h");
  s.hostname = "web";
  Prepared q;
  ASSERT_TRUE(prepare(s, &q));
  EXPECT_EQ(q.args.home_slot, -1);
  EXPECT_STREQ(q.args.hostname, "web");
}

TEST(Prepare, RejectsBadSpecs) {
  Spec s = valid_spec();
  s.args.clear();
  Prepared p1;
  EXPECT_EQ(prepare(s, &p1).error().code(), Code::kInvalidArgument);
  s = valid_spec();
  s.lower_dirs.clear();
  Prepared p2;
  EXPECT_FALSE(prepare(s, &p2));
  s = valid_spec();
  s.cwd = "relative";
  Prepared p3;
  EXPECT_FALSE(prepare(s, &p3));
  s = valid_spec();
  s.user = "a:b:c";
  Prepared p4;
  EXPECT_FALSE(prepare(s, &p4));
}

TEST(Prepare, NetnsFdMustBeANetworkNamespaceOwnedByTheContainer) {
  unique_fd own(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));  // readable without root
  ASSERT_TRUE(own);
  Spec s = valid_spec();
  s.netns_fd = own.get();
  Prepared ok_prep;
  ASSERT_TRUE(prepare(s, &ok_prep));
  EXPECT_EQ(ok_prep.args.netns_fd, own.get());
  EXPECT_FALSE(ok_prep.args.loopback_up);  // a pooled netns has lo up already

  s.new_netns = false;  // the host network and a netns of its own: contradictory
  Prepared host;
  EXPECT_EQ(prepare(s, &host).error().code(), Code::kInvalidArgument);

  unique_fd uts(::open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(uts);
  s = valid_spec();
  s.netns_fd = uts.get();
  Prepared wrong;
  auto r = prepare(s, &wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("is not a network namespace"), std::string::npos) << r.error().message();

  s = valid_spec();
  Prepared fresh;
  ASSERT_TRUE(prepare(s, &fresh));
  EXPECT_EQ(fresh.args.netns_fd, -1);
  EXPECT_TRUE(fresh.args.loopback_up);
}

Error describe(Stage st, int err, const Spec& spec) {
  return describe_child_error(ChildError{int32_t(st), err}, spec);
}

TEST(ChildErrorMessage, Exec) {
  Spec s = valid_spec();
  s.args = {"nope"};
  EXPECT_EQ(describe(Stage::kExec, ENOENT, s).message(), "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(describe(Stage::kExec, EACCES, s).message(), "exec: \"nope\": permission denied");
  s.args = {"/bin/nope"};
  EXPECT_EQ(describe(Stage::kExec, ENOENT, s).message(), "exec /bin/nope: no such file or directory");
  EXPECT_EQ(describe(Stage::kExec, EACCES, s).message(), "exec /bin/nope: permission denied");
  EXPECT_EQ(describe(Stage::kExec, ENOEXEC, s).message(), "exec /bin/nope: exec format error");
  EXPECT_EQ(describe(Stage::kExec, ENOENT, s).code(), Code::kInvalidArgument);
  EXPECT_EQ(describe(Stage::kExec, ENOENT, s).sys_errno(), ENOENT);
}

TEST(ChildErrorMessage, UserGroupCwd) {
  Spec s = valid_spec();
  s.user = "nope";
  EXPECT_EQ(describe(Stage::kUserNotFound, ENOENT, s).message(),
            "unable to find user nope: no matching entries in passwd file");
  s.user = "alice:nogroup";
  EXPECT_EQ(describe(Stage::kGroupNotFound, ENOENT, s).message(),
            "unable to find group nogroup: no matching entries in group file");
  s.cwd = "/etc/passwd";
  EXPECT_EQ(describe(Stage::kChdir, ENOTDIR, s).message(),
            "chdir to cwd (\"/etc/passwd\") set in container config failed: not a directory");
}

TEST(ChildErrorMessage, MountSteps) {
  Spec s = valid_spec();
  MountPlan plan = make_mount_plan(s);
  auto stage = [](size_t i) { return Stage(int32_t(Stage::kMountStep) + int32_t(i)); };
  EXPECT_EQ(describe(stage(1), EINVAL, s).message(), "mount overlay on /c/rootfs: invalid argument");
  for (size_t i = 0; i < plan.steps.size(); i++) {
    if (plan.steps[i].kind == MountKind::kFilesystem && plan.steps[i].target == "/proc") {
      EXPECT_EQ(describe(stage(i), ENODEV, s).message(), "mount proc on /proc: no such device");
    }
    if (plan.steps[i].kind == MountKind::kMakeDir) {
      EXPECT_EQ(describe(stage(i), ENOTDIR, s).message(), "mkdir working directory \"/\": not a directory");
    }
  }
  EXPECT_EQ(describe(stage(999), EIO, s).message(), "mount step 999: input/output error");
  EXPECT_EQ(describe(Stage::kHostname, EPERM, s).message(), "set hostname: operation not permitted");
  EXPECT_EQ(describe(Stage::kJoinNetns, EINVAL, s).message(), "join network namespace: invalid argument");
  EXPECT_EQ(describe(Stage(77), EPERM, s).message(), "container init setup stage 77: operation not permitted");
}

}  // namespace
}  // namespace berth::runtime
