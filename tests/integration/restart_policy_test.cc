// Restart policies on real containers: on-failure's bound, always's back-off
// and `restarting` status, a stop by the user (also while restarting),
// update --restart, Docker's refusals, and the starts at daemon start.
// No timing assertions: every wait polls inspect with a bound.
#include <unistd.h>

#include <chrono>
#include <functional>
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
using Json = nlohmann::json;

// True when `pred` holds on every poll for `span` (a bounded negative check).
bool holds_for(TestDaemon& d, const std::string& id, const std::function<bool(const Json&)>& pred,
               std::chrono::milliseconds span) {
  auto end = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < end) {
    if (!pred(inspect_in(d, id))) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string status_of(const Json& j) { return j["State"]["Status"].get<std::string>(); }

class RestartPolicyTest : public DaemonSuite {
 protected:
  void remove(const std::string& id) {
    auto r = d().ctl({"rm", "-f", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  std::string events_of(const std::string& id, int64_t since_s) {
    auto ev = d().client().request(
        "GET", fmt::format("/events?since={}&until={}&filters={}", since_s, now_ns() / 1000000000 + 1,
                           ipc::url_encode(fmt::format(R"({{"container":["{}"]}})", id))));
    return ev && ev->status == 200 ? ev->body : "";
  }
};

TEST_F(RestartPolicyTest, OnFailureRestartsUpToItsBoundThenStops) {
  int64_t since = now_ns() / 1000000000 - 1;
  std::string id = run_d({"--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return status_of(j) == "exited" && j["RestartCount"] == 2; }))
      << inspect_in(d(), id).dump();
  Json j = inspect_in(d(), id);
  EXPECT_EQ(j["State"]["ExitCode"], 3);
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 2);
  // Three runs in all, each in the kept log; and it stays stopped.
  EXPECT_EQ(d().ctl({"logs", id}).out, "run\nrun\nrun\n");
  EXPECT_TRUE(holds_for(d(), id, [](const Json& j) { return status_of(j) == "exited" && j["RestartCount"] == 2; },
                        std::chrono::milliseconds(1000)));
  std::string ev = events_of(id, since);
  size_t restarts = 0;
  for (size_t at = ev.find("\"Action\":\"restart\""); at != std::string::npos; at = ev.find("\"Action\":\"restart\"", at + 1))
    restarts++;
  EXPECT_EQ(restarts, 2u) << ev;
  remove(id);
}

TEST_F(RestartPolicyTest, OnFailureLeavesASuccessAlone) {
  std::string id = run_d({"--restart", "on-failure", "busybox", "true"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return status_of(j) == "exited"; }));
  EXPECT_TRUE(holds_for(d(), id, [](const Json& j) { return status_of(j) == "exited" && j["RestartCount"] == 0; },
                        std::chrono::milliseconds(500)));
  remove(id);
}

TEST_F(RestartPolicyTest, AlwaysBacksOffInRestartingAndAStopEndsIt) {
  std::string id = run_d({"--restart", "always", "busybox", "sh", "-c", "exit 5"});
  ASSERT_FALSE(id.empty());
  // The delay doubles (100 ms, 200 ms, ...): the container is soon seen
  // waiting, as Docker shows it, and counted among the running.
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return status_of(j) == "restarting" && j["RestartCount"] >= 3; }))
      << inspect_in(d(), id).dump();
  Json j = inspect_in(d(), id);
  EXPECT_EQ(j["State"]["Restarting"], true);
  EXPECT_EQ(j["State"]["ExitCode"], 5);
  auto ps = d().ctl({"ps", "--no-trunc"});
  EXPECT_THAT(ps.out, HasSubstr(id));
  EXPECT_THAT(ps.out, HasSubstr("Restarting (5)"));
  // A stop by the user, while it waits or while it runs: it stays stopped.
  auto stop = d().ctl({"stop", id});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return status_of(j) == "exited"; }));
  int count = inspect_in(d(), id)["RestartCount"];
  EXPECT_TRUE(holds_for(d(), id,
                        [count](const Json& j) { return status_of(j) == "exited" && j["RestartCount"] == count; },
                        std::chrono::milliseconds(1500)));
  // A manual start resets the count.
  EXPECT_EQ(d().ctl({"start", id}).exit_code, 0);
  EXPECT_TRUE(wait_in(d(), id, [](const Json& j) { return j["RestartCount"] >= 1; }));
  EXPECT_LT(inspect_in(d(), id)["RestartCount"].get<int>(), count + 1);
  remove(id);
  EXPECT_EQ(inspect_in(d(), id), Json::object());
}

