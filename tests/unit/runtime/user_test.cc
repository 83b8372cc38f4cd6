// User spec parsing and passwd/group resolution: pure, no root.
#include "core/runtime/user.h"

#include <string>

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "broken:x:notanumber:1::/x:/bin/sh\n"
    "nohome:x:1001:1001::\n"
    "bob:x:1002:100:Bob:/home/bob:/bin/sh";  // no trailing newline

const std::string kGroup =
    "root:x:0:root\n"
    "wheel:x:10:root,alice\n"
    "users:x:100:\n"
    "staff:x:50:bob,alice\n"
    "alice:x:1000:\n"
    "dev:x:2000:carol,alicex";

UserLookup resolve(const std::string& spec, ResolvedUser* out, const std::string& pw = kPasswd,
                   const std::string& gr = kGroup) {
  auto req = parse_user_spec(spec);
  EXPECT_TRUE(req.has_value()) << spec;
  return resolve_user(query_of(*req), pw.data(), pw.size(), gr.data(), gr.size(), out);
}

std::vector<gid_t> groups(const ResolvedUser& u) { return {u.groups, u.groups + u.group_count}; }

TEST(UserSpec, Parse) {
  auto r = parse_user_spec("");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user, "");
  EXPECT_EQ(r->uid, 0u);
  EXPECT_FALSE(r->has_group);

  r = parse_user_spec("1000:50");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_TRUE(r->has_group);
  EXPECT_EQ(r->gid, 50u);

  r = parse_user_spec("alice:staff");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(r->group, "staff");

  EXPECT_FALSE(parse_user_spec("alice:"));
  EXPECT_FALSE(parse_user_spec(":1"));
  EXPECT_FALSE(parse_user_spec("a:b:c"));
  EXPECT_FALSE(parse_user_spec("99999999999"));
}

TEST(UserResolve, RootGetsHomeAndMemberGroups) {
  ResolvedUser u;
  ASSERT_EQ(resolve("", &u), UserLookup::kOk);
  EXPECT_EQ(u.uid, 0u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_STREQ(u.home, "/root");
  EXPECT_EQ(groups(u), (std::vector<gid_t>{0, 10}));
}

TEST(UserResolve, ByName) {
  ResolvedUser u;
  ASSERT_EQ(resolve("alice", &u), UserLookup::kOk);
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1000u);
  EXPECT_STREQ(u.home, "/home/alice");
  EXPECT_EQ(groups(u), (std::vector<gid_t>{1000, 10, 50}));  // not "dev": "alicex" is not alice
}

TEST(UserResolve, LastLineWithoutNewline) {
  ResolvedUser u;
  ASSERT_EQ(resolve("bob", &u), UserLookup::kOk);
  EXPECT_EQ(u.uid, 1002u);
  EXPECT_EQ(u.gid, 100u);
  EXPECT_EQ(groups(u), (std::vector<gid_t>{100, 50}));
}

TEST(UserResolve, NumericKnownAndUnknown) {
  ResolvedUser u;
  ASSERT_EQ(resolve("1000", &u), UserLookup::kOk);
  EXPECT_EQ(u.gid, 1000u);  // from passwd
  EXPECT_STREQ(u.home, "/home/alice");

  ASSERT_EQ(resolve("4242", &u), UserLookup::kOk);
  EXPECT_EQ(u.uid, 4242u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_STREQ(u.home, "/");
  EXPECT_EQ(groups(u), (std::vector<gid_t>{0}));

  ASSERT_EQ(resolve("1000:1000", &u, "", ""), UserLookup::kOk);  // no files at all
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1000u);
  EXPECT_EQ(groups(u), (std::vector<gid_t>{1000}));
}

TEST(UserResolve, ExplicitGroup) {
  ResolvedUser u;
  ASSERT_EQ(resolve("alice:staff", &u), UserLookup::kOk);
  EXPECT_EQ(u.gid, 50u);
  ASSERT_EQ(resolve("alice:7", &u), UserLookup::kOk);
  EXPECT_EQ(u.gid, 7u);
  EXPECT_EQ(groups(u)[0], 7u);
}

TEST(UserResolve, EmptyHomeIsSlash) {
  ResolvedUser u;
  ASSERT_EQ(resolve("nohome", &u), UserLookup::kOk);
  EXPECT_STREQ(u.home, "/");
}

TEST(UserResolve, Missing) {
  ResolvedUser u;
  EXPECT_EQ(resolve("nope", &u), UserLookup::kUserNotFound);
  EXPECT_EQ(resolve("broken", &u), UserLookup::kUserNotFound);  // unparsable uid
  EXPECT_EQ(resolve("alice:nogroup", &u), UserLookup::kGroupNotFound);
  EXPECT_EQ(resolve("alice", &u, "", kGroup), UserLookup::kUserNotFound);
}

}  // namespace
}  // namespace berth::runtime
