// Health checks (Config.Healthcheck) on real containers: probes as execs on
// timers, State.Health (status, streak, the last five results), ps's
// status, health_status events, the health filter, timeouts, NONE, and
// Docker's refusals. Waits poll inspect with a bound.
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
using ::testing::Not;
using Json = nlohmann::json;

class HealthTest : public DaemonSuite {
 protected:
  std::string ids_with_health(const std::string& value) {
    auto r = d().client().request(
        "GET", "/containers/json?all=1&filters=" + ipc::url_encode(fmt::format(R"({{"health":["{}"]}})", value)));
    return r && r->status == 200 ? r->body : "";
  }
};

TEST_F(HealthTest, ProbesMakeItHealthyThenUnhealthy) {
  int64_t since = now_ns() / 1000000000 - 1;
  // Healthy while /ok exists; the test removes it.
  std::string id = run_d({"--health-cmd", "cat /ok", "--health-interval", "100ms", "--health-start-interval", "100ms",
                          "--health-retries", "2", "busybox", "sh", "-c", "echo fine > /ok; exec sleep 1000"});
  ASSERT_FALSE(id.empty());
  Json j = inspect(id);
  EXPECT_EQ(j["Config"]["Healthcheck"]["Test"], Json({"CMD-SHELL", "cat /ok"}));
  ASSERT_TRUE(wait_for(id, [](const Json& j) { return j["State"]["Health"]["Status"] == "healthy"; }))
      << inspect(id).dump();
  j = inspect(id);
  EXPECT_EQ(j["State"]["Health"]["FailingStreak"], 0);
  ASSERT_FALSE(j["State"]["Health"]["Log"].empty());
  EXPECT_EQ(j["State"]["Health"]["Log"].back()["ExitCode"], 0);
  EXPECT_EQ(j["State"]["Health"]["Log"].back()["Output"], "fine\n");
  EXPECT_THAT(d().ctl({"ps"}).out, HasSubstr("(healthy)"));
  EXPECT_THAT(ids_with_health("healthy"), HasSubstr(id));
  EXPECT_THAT(ids_with_health("unhealthy"), Not(HasSubstr(id)));
  // Probes are not the user's execs.
  EXPECT_TRUE(j["ExecIDs"].is_null()) << j["ExecIDs"].dump();
  ASSERT_EQ(d().ctl({"exec", id, "rm", "/ok"}).exit_code, 0);
  ASSERT_TRUE(wait_for(id, [](const Json& j) { return j["State"]["Health"]["Status"] == "unhealthy"; }))
      << inspect(id).dump();
  j = inspect(id);
  EXPECT_GE(j["State"]["Health"]["FailingStreak"], 2);
  EXPECT_NE(j["State"]["Health"]["Log"].back()["ExitCode"], 0);
  EXPECT_LE(j["State"]["Health"]["Log"].size(), 5u);
  EXPECT_THAT(d().ctl({"ps"}).out, HasSubstr("(unhealthy)"));
  EXPECT_THAT(ids_with_health("unhealthy"), HasSubstr(id));
  auto ev = d().client().request(
      "GET", fmt::format("/events?since={}&until={}&filters={}", since, now_ns() / 1000000000 + 1,
                         ipc::url_encode(fmt::format(R"({{"container":["{}"]}})", id))));
  ASSERT_TRUE(ev && ev->status == 200);
  EXPECT_THAT(ev->body, HasSubstr("\"Action\":\"health_status: healthy\""));
  EXPECT_THAT(ev->body, HasSubstr("\"Action\":\"health_status: unhealthy\""));
  EXPECT_EQ(d().ctl({"rm", "-f", id}).exit_code, 0);
}

