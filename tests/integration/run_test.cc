// Real containers through berthctl and the API: isolation, exit codes,
// output, errors, cleanup.
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/strings.h"
#include "ipc/proto/frames.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class RunTest : public DaemonSuite {};

TEST_F(RunTest, EchoHello) {
  auto r = d().ctl({"run", "--rm", "busybox", "echo", "hello from berth"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from berth\n");
}

TEST_F(RunTest, InitIsPid1) {
  auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 2), "1\n");
  EXPECT_THAT(r.out, HasSubstr("sh -c"));
}

TEST_F(RunTest, OwnHostname) {
  auto r = d().ctl({"run", "--rm", "--hostname", "berthbox", "busybox", "hostname"});
  EXPECT_EQ(r.out, "berthbox\n") << r.err;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_NE(std::string(host), "berthbox");
  // Default hostname: the short ID, which berthctl -d prints in full.
  auto id = d().ctl({"run", "-d", "busybox", "hostname"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  std::string cid = id.out.substr(0, 64);
  ASSERT_EQ(d().ctl({"wait", cid}).exit_code, 0);
  auto logs = d().ctl({"logs", cid});
  EXPECT_EQ(logs.out, cid.substr(0, 12) + "\n");
  EXPECT_EQ(d().ctl({"rm", cid}).exit_code, 0);
}

TEST_F(RunTest, OwnRootFilesystem) {
  // The host's /work and the test's temp dir do not exist inside.
  auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c",
                    "ls /; test -e /work && echo HOST-WORK; test -e " + d().dir() + " && echo HOST-TMP; true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bin"));
  EXPECT_THAT(r.out, HasSubstr("etc"));
  EXPECT_THAT(r.out, Not(HasSubstr("HOST-")));
}

