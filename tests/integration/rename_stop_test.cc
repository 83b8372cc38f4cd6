// rename (names, links, DNS names, events, logs kept, state across a daemon
// restart) and a container's own stop signal and timeout (Config.StopSignal,
// the image's STOPSIGNAL, Config.StopTimeout).
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/strings.h"
#include "ipc/proto/url.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class LifecycleTest : public DaemonSuite {
 protected:
  int status_of_rename(const std::string& ref, const std::string& name) {
    auto r = d().client().request("POST", "/containers/" + ref + "/rename?name=" + ipc::url_encode(name));
    return r ? r->status : -1;
  }
  std::string events(const std::string& id, int64_t since_s, const std::string& action) {
    auto ev = d().client().request(
        "GET", fmt::format("/events?since={}&until={}&filters={}", since_s, now_ns() / 1000000000 + 1,
                           ipc::url_encode(fmt::format(R"({{"container":["{}"],"event":["{}"]}})", id, action))));
    return ev && ev->status == 200 ? ev->body : "";
  }
  void rm(const std::vector<std::string>& refs) {
    for (const auto& r : refs) EXPECT_EQ(d().ctl({"rm", "-f", r}).exit_code, 0) << r;
  }
  // Until the container's shell has set its trap (it logs "ready" after):
  // before that, a signal to the pid namespace's init without a handler is
  // ignored, and a stop would end in the KILL instead.
  bool trapped(const std::string& id) {
    for (int i = 0; i < 400; i++) {
      if (d().ctl({"logs", id}).out == "ready\n") return true;
      ::usleep(50000);
    }
    return false;
  }
};

