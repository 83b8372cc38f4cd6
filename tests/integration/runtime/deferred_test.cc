// Deferred spawns (warm inits): a container's init made ahead with
// placeholder command, env, user, cwd and hostname, then released as the
// final Spec (late.h). Real containers, as in spawn_test.cc.
#include <sys/stat.h>

#include "core/runtime/late.h"
#include "core/runtime/spawn.h"
#include "tests/integration/runtime/spawn_fixture.h"

namespace berth::runtime {
namespace {

using namespace spawn_testing;  // NOLINT(build/namespaces): the fixture and its helpers

class DeferredTest : public SpawnTest {
 protected:
  void SetUp() override {
    SpawnTest::SetUp();
    spec_.args = {"true"};  // a warm init's placeholder command
  }
  // A warm init of spec_, waiting for its release.
  Result<Process> spawn_warm() {
    Spec warm = spec_;
    warm.deferred = true;
    return spawn(warm);
  }
};

TEST_F(DeferredTest, ReleaseGivesTheFinalCommandEnvUserCwdAndHostname) {
  Spec warm = spec_;
  warm.args = {"true"};
  warm.hostname = "warm";
  Spec final = spec_;
  final.hostname = "final";
  final.user = "1000";
  final.cwd = "/work/dir";
  final.env = {"PATH=/bin", "FOO=bar baz"};
  final.args = {"sh", "-c", "echo $$; hostname; id -u; id -G; pwd; echo \"$FOO\"; echo $HOME; echo err >&2"};
  Outcome o = run_deferred(warm, final);
  EXPECT_RAN(o);
  EXPECT_EQ(o.status.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "1\nfinal\n1000\n1000 50\n/work/dir\nbar baz\n/home/alice\n");
  EXPECT_EQ(o.err, "err\n");
  struct stat st;  // the working directory was made in the container's upper dir
  EXPECT_EQ(::stat((dir_ + "/c/upper/work/dir").c_str(), &st), 0);
}

// The release carries Spec::signals_blocked (--init's), set or not.
TEST_F(DeferredTest, ReleaseCarriesSignalsBlocked) {
  Spec final = spec_;
  final.args = {"grep", "SigBlk", "/proc/self/status"};
  Outcome o = run_deferred(spec_, final);
  EXPECT_RAN(o);
  EXPECT_EQ(o.out, "SigBlk:\t0000000000000000\n");
  final.signals_blocked = true;
  o = run_deferred(spec_, final);
  EXPECT_RAN(o);
  EXPECT_TRUE(blocks_signal(o.out, SIGTERM)) << o.out;
  EXPECT_TRUE(blocks_signal(o.out, SIGCHLD)) << o.out;
}

TEST_F(DeferredTest, ErrorsNameTheFinalSpec) {
  Spec final = spec_;
  final.args = {"nope"};
  Outcome o = run_deferred(spec_, final);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "exec: \"nope\": executable file not found in $PATH");
  EXPECT_EQ(o.status.exit_code, 127);

  Spec again = container_spec("d");
  again.args = {"true"};
  final = again;
  final.args = {"true"};
  final.user = "mallory";
  o = run_deferred(again, final);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "unable to find user mallory: no matching entries in passwd file");
}

TEST_F(DeferredTest, WorkingDirectoryThroughAFileFailsAsItsMountStep) {
  Spec final = spec_;
  final.args = {"true"};
  final.cwd = "/etc/passwd/x";
  Outcome o = run_deferred(spec_, final);
  ASSERT_FALSE(o.exec);
  EXPECT_EQ(o.exec.error().message(), "mkdir working directory \"/etc/passwd/x\": not a directory");
  Spec cold = container_spec("d");  // the same message as without deferring
  cold.args = final.args;
  cold.cwd = final.cwd;
  Outcome c = run(cold);
  ASSERT_FALSE(c.exec);
  EXPECT_EQ(c.exec.error().message(), o.exec.error().message());
}

TEST_F(DeferredTest, NoStdioMeansDevNull) {
  auto p = spawn_warm();
  ASSERT_TRUE(p) << p.error().message();
  Spec final = spec_;
  final.args = {"sh", "-c", "test -c /proc/self/fd/1 && test \"$(readlink /proc/self/fd/0)\" = /dev/null"};
  ASSERT_TRUE(release(*p, final));
  EXPECT_TRUE(wait_exec(*p, final));
  EXPECT_EQ(wait_exit(p->pidfd.get()).exit_code, 0);
}

TEST_F(DeferredTest, AnInitGivenUpBeforeReleaseExitsQuietly) {
  auto p = spawn_warm();
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_FALSE(release(*p)) << "a deferred init must not take a plain release";
  p->sync_fd.reset();
  EXPECT_EQ(wait_exit(p->pidfd.get()).exit_code, 0);
}

TEST_F(DeferredTest, TooBigAReleaseIsRefusedAndTheInitStillWaits) {
  auto p = spawn_warm();
  ASSERT_TRUE(p) << p.error().message();
  Spec big = spec_;
  big.args = {"true"};
  big.env.push_back("X=" + std::string(kLateMax, 'x'));
  auto r = release(*p, big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  Spec final = spec_;
  final.args = {"sh", "-c", "exit 3"};
  ASSERT_TRUE(release(*p, final));
  EXPECT_TRUE(wait_exec(*p, final));
  EXPECT_EQ(wait_exit(p->pidfd.get()).exit_code, 3);
}

}  // namespace
}  // namespace berth::runtime
