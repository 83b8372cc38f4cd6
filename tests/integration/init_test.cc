// --init (HostConfig.Init): berth-init as PID 1 reaps orphaned zombies,
// forwards signals (stop's SIGTERM, kill's USR1) to the command, and exits
// with the command's status. Each check has its control without --init.
#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class InitTest : public DaemonSuite {
 protected:
  // The number of zombie processes in the container (state Z in /proc/<pid>/stat).
  int zombies(const std::string& id) {
    auto r = d().ctl({"exec", id, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null"});
    int n = 0;
    for (size_t at = r.out.find(") Z "); at != std::string::npos; at = r.out.find(") Z ", at + 1)) n++;
    return n;
  }
  // Polls zombies() for up to 10 s until `want(n)`.
  bool zombies_become(const std::string& id, bool (*want)(int)) {
    for (int i = 0; i < 200; i++) {
      if (want(zombies(id))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

// A background child of a subshell that exits at once: orphaned, it is
// re-parented to PID 1, which must reap it when it exits.
const std::vector<std::string> kOrphanMaker = {"busybox", "sh", "-c", "(sleep 0.2 &); exec sleep 1000"};

TEST_F(InitTest, ReapsOrphanedZombies) {
  std::vector<std::string> args{"--init"};
  args.insert(args.end(), kOrphanMaker.begin(), kOrphanMaker.end());
  std::string id = run_d(args);
  ASSERT_FALSE(id.empty());
  Json j = inspect(id);
  EXPECT_EQ(j["HostConfig"]["Init"], true);
  EXPECT_EQ(j["Path"], "sh");   // the user's command, as Docker shows it
  auto pid1 = d().ctl({"exec", id, "cat", "/proc/1/cmdline"});
  EXPECT_THAT(pid1.out, HasSubstr("/sbin/berth-init"));
  // Give the orphan time to exit (it is gone from the list once reaped, so
  // wait for the sleep 0.2 to end first), then no zombie is left.
  auto gone = d().ctl({"exec", id, "sh", "-c",
                       "for i in $(seq 100); do grep -l '^sleep$' /proc/[0-9]*/comm 2>/dev/null | wc -l | grep -qx 1 "
                       "&& break; sleep 0.1; done"});
  EXPECT_EQ(gone.exit_code, 0);
  EXPECT_TRUE(zombies_become(id, [](int n) { return n == 0; }));
  EXPECT_EQ(zombies(id), 0);
  EXPECT_EQ(d().ctl({"rm", "-f", id}).exit_code, 0);

  // Control: without --init, `sleep` is PID 1 and never reaps it.
  std::string bare = run_d(kOrphanMaker);
  ASSERT_FALSE(bare.empty());
  EXPECT_TRUE(zombies_become(bare, [](int n) { return n >= 1; })) << "the test's zombie never appeared";
  EXPECT_EQ(d().ctl({"rm", "-f", bare}).exit_code, 0);
}

TEST_F(InitTest, StopsPromptlyWithTheCommandsStatus) {
  // sleep has no SIGTERM handler: as PID 1 it would ignore stop's TERM and
  // be killed after the timeout (137); under berth-init the forwarded TERM
  // ends it (143) without waiting for the 60 s.
  std::string id = run_d({"--init", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  auto stop = d().ctl({"stop", "-t", "60", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 143);
  // Other signals are forwarded too, and the exit code is the command's.
  EXPECT_EQ(d().ctl({"start", id}).exit_code, 0);
  EXPECT_EQ(d().ctl({"kill", "-s", "USR1", id}).exit_code, 0);
  EXPECT_EQ(d().ctl({"wait", id}).out, "138\n");   // 128 + SIGUSR1
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
  // berth-init is exec'd with every signal blocked (a TERM sent right after
  // the start waits for it); the command gets none blocked.
  auto mask = d().ctl({"run", "--rm", "--init", "busybox", "grep", "SigBlk", "/proc/self/status"});
  EXPECT_EQ(mask.out, "SigBlk:\t0000000000000000\n") << mask.err;
  auto code = d().ctl({"run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"});
  EXPECT_EQ(code.exit_code, 7) << code.err;
  auto missing = d().ctl({"run", "--rm", "--init", "busybox", "no-such-command"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_THAT(missing.err, HasSubstr("no-such-command"));
  // Control: without --init the same stop needs the SIGKILL.
  std::string bare = run_d({"busybox", "sleep", "1000"});
  ASSERT_FALSE(bare.empty());
  EXPECT_EQ(d().ctl({"stop", "-t", "1", bare}).exit_code, 0);
  EXPECT_EQ(inspect(bare)["State"]["ExitCode"], 137);
  EXPECT_EQ(d().ctl({"rm", bare}).exit_code, 0);
}

}  // namespace
}  // namespace berth::test