TEST_F(HealthTest, AProbePastItsTimeoutFails) {
  std::string id = run_d({"--health-cmd", "sleep 100", "--health-timeout", "200ms", "--health-start-interval", "100ms",
                          "--health-retries", "1", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_for(id, [](const Json& j) { return j["State"]["Health"]["Status"] == "unhealthy"; }))
      << inspect(id).dump();
  Json last = inspect(id)["State"]["Health"]["Log"].back();
  EXPECT_EQ(last["ExitCode"], -1);
  EXPECT_THAT(last["Output"].get<std::string>(), HasSubstr("exceeded timeout"));
  // The killed probe is gone: only the container's own sleep is left.
  auto ps = d().ctl({"exec", id, "sh", "-c", "grep -l '^sleep$' /proc/[0-9]*/comm | wc -l"});
  EXPECT_LE(std::stoi(ps.out.empty() ? "9" : ps.out), 2) << ps.out;
  EXPECT_EQ(d().ctl({"rm", "-f", id}).exit_code, 0);
}

TEST_F(HealthTest, NoneAndNoCheckHaveNoHealth) {
  std::string id = run_d({"--no-healthcheck", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  Json j = inspect(id);
  EXPECT_FALSE(j["State"].contains("Health"));
  EXPECT_EQ(j["Config"]["Healthcheck"]["Test"], Json({"NONE"}));
  EXPECT_THAT(ids_with_health("none"), HasSubstr(id));
  EXPECT_EQ(d().ctl({"rm", "-f", id}).exit_code, 0);
}

TEST_F(HealthTest, TheImagesHealthcheckIsTheDefault) {
  // commit keeps the container's Healthcheck in the image (as Docker's).
  auto base = d().ctl({"create", "--name", "hc-base", "--health-cmd", "test -e /ok", "--health-interval", "100ms",
                       "--health-start-interval", "100ms", "--health-retries", "1", "busybox", "true"});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  ASSERT_EQ(d().ctl({"commit", "hc-base", "hcimg:v1"}).exit_code, 0);
  auto img = d().client().request("GET", "/images/hcimg:v1/json");
  ASSERT_TRUE(img && img->status == 200);
  EXPECT_EQ(Json::parse(img->body)["Config"]["Healthcheck"]["Test"], Json({"CMD-SHELL", "test -e /ok"}));
  std::string id = run_d({"hcimg:v1", "sh", "-c", "touch /ok; exec sleep 1000"});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(inspect(id)["Config"]["Healthcheck"]["Test"], Json({"CMD-SHELL", "test -e /ok"}));
  EXPECT_TRUE(wait_for(id, [](const Json& j) { return j["State"]["Health"]["Status"] == "healthy"; }))
      << inspect(id).dump();
  // A container's own Test wins; NONE turns the image's off.
  std::string own = run_d({"--health-cmd", "false", "hcimg:v1", "sleep", "1000"});
  ASSERT_FALSE(own.empty());
  EXPECT_TRUE(wait_for(own, [](const Json& j) { return j["State"]["Health"]["Status"] == "unhealthy"; }))
      << inspect(own).dump();
  std::string none = run_d({"--no-healthcheck", "hcimg:v1", "sleep", "1000"});
  ASSERT_FALSE(none.empty());
  EXPECT_FALSE(inspect(none)["State"].contains("Health"));
  for (const std::string& c : {id, own, none, std::string("hc-base")}) EXPECT_EQ(d().ctl({"rm", "-f", c}).exit_code, 0);
  EXPECT_EQ(d().ctl({"rmi", "hcimg:v1"}).exit_code, 0);
}

TEST_F(HealthTest, RefusesWhatDockerRefuses) {
  auto c = d().client();
  for (const char* body : {R"({"Image":"busybox","Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5}})",
                           R"({"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Retries":-1}})",
                           R"({"Image":"busybox","Healthcheck":{"Test":["SOMETIMES","true"]}})",
                           R"({"Image":"busybox","Healthcheck":{"Test":["CMD"]}})"}) {
    auto r = c.request("POST", "/containers/create", body);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400) << body << " " << r->body;
  }
  auto both = d().ctl({"create", "--no-healthcheck", "--health-cmd", "true", "busybox", "true"});
  EXPECT_NE(both.exit_code, 0);
  EXPECT_THAT(both.err, HasSubstr("conflicts"));
}

}  // namespace
}  // namespace berth::test