TEST_F(RestartPolicyTest, AFailureIsRestartedAKillByTheUserIsNot) {
  // The first run fails; the restarted one (same upper dir) keeps running.
  std::string id = run_d({"--restart", "always", "busybox", "sh", "-c",
                          "if [ -e /ran ]; then exec sleep 1000; fi; touch /ran; exit 2"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return j["RestartCount"] == 1 && status_of(j) == "running"; }))
      << inspect_in(d(), id).dump();
  EXPECT_EQ(d().ctl({"kill", id}).exit_code, 0);   // SIGKILL: the user's
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return status_of(j) == "exited"; }));
  EXPECT_TRUE(holds_for(d(), id, [](const Json& j) { return status_of(j) == "exited" && j["RestartCount"] == 1; },
                        std::chrono::milliseconds(1000)));
  EXPECT_EQ(inspect_in(d(), id)["State"]["ExitCode"], 137);
  remove(id);
}

TEST_F(RestartPolicyTest, UpdateSetsThePolicy) {
  auto made = d().ctl({"create", "busybox", "sh", "-c", "exit 1"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::string id = made.out.substr(0, 64);
  EXPECT_EQ(inspect_in(d(), id)["HostConfig"]["RestartPolicy"]["Name"], "no");
  auto up = d().ctl({"update", "--restart", "on-failure:1", id});
  EXPECT_EQ(up.exit_code, 0) << up.err;
  Json j = inspect_in(d(), id);
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 1);
  EXPECT_EQ(d().ctl({"start", id}).exit_code, 0);
  ASSERT_TRUE(wait_in(d(), id, [](const Json& j) { return status_of(j) == "exited" && j["RestartCount"] == 1; }))
      << inspect_in(d(), id).dump();
  // A count with another policy is refused, as Docker does.
  auto bad = d().ctl({"update", "--restart", "always:3", id});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("maximum retry count can only be used with 'on-failure'"));
  remove(id);
}

TEST_F(RestartPolicyTest, RefusesDockersConflicts) {
  auto c = d().client();
  auto rm = c.request("POST", "/containers/create",
                      R"({"Image":"busybox","Cmd":["true"],"HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}})");
  ASSERT_TRUE(rm.has_value());
  EXPECT_EQ(rm->status, 400);
  EXPECT_THAT(rm->body, HasSubstr("can't create 'AutoRemove' container with restart policy"));
  auto count = c.request("POST", "/containers/create",
                         R"({"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"unless-stopped","MaximumRetryCount":2}}})");
  ASSERT_TRUE(count.has_value());
  EXPECT_EQ(count->status, 400);
  EXPECT_THAT(count->body, HasSubstr("maximum retry count can only be used with 'on-failure'"));
  auto unknown = d().ctl({"create", "--restart", "sometimes", "busybox", "true"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, HasSubstr("unknown policy 'sometimes'"));
  // An AutoRemove container cannot get a policy later.
  auto made = d().ctl({"create", "--rm", "busybox", "true"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::string id = made.out.substr(0, 64);
  auto up = c.request("POST", "/containers/" + id + "/update", R"({"RestartPolicy":{"Name":"always"}})");
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->status, 400);
  EXPECT_THAT(up->body, HasSubstr("AutoRemove is enabled"));
  remove(id);
}

class RestartPolicyDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
  }
};

TEST_F(RestartPolicyDaemonTest, PoliciesBringContainersBackAtDaemonStart) {
  TestDaemon d;
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  for (auto [name, policy] : {std::pair{"always", "always"}, {"unless", "unless-stopped"}, {"stopped", "unless-stopped"},
                              {"astopped", "always"}, {"none", "no"}}) {
    auto r = d.ctl({"run", "-d", "--name", name, "--restart", policy, "busybox", "sleep", "1000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_EQ(d.ctl({"stop", "-t", "0", "stopped"}).exit_code, 0);
  ASSERT_EQ(d.ctl({"stop", "-t", "0", "astopped"}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
  ASSERT_TRUE(d.start(&err)) << err;
  // Docker's rules: always comes back (even after a stop by the user);
  // unless-stopped unless the user stopped it; no never.
  for (const char* name : {"always", "unless", "astopped"})
    EXPECT_TRUE(wait_in(d, name, [](const Json& j) { return status_of(j) == "running"; })) << name;
  for (const char* name : {"stopped", "none"})
    EXPECT_TRUE(holds_for(d, name, [](const Json& j) { return status_of(j) == "exited"; },
                          std::chrono::milliseconds(500)))
        << name;
  // A crash of the daemon (as a host reboot) brings them back too.
  d.crash();
  ASSERT_TRUE(d.start(&err)) << err;
  for (const char* name : {"always", "unless", "astopped"})
    EXPECT_TRUE(wait_in(d, name, [](const Json& j) { return status_of(j) == "running"; })) << name;
  EXPECT_EQ(status_of(inspect_in(d, "stopped")), "exited");
  for (const char* name : {"always", "unless", "stopped", "astopped", "none"}) EXPECT_EQ(d.ctl({"rm", "-f", name}).exit_code, 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace berth::test
