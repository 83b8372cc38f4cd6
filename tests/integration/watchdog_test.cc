// "The reactor thread never blocks", checked: a berthd with its watchdog on
// (--debug-watchdog-ms, core/reactor/reactor.h: it names every callback
// that held the loop over the threshold while the thread blocked or
// computed) runs a busy mix of 200 concurrent starts, a log flood through
// rotation, commits and removals; the daemon must log no watchdog line.
// The watchdog counts blocking (voluntary context switches) and CPU time,
// not wall time alone, so a preempted callback on a busy machine does not
// count against it. Its threshold here is 20 ms of blocking (100 ms of
// CPU): what it is for is a callback that sleeps in a syscall (an fsync, a
// blocking connect, a cgroup rmdir waiting for the kernel), not
// milliseconds, which a loaded machine adds to any callback (a page fault
// waiting for a job thread's mmap, 8 ms of one on a CI run) and which the
// benchmarks and /metrics' reactor histogram measure instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

TEST(WatchdogTest, NoCallbackBlocksTheLoopUnderStartsLogFloodsAndCommits) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  TestDaemon d;
  d.set_extra_args({"--debug-watchdog-ms=20", "--log-opt=max-size=1m", "--log-opt=max-file=2"});
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;

  // A log flood through rotation (64 MiB in 1 MiB files) and a container
  // to commit, both running while the starts come in.
  auto flood = d.ctl({"run", "-d", "--name", "flood", "busybox", "sh", "-c",
                      "i=0; while [ $i -lt 64 ]; do head -c 1048576 /dev/zero | tr '\\0' x; i=$((i+1)); done"});
  ASSERT_EQ(flood.exit_code, 0) << flood.err;
  auto base = d.ctl({"run", "-d", "--name", "base", "busybox", "sh", "-c",
                     "mkdir -p /data && i=0; while [ $i -lt 200 ]; do echo $i > /data/f$i; i=$((i+1)); done; sleep 60"});
  ASSERT_EQ(base.exit_code, 0) << base.err;

  constexpr int kStarts = 200;
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kStarts; i++)
    clients.emplace_back([&d, &failed] {
      if (d.ctl({"run", "--rm", "busybox", "true"}).exit_code != 0) failed++;
    });
  for (int i = 0; i < 3; i++) {
    auto commit = d.ctl({"commit", "base", "committed:" + std::to_string(i)});
    EXPECT_EQ(commit.exit_code, 0) << commit.err;
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  auto wait = d.ctl({"wait", "flood"});
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  EXPECT_EQ(wait.out, "0\n");
  EXPECT_EQ(d.ctl({"rm", "-f", "flood", "base"}).exit_code, 0);
  for (int i = 0; i < 3; i++) EXPECT_EQ(d.ctl({"rmi", "committed:" + std::to_string(i)}).exit_code, 0);

  // The daemon really ran with its watchdog: it says so at start.
  std::string log = d.log();
  EXPECT_THAT(log, ::testing::HasSubstr("watchdog on"));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("held the loop"))) << log;
  EXPECT_EQ(d.stop(), 0) << d.log();
}

}  // namespace
}  // namespace berth::test
