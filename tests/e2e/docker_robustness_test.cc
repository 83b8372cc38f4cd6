// The robustness issue's reproductions, exactly as a user types them with
// the real docker CLI: `docker save busybox | head -c 1000` (which crashed
// berthd, 4 of 4 tries) 100 times, then berthd still answers and runs a
// container. Skipped where no docker CLI exists.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

TEST(DockerRobustness, SaveIntoHeadHundredTimes) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  if (!have_program("docker")) GTEST_SKIP() << "no docker CLI on this machine";
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  std::vector<std::string> env{"DOCKER_HOST=" + d.host(), "DOCKER_CONFIG=" + d.dir() + "/docker-config"};
  int fds = d.open_fds();
  for (int i = 0; i < 100; i++) {
    auto r = run_command({"sh", "-c", "docker save busybox | head -c 1000 | wc -c"}, "", env);
    ASSERT_EQ(r.out, "1000\n") << "try " << i << ": " << r.err << "\n" << d.log();
    auto ping = d.client().request("GET", "/_ping");
    ASSERT_TRUE(ping && ping->status == 200) << "berthd died at try " << i << "\n" << d.log();
  }
  // Every abandoned save let go of its connection and files.
  int now = d.open_fds();
  for (int i = 0; i < 500 && now > fds; i++) {
    ::usleep(10000);
    now = d.open_fds();
  }
  EXPECT_LE(now, fds);
  auto run = run_command({"docker", "run", "--rm", "busybox", "echo", "alive"}, "", env);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "alive\n");
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
