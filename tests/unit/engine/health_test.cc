// Health checks: Docker's validation and its rules for a probe's result.
#include "core/engine/health.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

HealthConfig config(std::vector<std::string> test, int64_t start_period_ns = 0, int64_t retries = 0) {
  HealthConfig c;
  auto v = check_health_config(test, 0, 0, start_period_ns, 0, retries, &c);
  EXPECT_TRUE(v.ok) << v.error;
  return c;
}

HealthResult result(int code, int64_t start_ns = 0) {
  HealthResult r;
  r.exit_code = code;
  r.start_ns = start_ns;
  return r;
}

TEST(Health, TestForms) {
  EXPECT_EQ(config({"CMD", "true", "x"}).cmd, (std::vector<std::string>{"true", "x"}));
  EXPECT_EQ(config({"CMD-SHELL", "exit 1"}).cmd, (std::vector<std::string>{"/bin/sh", "-c", "exit 1"}));
  EXPECT_FALSE(config({"NONE"}).enabled());
  EXPECT_FALSE(config({}).enabled());
  HealthConfig c;
  EXPECT_FALSE(check_health_config({"CMD"}, 0, 0, 0, 0, 0, &c).ok);
  EXPECT_FALSE(check_health_config({"WHAT", "x"}, 0, 0, 0, 0, 0, &c).ok);
  EXPECT_EQ(check_health_config({"CMD", "x"}, 999'999, 0, 0, 0, 0, &c).error,
            "Interval in Healthcheck cannot be less than 1ms");
  EXPECT_EQ(check_health_config({"CMD", "x"}, 0, 0, 0, 0, -1, &c).error, "Retries in Healthcheck cannot be negative");
}

TEST(Health, DelaysAndDefaults) {
  HealthConfig c = config({"CMD", "x"});
  HealthState st;
  EXPECT_EQ(next_probe_delay_ns(c, st), kHealthDefaultStartIntervalNs);
  st.status = "healthy";
  EXPECT_EQ(next_probe_delay_ns(c, st), kHealthDefaultIntervalNs);
  EXPECT_EQ(probe_timeout_ns(c), kHealthDefaultTimeoutNs);
}

TEST(Health, StreaksStatusesAndTheStartPeriod) {
  constexpr int64_t ms = 1000000;
  HealthConfig c = config({"CMD", "x"}, /*start_period_ns=*/1000 * ms, /*retries=*/2);
  HealthState st;
  // Failures within the start period while starting do not count.
  EXPECT_FALSE(record_health(c, st, result(1, (500) * ms), 0));
  EXPECT_EQ(st.failing_streak, 0);
  EXPECT_EQ(st.status, "starting");
  EXPECT_FALSE(record_health(c, st, result(1, (1500) * ms), 0));
  EXPECT_EQ(st.failing_streak, 1);
  EXPECT_TRUE(record_health(c, st, result(0, (1600) * ms), 0));
  EXPECT_EQ(st.status, "healthy");
  EXPECT_EQ(st.failing_streak, 0);
  EXPECT_FALSE(record_health(c, st, result(1, (1700) * ms), 0));
  EXPECT_TRUE(record_health(c, st, result(-1, (1800) * ms), 0));
  EXPECT_EQ(st.status, "unhealthy");
  for (int i = 0; i < 10; i++) (void)record_health(c, st, result(1, (2000 + i) * ms), 0);
  EXPECT_EQ(st.log.size(), kHealthLogEntries);
  HealthResult big = result(0, (3000) * ms);
  big.output.assign(10000, 'x');
  (void)record_health(c, st, big, 0);
  EXPECT_EQ(st.log.back().output.size(), kHealthOutputBytes);
}

}  // namespace
}  // namespace berth::engine
