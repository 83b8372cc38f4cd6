// Warm inits (core/engine/warm.h): after a start, berthd makes container
// inits ahead of time for that image; a create that fits takes one (its id
// is the warm init's), and start releases it with the container's own
// command, env, user, directory, hostname, tty and stdio. Here: that they
// are used, give exactly what a cold start gives, are never used where they
// do not fit, and are cleaned up on rm, rmi, daemon stop and after a crash.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/file.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;

class WarmTest : public DaemonSuite {
 protected:
  // Starts a container of `image` so that its warm inits are made, then
  // waits until one is ready; returns the ready ones.
  std::map<std::string, pid_t> ready_warm(const std::string& image = "busybox") {
    auto w = d().warm_inits();
    if (w.empty()) {
      EXPECT_EQ(d().ctl({"run", "--rm", image, "true"}).exit_code, 0);
    }
    for (int i = 0; i < 500 && w.empty(); i++) {
      usleep(10000);
      w = d().warm_inits();
    }
    return w;
  }
  std::string created(const std::vector<std::string>& args) {
    auto r = d().ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, std::min<size_t>(64, r.out.size()));
  }
  bool gone(const std::string& path) {
    for (int i = 0; i < 500; i++) {
      if (!std::filesystem::exists(path)) return true;
      usleep(10000);
    }
    return false;
  }
};

TEST_F(WarmTest, ARunTakesAWarmInitWithItsOwnCommandEnvUserDirAndHostname) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty()) << d().log();
  // Made by the keeper, and its children (runtime/keeper.h): it reaps them.
  for (const auto& [wid, pid] : warm) {
    auto stat = read_file(fmt::format("/proc/{}/stat", pid));
    ASSERT_TRUE(stat);
    EXPECT_EQ(std::atoi(stat->substr(stat->rfind(')') + 4).c_str()), d().keeper_pid());
  }
  std::string id = created({"run", "-d", "-e", "X=from env", "-w", "/made/here", "-u", "1000:50", "--hostname",
                            "warmbox", "busybox", "sh", "-c",
                            "echo \"$X\" $(id -u):$(id -g) $(pwd) $(hostname) $HOSTNAME $$; echo to stderr >&2"});
  ASSERT_EQ(id.size(), 64u);
  EXPECT_TRUE(warm.count(id)) << "the container did not take a warm init";
  EXPECT_TRUE(d().wait_log("release id=" + id + " pid=" + std::to_string(warm[id]) + " (warm)")) << d().log();
  EXPECT_EQ(d().ctl({"wait", id}).out, "0\n");
  auto logs = d().ctl({"logs", id});
  EXPECT_EQ(logs.out, "from env 1000:50 /made/here warmbox warmbox 1\n");
  EXPECT_EQ(logs.err, "to stderr\n");
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
}

TEST_F(WarmTest, DefaultHostnameIsTheAdoptedId) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty());
  std::string id = created({"run", "-d", "busybox", "sh", "-c", "hostname; echo $HOSTNAME"});
  EXPECT_TRUE(warm.count(id));
  EXPECT_EQ(d().ctl({"wait", id}).out, "0\n");
  EXPECT_EQ(d().ctl({"logs", id}).out, id.substr(0, 12) + "\n" + id.substr(0, 12) + "\n");
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
}

TEST_F(WarmTest, TtyAndStdinThroughAWarmInit) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty());
  std::string id = created({"run", "-d", "-t", "busybox", "sh", "-c", "tty; test -t 0 && echo term"});
  EXPECT_TRUE(warm.count(id));
  EXPECT_EQ(d().ctl({"wait", id}).out, "0\n");
  EXPECT_EQ(d().ctl({"logs", id}).out, "/dev/pts/0\r\nterm\r\n");
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);

  ready_warm();
  auto r = d().ctl({"run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"}, "through stdin\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "through stdin\ndone\n");
}

