// The pure parts of --userns-remap (runtime/userns.h): subordinate id
// ranges, where a new one goes, and the UID:GID:SIZE form. The mounts and
// namespaces themselves are tested through berthd (integration/userns_test.cc).
#include "core/runtime/userns.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

TEST(SubIds, FirstRangeOfTheNameOrTheId) {
  const char* text = "# comment\nalice:100000:65536\n  bob:165536:1000 \n1001:300000:65536\nalice:500000:10\n";
  auto a = find_subid_range(text, "alice", "");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->start, 100000u);
  EXPECT_EQ(a->count, 65536u);
  auto b = find_subid_range(text, "bob", "");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->start, 165536u);
  EXPECT_EQ(b->count, 1000u);
  auto c = find_subid_range(text, "carol", "1001");   // by the numeric id
  ASSERT_TRUE(c);
  EXPECT_EQ(c->start, 300000u);
  EXPECT_FALSE(find_subid_range(text, "dave", ""));
}

TEST(SubIds, MalformedEntriesAreErrors) {
  EXPECT_FALSE(find_subid_range("eve:x:10\n", "eve", ""));
  EXPECT_FALSE(find_subid_range("eve:10:0\n", "eve", ""));
  EXPECT_FALSE(find_subid_range("eve:4294967295:10\n", "eve", ""));
  EXPECT_EQ(find_subid_range("eve:10:x\n", "eve", "").error().message(), "malformed subordinate id range \"eve:10:x\"");
}

TEST(SubIds, NewRangeGoesAboveEveryOther) {
  EXPECT_EQ(next_free_subid_start("", ""), 131072u);   // 100,000 rounded up to a whole block
  EXPECT_EQ(next_free_subid_start("a:100000:65536\n", "b:200000:65536\n"), 327680u);
  EXPECT_EQ(next_free_subid_start("a:4294900000:65536\n", ""), 0u);   // no room left
}

TEST(UsernsRemap, ExplicitIdsAndSize) {
  auto r = resolve_userns_remap("300000:310000:65536");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->map, (IdMap{300000, 310000, 65536}));
  EXPECT_EQ(r->name, "300000:310000:65536");
  for (const char* bad : {"0:300000:65536", "300000:300000:0", "a:b:c", "300000:300000:-1", "4294967295:1:65536"})
    EXPECT_FALSE(resolve_userns_remap(bad)) << bad;
  EXPECT_FALSE(resolve_userns_remap("a:b:c:d"));
  EXPECT_FALSE(resolve_userns_remap(""));
  auto none = resolve_userns_remap("no-such-user-here");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "--userns-remap no-such-user-here: no user no-such-user-here");
}

}  // namespace
}  // namespace berth::runtime
