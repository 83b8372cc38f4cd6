// The daemon itself: one per root, state that survives a restart, clean
// shutdown with running containers.
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
  }
};

TEST_F(DaemonTest, SecondDaemonOnSameRootIsRefused) {
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  auto r = run_command({bin_path("berthd"), "--root=" + d.root(), "--exec-root=" + d.dir() + "/exec2"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("another berthd"));
  EXPECT_THAT(r.err, HasSubstr(std::to_string(d.pid())));
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(DaemonTest, StateSurvivesRestart) {
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto done = d.ctl({"run", "--name", "done", "busybox", "sh", "-c", "echo kept; exit 4"});
  EXPECT_EQ(done.exit_code, 4);
  auto made = d.ctl({"create", "--name", "made", "busybox", "true"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto running = d.ctl({"run", "-d", "--name", "running", "busybox", "sleep", "1000"});
  ASSERT_EQ(running.exit_code, 0) << running.err;
  // SIGTERM stops the daemon and (for now) its containers, cleanly.
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(d.mounts_under(d.root()), 0);
  ASSERT_TRUE(d.start(&err)) << err;
  auto c = d.client();
  Json j = Json::parse(c.request("GET", "/containers/done/json")->body);
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 4);
  EXPECT_EQ(d.ctl({"logs", "done"}).out, "kept\n");
  EXPECT_EQ(Json::parse(c.request("GET", "/containers/made/json")->body)["State"]["Status"], "created");
  EXPECT_EQ(Json::parse(c.request("GET", "/containers/running/json")->body)["State"]["Running"], false);
  // The image survived too, and a restarted container runs again.
  EXPECT_EQ(d.ctl({"start", "made"}).exit_code, 0);
  EXPECT_EQ(d.ctl({"wait", "made"}).out, "0\n");
  EXPECT_EQ(d.stop(), 0);
}

TEST_F(DaemonTest, CrashedDaemonRestartsAndMarksContainersExited) {
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto running = d.ctl({"run", "-d", "--name", "victim", "busybox", "sleep", "1000"});
  ASSERT_EQ(running.exit_code, 0) << running.err;
  std::string cgroup = d.container_cgroup("memory", running.out.substr(0, 64));
  EXPECT_TRUE(std::filesystem::exists(cgroup)) << cgroup;
  // An AutoRemove container lost in the crash is removed at the restart.
  auto ephemeral = d.ctl({"run", "-d", "--rm", "--name", "ephemeral", "busybox", "sleep", "1000"});
  ASSERT_EQ(ephemeral.exit_code, 0) << ephemeral.err;
  std::string ephemeral_dir = d.root() + "/containers/" + ephemeral.out.substr(0, 64);
  EXPECT_TRUE(std::filesystem::exists(ephemeral_dir));
  d.crash();  // SIGKILL: the container's init dies with it (PDEATHSIG)
  ASSERT_TRUE(d.start(&err)) << err;
  // The lost container's cgroup is cleaned up by the restarted daemon.
  EXPECT_FALSE(std::filesystem::exists(cgroup)) << cgroup;
  auto c = d.client();
  Json j = Json::parse(c.request("GET", "/containers/victim/json")->body);
  EXPECT_EQ(j["State"]["Running"], false);
  EXPECT_THAT(j["State"]["Error"].get<std::string>(), HasSubstr("stopped unexpectedly"));
  EXPECT_EQ(c.request("GET", "/containers/ephemeral/json")->status, 404);
  EXPECT_FALSE(std::filesystem::exists(ephemeral_dir)) << ephemeral_dir;
  EXPECT_EQ(d.ctl({"rm", "victim"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