TEST_F(RunTest, OwnNetworkNamespaceWithLoopbackOnly) {
  auto r = d().ctl({"run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("lo:"));
  EXPECT_THAT(r.out, Not(HasSubstr("eth")));
}

TEST_F(RunTest, ExitCodesPropagate) {
  EXPECT_EQ(d().ctl({"run", "--rm", "busybox", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(d().ctl({"run", "--rm", "busybox", "false"}).exit_code, 1);
  // Death by a signal is 128 + signal. (A namespace's init cannot be
  // SIGKILLed from inside, so the signal comes from outside.)
  auto id = d().ctl({"run", "-d", "busybox", "sleep", "1000"});
  ASSERT_EQ(id.exit_code, 0) << id.err;
  std::string cid = id.out.substr(0, 64);
  EXPECT_EQ(d().ctl({"kill", cid}).exit_code, 0);
  EXPECT_EQ(d().ctl({"wait", cid}).out, "137\n");
  EXPECT_EQ(d().ctl({"rm", cid}).exit_code, 0);
}

TEST_F(RunTest, StdoutAndStderrKeptApart) {
  auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");

  auto id = d().ctl({"run", "-d", "busybox", "sh", "-c", "echo a; echo b >&2; echo c"});
  std::string cid = id.out.substr(0, 64);
  ASSERT_EQ(d().ctl({"wait", cid}).out, "0\n");
  auto c = d().client();
  // Multiplexed frames: stream byte 1 for stdout, 2 for stderr.
  auto demux = [&](const std::string& query) {
    auto r = c.request("GET", "/containers/" + cid + "/logs?" + query);
    EXPECT_TRUE(r && r->status == 200);
    ipc::FrameReader fr;
    fr.feed(r ? r->body : "");
    std::string streams[3];
    uint8_t s;
    std::string payload;
    while (fr.next(&s, &payload)) streams[s < 3 ? s : 0] += payload;
    EXPECT_EQ(fr.buffered(), 0u);
    return std::pair{streams[1], streams[2]};
  };
  EXPECT_EQ(demux("stdout=1"), (std::pair<std::string, std::string>{"a\nc\n", ""}));
  EXPECT_EQ(demux("stderr=1"), (std::pair<std::string, std::string>{"", "b\n"}));
  EXPECT_EQ(demux("stdout=1&tail=1").first, "c\n");
  auto both = d().ctl({"logs", cid});
  EXPECT_EQ(both.out, "a\nc\n");
  EXPECT_EQ(both.err, "b\n");
  auto ts = d().ctl({"logs", "-t", cid});
  EXPECT_THAT(ts.out, ::testing::MatchesRegex("20[0-9-]+T[0-9:.]+Z a\n20[0-9-]+T[0-9:.]+Z c\n"));
  EXPECT_EQ(d().ctl({"rm", cid}).exit_code, 0);
}

TEST_F(RunTest, MissingCommandFailsFastWithClearError) {
  ASSERT_TRUE(d().wait_warm_quiet());  // no warm init in the making (warm.h)
  int before = d().container_dirs();
  auto r = d().ctl({"run", "--rm", "busybox", "/bin/nope"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_THAT(r.err, HasSubstr("/bin/nope"));
  EXPECT_THAT(r.err, HasSubstr("no such file or directory"));
  auto r2 = d().ctl({"run", "--rm", "busybox", "nope"});
  EXPECT_EQ(r2.exit_code, 127);
  EXPECT_THAT(r2.err, HasSubstr("executable file not found"));
  // Nothing half-made is left: no container, no process, no mount.
  ASSERT_TRUE(d().wait_warm_quiet());
  for (int i = 0; i < 200 && d().container_dirs() != before; i++) usleep(10000);
  EXPECT_EQ(d().container_dirs(), before);
  EXPECT_EQ(d().child_processes(), 0);
  EXPECT_EQ(d().mounts_under(d().root()), 0);
}

TEST_F(RunTest, EnvWorkdirUser) {
  auto r = d().ctl({"run", "--rm", "-e", "FOO=bar", "-w", "/srv/app", "-u", "1000:1000", "busybox", "sh", "-c",
                    "echo $FOO; pwd; id -u; id -g; echo $PATH"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bar\n/srv/app\n1000\n1000\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
  auto named = d().ctl({"run", "--rm", "-u", "nobody", "busybox", "id", "-u"});
  EXPECT_EQ(named.out, "65534\n") << named.err;
  auto bad = d().ctl({"run", "--rm", "-u", "nosuchuser", "busybox", "true"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("nosuchuser"));
}

TEST_F(RunTest, OnlyStdioFdsInherited) {
  auto r = d().ctl({"run", "--rm", "busybox", "ls", "/proc/self/fd"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // 0, 1, 2 and the directory fd ls itself opened.
  EXPECT_EQ(r.out, "0\n1\n2\n3\n");
}

TEST_F(RunTest, RmLeavesNothingBehind) {
  ASSERT_TRUE(d().wait_warm_quiet());  // no warm init in the making (warm.h)
  int dirs = d().container_dirs();
  auto r = d().ctl({"run", "--rm", "busybox", "sh", "-c", "echo x > /tmp/file"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(d().wait_warm_quiet());
  EXPECT_EQ(d().container_dirs(), dirs);
  EXPECT_EQ(d().mounts_under(d().root()), 0);
  auto ps = d().ctl({"ps", "-a", "-q"});
  EXPECT_EQ(ps.out, "");
}

// --rm containers: a forced rm of a running one (with a memory limit, so an
// OOM watch is in flight too) removes it once its process is gone, and a
// restart keeps it (as Docker's does) and runs it again.
TEST_F(RunTest, ForcedRmAndRestartOfRmContainers) {
  for (int i = 0; i < 20; i++) {
    auto r = d().ctl({"run", "-d", "--rm", "-m", "64m", "busybox", "sh", "-c", "seq 1 2000; sleep 1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto rm = d().ctl({"rm", "-f", r.out.substr(0, 64)});
    EXPECT_EQ(rm.exit_code, 0) << rm.err;
  }
  auto r = d().ctl({"run", "-d", "--rm", "--name", "again", "busybox", "sh", "-c", "echo up; sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = d().client();
  auto restarted = c.request("POST", "/containers/again/restart?t=0");
  ASSERT_TRUE(restarted.has_value());
  EXPECT_EQ(restarted->status, 204) << restarted->body;
  Json j = Json::parse(c.request("GET", "/containers/again/json")->body);
  EXPECT_EQ(j["State"]["Running"], true);
  // It still goes away by itself when it exits.
  EXPECT_EQ(d().ctl({"kill", "again"}).exit_code, 0);
  auto wait = c.request("POST", "/containers/again/wait?condition=removed");
  ASSERT_TRUE(wait.has_value());
  EXPECT_TRUE(wait->status == 200 || wait->status == 404) << wait->status;
  int gone = 0;
  for (int i = 0; i < 500 && !gone; i++) {
    gone = c.request("GET", "/containers/again/json")->status == 404;
    if (!gone) usleep(2000);
  }
  EXPECT_TRUE(gone);
  EXPECT_EQ(d().ctl({"ps", "-a", "-q"}).out, "");
  EXPECT_EQ(d().mounts_under(d().root()), 0);
}

// A bridged container restarted at once, again and again: each start's
// veth gets a name of its own (the last run's may still be queued for
// deletion on the tidy lane), so no start fails with "File exists".
TEST_F(RunTest, RestartsInARowNeverReuseAVethName) {
  auto r = d().ctl({"run", "-d", "--name", "restarter", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = d().client();
  for (int i = 0; i < 12; i++) {
    auto restarted = c.request("POST", "/containers/restarter/restart?t=0");
    ASSERT_TRUE(restarted.has_value());
    ASSERT_EQ(restarted->status, 204) << "restart " << i << ": " << restarted->body;
  }
  Json j = Json::parse(c.request("GET", "/containers/restarter/json")->body);
  EXPECT_EQ(j["State"]["Running"], true);
  EXPECT_EQ(d().ctl({"rm", "-f", "restarter"}).exit_code, 0);
}

// berthd holds each container's mount namespace (in its fd vault, so no
// descriptor while it runs) and tears it down on the job lane after the
// exit: the overlay's unmount, which syncs the file system under it, is
// not on the exit's path. A start right after the exit waits for that
// teardown (its overlay mounts the same dirs); once all are done, berthd
// holds no descriptor of a mount namespace.
TEST_F(RunTest, AStartRightAfterAnExitWaitsForTheOldMountNamespace) {
  auto cr = d().ctl({"create", "--name", "cycler", "--network", "none", "busybox", "sh", "-c",
                     "test ! -e /tmp/seen || exit 3; echo > /tmp/seen"});
  ASSERT_EQ(cr.exit_code, 0) << cr.err;
  for (int i = 0; i < 15; i++) {
    auto st = d().ctl({"start", "cycler"});
    ASSERT_EQ(st.exit_code, 0) << "start " << i << ": " << st.err;
    auto w = d().ctl({"wait", "cycler"});
    // The first run leaves /tmp/seen in its upper dir: every later one sees it.
    EXPECT_EQ(w.out, i == 0 ? "0\n" : "3\n") << "run " << i;
  }
  auto mnt_fds = [&] {
    int n = 0;
    std::string dir = "/proc/" + std::to_string(d().pid()) + "/fd";
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      std::error_code ec;
      auto target = std::filesystem::read_symlink(e.path(), ec);
      if (!ec && target.string().rfind("mnt:[", 0) == 0) n++;
    }
    return n;
  };
  int held = -1;
  for (int i = 0; i < 200 && (held = mnt_fds()) != 0; i++) usleep(10000);
  EXPECT_EQ(held, 0);
  EXPECT_EQ(d().ctl({"rm", "cycler"}).exit_code, 0);
}

TEST_F(RunTest, TwoHundredRunsLeakNothing) {
  // Warm up once so lazily opened daemon fds are counted in `before`.
  ASSERT_EQ(d().ctl({"run", "--rm", "busybox", "true"}).exit_code, 0);
  // The daemon refills its network-namespace pool in the background: read
  // the fd count once it holds still (bounded polling, not a timing check).
  auto settled_fds = [&] {
    int last = -2;
    for (int i = 0; i < 100; i++) {
      int now = d().open_fds();
      if (now == last) return now;
      last = now;
      usleep(50000);
    }
    return last;
  };
  // The pool of warm inits is refilled after starts, in idle moments: count
  // once it is full again (its ready members are not containers).
  ASSERT_TRUE(d().wait_warm_quiet());
  int fds = settled_fds(), dirs = d().container_dirs(), children = d().child_processes();
  int mounts = d().mounts_under(d().root());
  for (int i = 0; i < 200; i++) {
    auto r = d().ctl({"run", "--rm", "busybox", "true"});
    ASSERT_EQ(r.exit_code, 0) << "run " << i << ": " << r.err;
  }
  ASSERT_TRUE(d().wait_warm_quiet());
  EXPECT_EQ(settled_fds(), fds);
  EXPECT_EQ(d().container_dirs(), dirs);
  EXPECT_EQ(d().child_processes(), children);
  EXPECT_EQ(d().mounts_under(d().root()), mounts);
  EXPECT_EQ(mounts, 0);
}

}  // namespace
}  // namespace berth::test
