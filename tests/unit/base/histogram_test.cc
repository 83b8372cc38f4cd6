#include "core/base/histogram.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(HistogramTest, ObservationsLandInTheFirstBucketThatHoldsThem) {
  Histogram h({0.001, 0.01, 1});
  h.observe_ns(500'000);        // 0.5 ms
  h.observe_ns(1'000'000);      // 1 ms: on the bound, in it
  h.observe_ns(5'000'000);      // 5 ms
  h.observe_ns(3'000'000'000);  // 3 s: over every bound
  h.observe_ns(-5);             // a clock step: counted as 0
  ASSERT_EQ(h.counts().size(), 4u);
  EXPECT_EQ(h.counts()[0], 3u);
  EXPECT_EQ(h.counts()[1], 1u);
  EXPECT_EQ(h.counts()[2], 0u);
  EXPECT_EQ(h.counts()[3], 1u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_NEAR(h.sum_s(), 3.0065, 1e-9);
}

TEST(HistogramTest, LatencyBoundsAscend) {
  auto h = Histogram::latency();
  for (size_t i = 1; i < h.bounds().size(); i++) EXPECT_LT(h.bounds()[i - 1], h.bounds()[i]);
}

}  // namespace
}  // namespace berth