TEST_F(LifecycleTest, RenameKeepsTheContainerAndItsLog) {
  int64_t since = now_ns() / 1000000000 - 1;
  std::string id = run_d({"--name", "rn-old", "busybox", "sh", "-c", "echo hi; exec sleep 1000"});
  ASSERT_FALSE(id.empty());
  auto r = d().ctl({"rename", "rn-old", "rn-new"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(inspect("rn-new")["Id"], id);
  EXPECT_EQ(inspect("rn-new")["Name"], "/rn-new");
  EXPECT_EQ(inspect("rn-new")["State"]["Status"], "running");
  EXPECT_EQ(inspect("rn-old"), Json::object());   // 404
  EXPECT_EQ(d().ctl({"logs", "rn-new"}).out, "hi\n");
  auto ps = d().ctl({"ps", "--no-trunc"});
  EXPECT_THAT(ps.out, HasSubstr("rn-new"));
  EXPECT_THAT(ps.out, Not(HasSubstr("rn-old")));
  std::string ev = events(id, since, "rename");
  EXPECT_THAT(ev, HasSubstr("\"oldName\":\"/rn-old\""));
  EXPECT_THAT(ev, HasSubstr("\"name\":\"rn-new\""));
  // The old name is free again; a name in use is a 409, a bad one a 400.
  std::string other = run_d({"--name", "rn-old", "busybox", "sleep", "1000"});
  ASSERT_FALSE(other.empty());
  EXPECT_EQ(status_of_rename("rn-new", "rn-old"), 409);
  EXPECT_EQ(status_of_rename("rn-new", "-bad"), 400);
  EXPECT_EQ(status_of_rename("rn-new", ""), 400);
  EXPECT_EQ(status_of_rename("rn-new", "rn-new"), 400);
  EXPECT_EQ(status_of_rename("no-such-container", "x"), 404);
  auto taken = d().ctl({"rename", "rn-new", "rn-old"});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_THAT(taken.err, HasSubstr("is already in use"));
  EXPECT_EQ(inspect("rn-new")["Id"], id);
  rm({"rn-new", "rn-old"});
}

TEST_F(LifecycleTest, LinksAndDnsNamesFollowARename) {
  // A link made to the old name still reaches the renamed container.
  run_d({"--name", "rn-target", "busybox", "sleep", "1000"});
  std::string ip = inspect("rn-target")["NetworkSettings"]["IPAddress"];
  auto made = d().ctl({"create", "--name", "rn-linker", "--link", "rn-target:tg", "busybox", "cat", "/etc/hosts"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(d().ctl({"rename", "rn-target", "rn-target2"}).exit_code, 0);
  EXPECT_EQ(inspect("rn-linker")["HostConfig"]["Links"][0], "/rn-target2:/rn-linker/tg");
  ASSERT_EQ(d().ctl({"start", "rn-linker"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"wait", "rn-linker"}).out, "0\n");
  std::string hosts = d().ctl({"logs", "rn-linker"}).out;
  EXPECT_THAT(hosts, HasSubstr(ip + "\ttg"));
  EXPECT_THAT(hosts, HasSubstr("rn-target2"));
  // On a user network, the running container answers to its new name only.
  ASSERT_EQ(d().ctl({"network", "create", "rn-net"}).exit_code, 0);
  run_d({"--name", "rn-dns", "--network", "rn-net", "busybox", "sleep", "1000"});
  std::string dns_ip = inspect("rn-dns")["NetworkSettings"]["Networks"]["rn-net"]["IPAddress"];
  ASSERT_EQ(d().ctl({"rename", "rn-dns", "rn-dns2"}).exit_code, 0);
  auto by_new = d().ctl({"run", "--rm", "--network", "rn-net", "busybox", "nslookup", "rn-dns2"});
  EXPECT_THAT(by_new.out, HasSubstr("Address: " + dns_ip)) << by_new.err;
  auto by_old = d().ctl({"run", "--rm", "--network", "rn-net", "busybox", "nslookup", "rn-dns"});
  EXPECT_THAT(by_old.out, Not(HasSubstr("Address: " + dns_ip)));
  rm({"rn-linker", "rn-target2", "rn-dns2"});
  EXPECT_EQ(d().ctl({"network", "rm", "rn-net"}).exit_code, 0);
}

TEST_F(LifecycleTest, StopUsesTheContainersStopSignal) {
  // USR1 ends it with 42; SIGTERM would not be trapped (143... but as PID 1
  // an untrapped TERM is ignored, so only the KILL after the timeout).
  std::string id = run_d({"--stop-signal", "USR1", "busybox", "sh", "-c",
                          "trap 'exit 42' USR1; echo ready; while :; do sleep 1 & wait; done"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(trapped(id));
  EXPECT_EQ(inspect(id)["Config"]["StopSignal"], "USR1");
  EXPECT_EQ(d().ctl({"stop", id}).exit_code, 0);
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 42);
  // restart uses it too; -s overrides it.
  EXPECT_EQ(d().ctl({"restart", id}).exit_code, 0);
  EXPECT_EQ(inspect(id)["State"]["Status"], "running");
  EXPECT_EQ(d().ctl({"stop", "-s", "KILL", id}).exit_code, 0);
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 137);
  // A bad signal is refused at create.
  auto bad = d().ctl({"create", "--stop-signal", "SIGNOPE", "busybox", "true"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("Invalid signal: SIGNOPE"));
  rm({id});
}

TEST_F(LifecycleTest, StopTimeoutIsTheContainersDefault) {
  int64_t since = now_ns() / 1000000000 - 1;
  // --stop-timeout 0: stop sends SIGKILL at once (the kill event says 9).
  std::string id = run_d({"--stop-timeout", "0", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(inspect(id)["Config"]["StopTimeout"], 0);
  EXPECT_EQ(d().ctl({"stop", id}).exit_code, 0);
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 137);
  EXPECT_THAT(events(id, since, "kill"), HasSubstr("\"signal\":\"9\""));
  // --stop-timeout 1 with TERM ignored: killed after it (137), after a TERM.
  std::string slow = run_d({"--stop-timeout", "1", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 1; done"});
  ASSERT_FALSE(slow.empty());
  EXPECT_EQ(d().ctl({"stop", slow}).exit_code, 0);
  EXPECT_EQ(inspect(slow)["State"]["ExitCode"], 137);
  EXPECT_THAT(events(slow, since, "kill"), HasSubstr("\"signal\":\"15\""));
  rm({id, slow});
}

TEST_F(LifecycleTest, TheImagesStopSignalIsTheDefault) {
  auto base = d().ctl({"create", "--name", "ss-base", "busybox", "true"});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  auto img = d().ctl({"commit", "--change", "STOPSIGNAL SIGUSR2", "ss-base", "stopsig:v1"});
  ASSERT_EQ(img.exit_code, 0) << img.err;
  std::string id = run_d({"stopsig:v1", "sh", "-c", "trap 'exit 43' USR2; echo ready; while :; do sleep 1 & wait; done"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(trapped(id));
  EXPECT_EQ(inspect(id)["Config"]["StopSignal"], "SIGUSR2");
  EXPECT_EQ(d().ctl({"stop", id}).exit_code, 0);
  EXPECT_EQ(inspect(id)["State"]["ExitCode"], 43);
  // The container's own wins over the image's.
  std::string own = run_d({"--stop-signal", "HUP", "stopsig:v1", "sh", "-c",
                           "trap 'exit 44' HUP; echo ready; while :; do sleep 1 & wait; done"});
  ASSERT_FALSE(own.empty());
  ASSERT_TRUE(trapped(own));
  EXPECT_EQ(d().ctl({"stop", own}).exit_code, 0);
  EXPECT_EQ(inspect(own)["State"]["ExitCode"], 44);
  rm({id, own, "ss-base"});
  EXPECT_EQ(d().ctl({"rmi", "stopsig:v1"}).exit_code, 0);
}

class RenameDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
  }
};

TEST_F(RenameDaemonTest, ANewNameSurvivesADaemonRestart) {
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto made = d.ctl({"create", "--name", "before", "--stop-timeout", "3", "--stop-signal", "INT", "--restart",
                     "on-failure:4", "busybox", "true"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ASSERT_EQ(d.ctl({"rename", "before", "after"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
  ASSERT_TRUE(d.start(&err)) << err;
  auto r = d.client().request("GET", "/containers/after/json");
  ASSERT_TRUE(r && r->status == 200);
  Json j = Json::parse(r->body);
  EXPECT_EQ(j["Id"], made.out.substr(0, 64));
  EXPECT_EQ(j["Config"]["StopTimeout"], 3);
  EXPECT_EQ(j["Config"]["StopSignal"], "INT");
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 4);
  EXPECT_EQ(d.client().request("GET", "/containers/before/json")->status, 404);
  EXPECT_EQ(d.ctl({"rm", "after"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
