// Restart policies: Docker's validation and its restart manager's decisions.
#include "core/engine/restart_policy.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using Name = RestartPolicy::Name;

TEST(RestartPolicy, ParsesDockersNames) {
  EXPECT_EQ(parse_restart_policy("no", 0)->name, Name::kNo);
  EXPECT_EQ(parse_restart_policy("", 0)->name, Name::kNo);
  EXPECT_EQ(parse_restart_policy("", 5)->name, Name::kNo);   // the old default, let through as Docker does
  EXPECT_EQ(parse_restart_policy("always", 0)->name, Name::kAlways);
  EXPECT_EQ(parse_restart_policy("unless-stopped", 0)->name, Name::kUnlessStopped);
  auto f = parse_restart_policy("on-failure", 3);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->name, Name::kOnFailure);
  EXPECT_EQ(f->max_retries, 3);
}

TEST(RestartPolicy, RefusesWhatDockerRefuses) {
  auto count = parse_restart_policy("always", 2);
  ASSERT_FALSE(count.has_value());
  EXPECT_EQ(count.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(count.error().message(), "invalid restart policy: maximum retry count can only be used with 'on-failure'");
  EXPECT_EQ(parse_restart_policy("no", -1).error().message(),
            "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative");
  EXPECT_EQ(parse_restart_policy("on-failure", -1).error().message(),
            "invalid restart policy: maximum retry count cannot be negative");
  EXPECT_FALSE(parse_restart_policy("sometimes", 0).has_value());
  EXPECT_FALSE(parse_restart_policy("unless-stopped", 1).has_value());
}

TEST(RestartPolicy, DecidesLikeDockersRestartManager) {
  RestartPolicy no, always{Name::kAlways, 0}, unless{Name::kUnlessStopped, 0}, fail2{Name::kOnFailure, 2},
      fail_any{Name::kOnFailure, 0};
  EXPECT_FALSE(decide_restart(no, 1, false, 0, 0, 0).restart);
  EXPECT_TRUE(decide_restart(always, 0, false, 0, 0, 0).restart);
  EXPECT_FALSE(decide_restart(always, 0, true, 0, 0, 0).restart);   // stopped by the user
  EXPECT_TRUE(decide_restart(unless, 3, false, 7, 0, 0).restart);
  EXPECT_FALSE(decide_restart(unless, 3, true, 7, 0, 0).restart);
  EXPECT_FALSE(decide_restart(fail2, 0, false, 0, 0, 0).restart);    // success
  EXPECT_TRUE(decide_restart(fail2, 1, false, 0, 0, 0).restart);
  EXPECT_TRUE(decide_restart(fail2, 1, false, 1, 0, 0).restart);
  EXPECT_FALSE(decide_restart(fail2, 1, false, 2, 0, 0).restart);    // the bound reached
  EXPECT_TRUE(decide_restart(fail_any, 1, false, 1000, 0, 0).restart);
}

TEST(RestartPolicy, BackOffDoublesFrom100msAndResetsAfter10s) {
  RestartPolicy always{Name::kAlways, 0};
  int64_t delay = 0;
  std::vector<int64_t> seen;
  for (int i = 0; i < 12; i++) {
    delay = decide_restart(always, 1, false, i, 1'000'000, delay).delay_ms;
    seen.push_back(delay);
  }
  EXPECT_EQ(seen[0], 100);
  EXPECT_EQ(seen[1], 200);
  EXPECT_EQ(seen[2], 400);
  EXPECT_EQ(seen[9], 51'200);
  EXPECT_EQ(seen[10], 60'000);   // capped at a minute
  EXPECT_EQ(seen[11], 60'000);
  EXPECT_EQ(decide_restart(always, 1, false, 12, kRestartResetRunNs, delay).delay_ms, 100);
  EXPECT_EQ(decide_restart(always, 1, false, 12, kRestartResetRunNs - 1, 400).delay_ms, 800);
}

}  // namespace
}  // namespace berth::engine
