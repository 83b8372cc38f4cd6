// Default confinement of containers run by berthd (the findings
// through berthctl): the devices cgroup allowlist, the seccomp filter,
// no_new_privs off, for `run` (cold and from a warm init) and for `exec`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;

class SecurityDaemonTest : public DaemonSuite {};

// The reproduction: mknod works (Docker allows "c *:* m") but the
// node it makes, the host console's vcs here, cannot be read or written.
TEST_F(SecurityDaemonTest, MknodDeviceIsUnusable) {
  for (int i = 0; i < 2; i++) {  // the second run may take a warm init
    auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c",
                      "mknod /dev/v c 7 0 && echo made; head -c 100 /dev/v; echo hi > /dev/v; echo x > /dev/null && echo null-ok"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "made\nnull-ok\n");
    EXPECT_THAT(r.err, HasSubstr("head: /dev/v: Operation not permitted"));
    EXPECT_THAT(r.err, HasSubstr("/dev/v: Operation not permitted"));
  }
}

TEST_F(SecurityDaemonTest, SeccompAndNoNewPrivsByDefault) {
  for (int i = 0; i < 2; i++) {
    auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c",
                      "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status;"
                      " unshare -U -r -m sh -c 'mount -t tmpfs t /tmp' 2>/dev/null && echo mounted || echo refused"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "CapEff:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\nrefused\n");
  }
}

TEST_F(SecurityDaemonTest, ExecIsConfinedLikeTheContainer) {
  auto id = d().ctl({"run", "-d", "busybox", "sleep", "1000"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  std::string cid = id.out.substr(0, 64);
  auto r = d().ctl({"exec", cid, "sh", "-c",
                    "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mknod /dev/w c 7 0; head -c 1 /dev/w"});
  EXPECT_EQ(r.out, "NoNewPrivs:\t0\nSeccomp:\t2\n");
  EXPECT_THAT(r.err, HasSubstr("head: /dev/w: Operation not permitted"));
  EXPECT_EQ(d().ctl({"rm", "-f", cid}).exit_code, 0);
}

}  // namespace
}  // namespace berth::test