TEST_F(WarmTest, ErrorsAreTheContainersOwn) {
  ready_warm();
  auto r = d().ctl({"run", "--rm", "busybox", "nope"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_THAT(r.err, HasSubstr("exec: \"nope\": executable file not found in $PATH"));
  ready_warm();
  r = d().ctl({"run", "--rm", "-u", "mallory", "busybox", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("unable to find user mallory"));
}

TEST_F(WarmTest, ContainersThatDoNotFitStartCold) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty());
  for (std::vector<std::string> extra : {std::vector<std::string>{"--read-only"},
                                         {"-v", "/data"},
                                         {"--tmpfs", "/scratch"},
                                         {"--network", "host"}}) {
    std::vector<std::string> args = {"create"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"busybox", "true"});
    std::string id = created(args);
    EXPECT_FALSE(warm.count(id)) << extra[0] << " took a warm init whose mounts differ";
    auto started = d().ctl({"start", id});
    EXPECT_EQ(started.exit_code, 0) << started.err;
    EXPECT_EQ(d().ctl({"wait", id}).out, "0\n");
    EXPECT_EQ(d().ctl({"rm", "-v", id}).exit_code, 0);
  }
  // Another cgroup parent than the daemon's, where warm inits are made: not
  // started here (its parent directory would outlive the test).
  auto c = d().client();
  auto r = c.request("POST", "/containers/create",
                     R"({"Image":")" + std::string("busybox") + R"(","Cmd":["true"],"HostConfig":{"CgroupParent":")" +
                         d().cgroup_parent() + "-other\"}}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  std::string other = r->body.substr(r->body.find("\"Id\":\"") + 6, 64);
  EXPECT_FALSE(warm.count(other)) << "a warm init was given to another cgroup parent";
  EXPECT_EQ(d().ctl({"rm", other}).exit_code, 0);
  // The warm inits are still there, unused.
  for (const auto& [id, pid] : warm) EXPECT_TRUE(d().warm_inits().count(id)) << id;
}

TEST_F(WarmTest, RemovingACreatedContainerEndsItsWarmInit) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty());
  std::string id = created({"create", "busybox", "true"});
  ASSERT_TRUE(warm.count(id));
  pid_t pid = warm[id];
  std::string cgroup = d().container_cgroup("pids", id);
  ASSERT_FALSE(cgroup.empty());
  EXPECT_TRUE(std::filesystem::exists(cgroup));
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
  EXPECT_TRUE(gone(fmt::format("/proc/{}", pid))) << "the warm init is still alive or unreaped";
  EXPECT_TRUE(gone(cgroup));
  EXPECT_TRUE(gone(d().root() + "/containers/" + id));
}

TEST_F(WarmTest, AWarmInitThatDiesLeavesThePool) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty());
  auto [id, pid] = *warm.begin();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);  // a child of the test's own daemon
  EXPECT_TRUE(gone(d().root() + "/containers/" + id)) << "a dead warm init stayed in the pool";
  EXPECT_TRUE(gone(fmt::format("/proc/{}", pid))) << "not reaped";
  // And the next container does not get it.
  std::string next = created({"run", "-d", "busybox", "true"});
  EXPECT_NE(next, id);
  EXPECT_EQ(d().ctl({"wait", next}).out, "0\n");
  EXPECT_EQ(d().ctl({"rm", next}).exit_code, 0);
}

