// The late part of a deferred spawn: encode (parent) and decode (child) as
// plain functions, and which final specs a warm init can become.
#include "core/runtime/late.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace berth::runtime {
namespace {

Spec base() {
  Spec s;
  s.id = std::string(64, 'a');
  s.lower_dirs = {"/l/1", "/l/0"};
  s.upper_dir = "/c/upper";
  s.work_dir = "/c/work";
  s.rootfs_dir = "/c/rootfs";
  s.args = {"true"};
  s.env = {"PATH=/bin"};
  return s;
}

struct Decoded {
  std::vector<uint64_t> room = std::vector<uint64_t>(kLateMax / 8);  // aligned, as the child's buffer
  ChildArgs a;
  int rc = -1;
};

void decode(const std::string& msg, const std::vector<int>& fds, Decoded* d) {
  char* buf = reinterpret_cast<char*>(d->room.data());
  std::memcpy(buf, msg.data(), msg.size());
  d->rc = decode_late(buf, msg.size(), fds.data(), fds.size(), &d->a);
}

TEST(Late, RoundTrip) {
  Spec s = base();
  s.args = {"sh", "-c", "echo hi"};
  s.env = {"PATH=/usr/bin:/bin", "A=1"};
  s.user = "alice:staff";
  s.cwd = "/srv";
  s.hostname = "box";
  s.stdout_fd = 7;
  s.stderr_fd = 8;
  auto msg = encode_late(s);
  ASSERT_TRUE(msg) << msg.error().message();
  Decoded d;
  decode(*msg, {41, 42}, &d);
  ASSERT_EQ(d.rc, 0);
  const ChildArgs& a = d.a;
  EXPECT_EQ(std::string(a.hostname, a.hostname_len), "box");
  EXPECT_STREQ(a.cwd, "/srv");
  EXPECT_EQ(std::string(a.user.user, a.user.user_len), "alice");
  EXPECT_TRUE(a.user.has_group);
  EXPECT_EQ(std::string(a.user.group, a.user.group_len), "staff");
  ASSERT_NE(a.argv, nullptr);
  EXPECT_STREQ(a.argv[0], "sh");
  EXPECT_STREQ(a.argv[2], "echo hi");
  EXPECT_EQ(a.argv[3], nullptr);
  EXPECT_STREQ(a.envp[0], "PATH=/usr/bin:/bin");
  EXPECT_STREQ(a.envp[1], "A=1");
  EXPECT_EQ(a.home_slot, 2);  // no HOME in the env: the child fills slot 2
  EXPECT_EQ(a.envp[3], nullptr);
  ASSERT_EQ(a.exec_path_count, 2u);
  EXPECT_STREQ(a.exec_paths[0], "/usr/bin/sh");
  EXPECT_STREQ(a.exec_paths[1], "/bin/sh");
  EXPECT_TRUE(a.path_lookup);
  EXPECT_EQ(a.stdio[0], -1);
  EXPECT_EQ(a.stdio[1], 41);
  EXPECT_EQ(a.stdio[2], 42);
  EXPECT_FALSE(a.tty);
  // The index of the working directory's mkdir in the final plan.
  auto plan = make_mount_plan(s);
  ASSERT_GE(a.mkdir_step, 0);
  EXPECT_EQ(plan.steps[size_t(a.mkdir_step)].kind, MountKind::kMakeDir);
  EXPECT_EQ(plan.steps[size_t(a.mkdir_step)].target, "/srv");
}

TEST(Late, NumericUserAndHomeInTheEnv) {
  Spec s = base();
  s.user = "1000:50";
  s.env = {"HOME=/h", "PATH=/bin"};
  s.args = {"/bin/true"};
  s.tty = true;
  s.tty_rows = 24;
  s.tty_cols = 80;
  s.stdout_fd = 7;  // a tty replaces stdio: no fd goes along
  auto msg = encode_late(s);
  ASSERT_TRUE(msg);
  Decoded d;
  decode(*msg, {}, &d);
  ASSERT_EQ(d.rc, 0);
  EXPECT_EQ(d.a.user.user_len, 0u);
  EXPECT_EQ(d.a.user.uid, 1000u);
  EXPECT_EQ(d.a.user.gid, 50u);
  EXPECT_EQ(d.a.home_slot, -1);
  EXPECT_FALSE(d.a.path_lookup);
  EXPECT_TRUE(d.a.tty);
  EXPECT_EQ(d.a.tty_rows, 24);
  EXPECT_EQ(d.a.tty_cols, 80);
  EXPECT_EQ(d.a.stdio[1], -1);
}

TEST(Late, MalformedMessagesAreRefused) {
  Spec s = base();
  s.stdout_fd = 3;
  std::string msg = *encode_late(s);
  Decoded d;
  decode(msg, {}, &d);  // one fd announced, none came
  EXPECT_EQ(d.rc, EPROTO);
  decode(msg.substr(0, msg.size() - 1), {5}, &d);  // cut short
  EXPECT_EQ(d.rc, EPROTO);
  decode(msg.substr(0, 8), {5}, &d);  // shorter than its header
  EXPECT_EQ(d.rc, EPROTO);
  std::string bad = msg;
  bad[0] ^= 1;  // not our magic
  decode(bad, {5}, &d);
  EXPECT_EQ(d.rc, EPROTO);
  bad = msg;
  bad.back() = 'x';  // the last string lost its NUL
  decode(bad, {5}, &d);
  EXPECT_EQ(d.rc, EPROTO);
  decode(msg, {5}, &d);
  EXPECT_EQ(d.rc, 0);
}

TEST(Late, TooBigOrBadSpecsAreNotEncoded) {
  Spec s = base();
  s.env.push_back("X=" + std::string(kLateMax, 'x'));
  auto r = encode_late(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  s = base();
  s.args = {};
  EXPECT_FALSE(encode_late(s));
  s = base();
  s.hostname = std::string(65, 'h');
  EXPECT_FALSE(encode_late(s));
}

TEST(Late, WhichFinalSpecsAWarmInitCanBecome) {
  Spec warm = base();
  warm.deferred = true;
  Spec final = base();
  final.args = {"sh", "-c", "x"};
  final.env = {"A=1"};
  final.user = "nobody";
  final.cwd = "/somewhere/else";
  final.hostname = "other";
  final.tty = true;
  EXPECT_TRUE(can_release_as(warm, final));

  Spec ro = final;
  ro.readonly_rootfs = true;
  EXPECT_FALSE(can_release_as(warm, ro)) << "read-only root: another plan";
  Spec vol = final;
  vol.mounts.push_back({.kind = Mount::Kind::kBind, .source = "/data", .target = "/data"});
  EXPECT_FALSE(can_release_as(warm, vol)) << "a volume: another plan";
  Spec layers = final;
  layers.lower_dirs = {"/l/0"};
  EXPECT_FALSE(can_release_as(warm, layers)) << "another image";
  Spec host = final;
  host.new_netns = false;
  EXPECT_FALSE(can_release_as(warm, host)) << "the host's network";
  Spec big = final;
  big.env.push_back("X=" + std::string(kLateMax, 'x'));
  EXPECT_FALSE(can_release_as(warm, big)) << "does not fit the release message";
  Spec not_deferred = warm;
  not_deferred.deferred = false;
  EXPECT_FALSE(can_release_as(not_deferred, final));
}

}  // namespace
}  // namespace berth::runtime
