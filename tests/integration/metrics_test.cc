// GET /metrics: Prometheus text that moves with what berthd does.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/base/strings.h"
#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    std::string err;
    ASSERT_TRUE(d_.start(&err) && d_.import_busybox(&err)) << err;
  }
  void TearDown() override {
    if (is_root()) {
      EXPECT_EQ(d_.stop(), 0);
    }
  }

  // Every sample line ("name{labels} value") by its name with labels; the
  // format is checked on the way: each sample's family has # HELP and # TYPE.
  std::map<std::string, double> scrape() {
    auto c = d_.client();
    auto r = c.request("GET", "/metrics");
    EXPECT_TRUE(r && r->status == 200);
    std::map<std::string, double> out;
    if (!r) return out;
    std::map<std::string, std::string> types;
    for (const auto& line : split(r->body, '\n')) {
      if (line.empty()) continue;
      if (starts_with(line, "# TYPE ")) {
        auto rest = line.substr(7);
        types[rest.substr(0, rest.find(' '))] = rest.substr(rest.find(' ') + 1);
        continue;
      }
      if (starts_with(line, "# HELP ")) continue;
      auto sp = line.rfind(' ');
      EXPECT_NE(sp, std::string::npos) << line;
      if (sp == std::string::npos) continue;
      std::string key = line.substr(0, sp);
      std::string family = key.substr(0, key.find('{'));
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (!types.count(family) && family.size() > strlen(suffix) &&
            family.compare(family.size() - strlen(suffix), std::string::npos, suffix) == 0)
          family = family.substr(0, family.size() - strlen(suffix));
      EXPECT_TRUE(types.count(family)) << "no # TYPE for " << line;
      out[key] = std::stod(line.substr(sp + 1));
    }
    return out;
  }

  TestDaemon d_;
};

TEST_F(MetricsTest, CountersFollowStartsLogsAndContainers) {
  auto before = scrape();
  ASSERT_TRUE(before.count("berth_container_starts_total"));
  ASSERT_GT(before["berth_fds_limit"], 0);
  EXPECT_GT(before["berth_fds_open"], 0);
  EXPECT_LT(before["berth_fds_open"], before["berth_fds_limit"]);
  EXPECT_EQ(before["berth_containers{state=\"running\"}"], 0);

  // Two starts that succeed, one that fails (a command that is not there).
  auto a = d_.ctl({"run", "-d", "busybox", "sh", "-c", "echo 0123456789; exec sleep 1000"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(d_.ctl({"run", "--rm", "busybox", "true"}).exit_code, 0);
  EXPECT_NE(d_.ctl({"run", "--rm", "busybox", "/no/such/command"}).exit_code, 0);
  // The first container's line is in its log before the counters are read.
  for (int i = 0; i < 100 && d_.ctl({"logs", a.out.substr(0, 12)}).out.find("0123456789") == std::string::npos; i++)
    usleep(50000);
  // The failed --rm container may still be ending when its client has
  // exited (the client stops at the start's error): until it is removed.
  auto count = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  for (int i = 0; i < 100 && count(d_.ctl({"ps", "-aq"}).out) != 1; i++) usleep(50000);

  auto after = scrape();
  EXPECT_EQ(after["berth_container_starts_total"] - before["berth_container_starts_total"], 3);
  EXPECT_EQ(after["berth_container_start_failures_total"] - before["berth_container_start_failures_total"], 1);
  EXPECT_EQ(after["berth_container_start_seconds_count"] - before["berth_container_start_seconds_count"], 2);
  EXPECT_EQ(after["berth_container_start_seconds_bucket{le=\"+Inf\"}"], after["berth_container_start_seconds_count"]);
  EXPECT_GT(after["berth_container_start_seconds_sum"], before["berth_container_start_seconds_sum"]);
  EXPECT_GE(after["berth_log_bytes_total"] - before["berth_log_bytes_total"], 11);  // "0123456789\n"
  EXPECT_EQ(after["berth_containers{state=\"running\"}"], 1);
  EXPECT_GT(after["berth_reactor_loops_total"], before["berth_reactor_loops_total"]);
  EXPECT_GT(after["berth_reactor_busy_seconds_count"], before["berth_reactor_busy_seconds_count"]);
  EXPECT_GE(after["berth_api_connections"], 1);  // this scrape's own

  // Buckets are cumulative: never decreasing.
  double last = 0;
  for (const char* le : {"0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                         "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    std::string key = std::string("berth_container_start_seconds_bucket{le=\"") + le + "\"}";
    ASSERT_TRUE(after.count(key)) << key;
    EXPECT_GE(after[key], last) << key;
    last = after[key];
  }
  EXPECT_EQ(d_.ctl({"rm", "-f", a.out.substr(0, 12)}).exit_code, 0);
}

}  // namespace
}  // namespace berth::test