TEST_F(WarmTest, CopyIntoACreatedContainerLandsInItsRoot) {
  auto warm = ready_warm();
  ASSERT_FALSE(warm.empty());
  std::string id = created({"create", "busybox", "cat", "/copied"});
  ASSERT_TRUE(warm.count(id));
  std::string local = d().dir() + "/copied";
  std::ofstream(local) << "copied in\n";
  auto cp = d().ctl({"cp", local, id + ":/copied"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_EQ(d().ctl({"start", id}).exit_code, 0);
  EXPECT_EQ(d().ctl({"wait", id}).out, "0\n");
  EXPECT_EQ(d().ctl({"logs", id}).out, "copied in\n");
  EXPECT_EQ(d().ctl({"rm", id}).exit_code, 0);
}

TEST_F(WarmTest, RemovingTheImageEndsItsWarmInits) {
  // An image of its own: a commit of a busybox container.
  std::string src = created({"run", "-d", "busybox", "sh", "-c", "echo x > /marker"});
  EXPECT_EQ(d().ctl({"wait", src}).out, "0\n");
  ASSERT_EQ(d().ctl({"commit", src, "warmimg:1"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"rm", src}).exit_code, 0);
  std::string image = d().ctl({"inspect", "-f", "{{.Id}}", "warmimg:1"}).out;
  image = image.substr(0, image.find('\n'));
  ASSERT_THAT(image, ::testing::StartsWith("sha256:"));
  ASSERT_EQ(d().ctl({"run", "--rm", "warmimg:1", "true"}).exit_code, 0);
  // Its warm inits: the log names each one's image.
  auto of_image = [&] {
    std::map<std::string, pid_t> mine;
    std::string log = d().log();
    for (const auto& [id, pid] : d().warm_inits()) {
      size_t at = log.find("warm init id=" + id);
      if (at != std::string::npos && log.substr(at, log.find('\n', at) - at).find("image=" + image) != std::string::npos)
        mine[id] = pid;
    }
    return mine;
  };
  auto mine = of_image();
  for (int i = 0; i < 500 && mine.empty(); i++) {
    usleep(10000);
    mine = of_image();
  }
  ASSERT_FALSE(mine.empty()) << "no warm init for warmimg:1";
  ASSERT_EQ(d().ctl({"rmi", "warmimg:1"}).exit_code, 0);
  for (const auto& [id, pid] : mine) {
    EXPECT_TRUE(gone(fmt::format("/proc/{}", pid))) << id;
    EXPECT_TRUE(gone(d().root() + "/containers/" + id)) << id;
  }
}

// A daemon of its own: stop, crash and restart.
TEST(WarmDaemonTest, StopAndCrashLeaveNoWarmInitBehind) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto wait_ready = [&] {
    std::map<std::string, pid_t> w;
    EXPECT_EQ(d.ctl({"run", "--rm", "busybox", "true"}).exit_code, 0);
    for (int i = 0; i < 500 && w.empty(); i++) {
      usleep(10000);
      w = d.warm_inits();
    }
    return w;
  };
  auto warm = wait_ready();
  ASSERT_FALSE(warm.empty());
  std::vector<std::string> cgroups;
  for (const auto& [id, pid] : warm) cgroups.push_back(d.container_cgroup("pids", id));
  ASSERT_EQ(d.stop(), 0);
  for (const auto& [id, pid] : warm) {
    EXPECT_FALSE(std::filesystem::exists(d.root() + "/containers/" + id)) << id;
    EXPECT_FALSE(std::filesystem::exists(fmt::format("/proc/{}", pid))) << pid;
  }
  for (const auto& cg : cgroups) EXPECT_FALSE(std::filesystem::exists(cg)) << cg;

  // A crash leaves their directories and cgroups; the next start removes them.
  ASSERT_TRUE(d.start(&err)) << err;
  warm = wait_ready();
  ASSERT_FALSE(warm.empty());
  cgroups.clear();
  for (const auto& [id, pid] : warm) cgroups.push_back(d.container_cgroup("pids", id));
  d.crash();
  for (const auto& [id, pid] : warm) EXPECT_TRUE(std::filesystem::exists(d.root() + "/containers/" + id));
  ASSERT_TRUE(d.start(&err)) << err;
  for (const auto& [id, pid] : warm) EXPECT_FALSE(std::filesystem::exists(d.root() + "/containers/" + id)) << id;
  for (const auto& cg : cgroups) EXPECT_FALSE(std::filesystem::exists(cg)) << cg;
  EXPECT_EQ(d.ctl({"ps", "-a", "-q"}).out, "");
  EXPECT_EQ(d.stop(), 0);
}

// Without its keeper (killed here), berthd makes warm inits again: by
// itself until a new keeper runs, then through it.
TEST(WarmDaemonTest, WarmInitsOutliveTheKeeper) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  ASSERT_GT(d.keeper_pid(), 0) << "berthd started no keeper";
  ASSERT_TRUE(d.kill_keeper());
  auto before = d.warm_inits();
  for (int run = 0; run < 2; run++) ASSERT_EQ(d.ctl({"run", "--rm", "busybox", "true"}).exit_code, 0);
  bool fresh = false;
  for (int i = 0; i < 500 && !fresh; i++) {
    usleep(10000);
    for (const auto& [id, pid] : d.warm_inits()) fresh |= !before.count(id);
  }
  EXPECT_TRUE(fresh) << "no warm init was made without the spawner:\n" << d.log();
  std::string id = d.ctl({"run", "-d", "busybox", "true"}).out.substr(0, 64);
  EXPECT_EQ(d.ctl({"wait", id}).out, "0\n");
  EXPECT_EQ(d.ctl({"rm", id}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
