#include "netns/ports.h"

#include <gtest/gtest.h>

namespace berth::netns {
namespace {

TEST(PortPlan, RootFirstThenLeavesInOrder) {
  PortPlan p(2);
  EXPECT_EQ(p.max_leaves(), 1021u);
  EXPECT_EQ(p.capacity(), 2u * 1022u);
  std::vector<std::pair<unsigned, bool>> got;
  for (int i = 0; i < 7; i++) {
    auto r = p.take();
    ASSERT_TRUE(r);
    got.emplace_back(r->bridge, r->new_leaf);
  }
  std::vector<std::pair<unsigned, bool>> want = {{0, false}, {0, false}, {1, true}, {1, false},
                                                 {2, true},  {2, false}, {3, true}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(p.total_used(), 7u);
  EXPECT_EQ(p.leaves(), (std::vector<unsigned>{1, 2, 3}));
}

TEST(PortPlan, FreedPortsAreReusedLowestBridgeFirst) {
  PortPlan p(2);
  for (int i = 0; i < 6; i++) ASSERT_TRUE(p.take());
  p.give_back(1);
  p.give_back(0);
  EXPECT_EQ(p.take()->bridge, 0u);
  EXPECT_EQ(p.take()->bridge, 1u);
  p.give_back(2);
  p.give_back(2);
  EXPECT_EQ(p.empty_leaves(), std::vector<unsigned>{2});
  p.drop_leaf(2);
  EXPECT_EQ(p.leaves(), std::vector<unsigned>{1});
  auto again = p.take();
  EXPECT_EQ(again->bridge, 2u);  // the lowest free leaf number comes back
  EXPECT_TRUE(again->new_leaf);
  p.give_back(7);  // unknown: harmless
  p.give_back(0);
  p.give_back(0);
  p.give_back(0);  // below zero: harmless
  EXPECT_EQ(p.used(0), 0u);
}

TEST(PortPlan, FullNetworkAndDefaultCapacity) {
  PortPlan p(1000);
  EXPECT_EQ(p.max_leaves(), 23u);
  EXPECT_EQ(p.capacity(), 24000u);
  PortPlan tiny(1022);
  EXPECT_EQ(tiny.max_leaves(), 1u);
  for (int i = 0; i < 2044; i++) ASSERT_TRUE(tiny.take()) << i;
  auto full = tiny.take();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code(), Code::kConflict);
  EXPECT_EQ(full.error().message(), "network is full: 2044 containers on 2 bridges");
}

TEST(PortPlan, RestartCountsAndExfull) {
  PortPlan p(5);
  p.set_used(0, 5);
  p.set_used(3, 4);
  EXPECT_EQ(p.total_used(), 9u);
  auto r = p.take();
  EXPECT_EQ(r->bridge, 3u);
  EXPECT_FALSE(r->new_leaf);
  // The kernel refused a port on leaf 3 (ports still going away): it counts
  // as full until one leaves.
  p.mark_full(3);
  EXPECT_EQ(p.used(3), 4u);
  EXPECT_EQ(p.take()->bridge, 1u);
  p.give_back(3);
  EXPECT_EQ(p.take()->bridge, 1u);  // root full, leaf 1 has room
  EXPECT_EQ(p.used(3), 3u);
}

}  // namespace
}  // namespace berth::netns
