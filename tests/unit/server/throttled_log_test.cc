// ThrottledLog (ipc/server/listener.h): at most one line per interval, and
// the next line allowed counts those swallowed. The intervals here are 0
// and a century, so no assertion depends on the clock.
#include <gtest/gtest.h>

#include "ipc/server/listener.h"

namespace berth::ipc {
namespace {

TEST(ThrottledLog, OneLinePerIntervalWithTheSwallowedCounted) {
  ThrottledLog never_again(int64_t(100) * 365 * 24 * 3600 * 1'000'000'000);
  uint64_t skipped = 99;
  EXPECT_TRUE(never_again.allow(&skipped));
  EXPECT_EQ(skipped, 0u);
  for (int i = 0; i < 1000; i++) EXPECT_FALSE(never_again.allow(&skipped));

  ThrottledLog always(0);
  EXPECT_TRUE(always.allow(&skipped));
  EXPECT_EQ(skipped, 0u);
  EXPECT_TRUE(always.allow(&skipped));
  EXPECT_EQ(skipped, 0u);
}

TEST(ThrottledLog, TheNextAllowedLineCarriesTheCount) {
  // With an interval of 1 ns, the calls swallowed until it has passed
  // (now_ns is monotonic) are the count the next allowed call reports.
  uint64_t skipped = 0;
  ThrottledLog quick(1);
  ASSERT_TRUE(quick.allow(&skipped));
  uint64_t got = 0;
  int swallowed = 0;
  while (!quick.allow(&got)) swallowed++;   // ends once 1 ns has passed
  EXPECT_EQ(got, uint64_t(swallowed));
}

}  // namespace
}  // namespace berth::ipc
