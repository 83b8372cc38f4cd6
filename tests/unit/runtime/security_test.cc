// Capabilities by name, security option checks, the mount plan's security
// parts and the late part's seccomp/no_new_privs: pure, no root.
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include <gtest/gtest.h>

#include "core/runtime/capabilities.h"
#include "core/runtime/child_error.h"
#include "core/runtime/late.h"
#include "core/runtime/mount_plan.h"
#include "core/runtime/prepare.h"
#include "core/runtime/security.h"
#include "tests/unit/runtime/plan_steps.h"

namespace berth::runtime {
namespace {

using test::count;
using test::find;

using Strings = std::vector<std::string>;

uint64_t bit(int c) { return uint64_t(1) << c; }

TEST(CapabilityNames, AnyCaseWithOrWithoutPrefix) {
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
  EXPECT_EQ(capability_number("sys_admin"), CAP_SYS_ADMIN);
  EXPECT_EQ(capability_number("Cap_Net_Admin"), CAP_NET_ADMIN);
  EXPECT_EQ(capability_number("checkpoint_restore"), CAP_CHECKPOINT_RESTORE);
  EXPECT_EQ(capability_number("NOPE"), std::nullopt);
  EXPECT_EQ(capability_name(CAP_CHOWN), "CAP_CHOWN");
  EXPECT_EQ(capability_names(bit(CAP_KILL) | bit(CAP_CHOWN)), (Strings{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(*normalize_capability("all"), "ALL");
  EXPECT_EQ(*normalize_capability("net_raw"), "CAP_NET_RAW");
  auto bad = normalize_capability("foo");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "unknown capability: \"CAP_FOO\"");
}

TEST(ContainerCapabilities, DockerRules) {
  EXPECT_EQ(*container_capabilities({}, {}, false), kDefaultCapabilities);
  EXPECT_EQ(kDefaultCapabilities, 0xa80425fbULL);
  EXPECT_EQ(*container_capabilities({"NET_ADMIN"}, {"chown"}, false),
            (kDefaultCapabilities | bit(CAP_NET_ADMIN)) & ~bit(CAP_CHOWN));
  EXPECT_EQ(*container_capabilities({}, {"ALL"}, false), 0u);
  EXPECT_EQ(*container_capabilities({"kill"}, {"all"}, false), bit(CAP_KILL));
  EXPECT_EQ(*container_capabilities({"ALL"}, {"SYS_ADMIN"}, false), all_capabilities() & ~bit(CAP_SYS_ADMIN));
  EXPECT_EQ(*container_capabilities({}, {"ALL"}, true), all_capabilities());  // privileged ignores drops
  EXPECT_EQ(all_capabilities() >> (cap_last_cap() + 1), 0u);
  auto bad = container_capabilities({"SYS_NOPE"}, {}, false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "unknown capability: \"CAP_SYS_NOPE\"");
  EXPECT_FALSE(container_capabilities({}, {"bogus"}, true));  // names are checked even when privileged
}

TEST(Sysctls, OnlyNamespacedOnes) {
  EXPECT_TRUE(validate_sysctl("net.ipv4.ip_forward", "1", false, false));
  EXPECT_TRUE(validate_sysctl("net.ipv4.conf.eth0/100.forwarding", "1", false, false));
  EXPECT_TRUE(validate_sysctl("kernel.shmmax", "1000", false, false));
  EXPECT_TRUE(validate_sysctl("kernel.msgmnb", "1000", false, false));
  EXPECT_TRUE(validate_sysctl("kernel.sem", "250 32000 32 128", false, false));
  EXPECT_TRUE(validate_sysctl("fs.mqueue.msg_max", "20", false, false));
  for (const char* n : {"kernel.panic", "vm.swappiness", "kernel.hostname", "fs.file-max", "net..x", "net.a/../b",
                        "kernel.semx", "net"}) {
    auto r = validate_sysctl(n, "1", false, false);
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error().message(), fmt::format("sysctl '{}' is not whitelisted", n));
  }
  auto host_net = validate_sysctl("net.ipv4.ip_forward", "1", true, false);
  ASSERT_FALSE(host_net);
  EXPECT_EQ(host_net.error().message(),
            "sysctl 'net.ipv4.ip_forward' is not allowed: the container shares the host's network namespace");
  EXPECT_FALSE(validate_sysctl("kernel.shmmax", "1", false, true));
  EXPECT_TRUE(validate_sysctl("kernel.shmmax", "1", true, false));
  EXPECT_EQ(sysctl_proc_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
  EXPECT_EQ(sysctl_proc_path("net/ipv4/conf/eth0.100/forwarding"), "net/ipv4/conf/eth0.100/forwarding");
}

TEST(Rlimits, DockerNames) {
  EXPECT_EQ(rlimit_resource("nofile"), RLIMIT_NOFILE);
  EXPECT_EQ(rlimit_resource("nproc"), RLIMIT_NPROC);
  EXPECT_EQ(rlimit_resource("rttime"), RLIMIT_RTTIME);
  EXPECT_EQ(rlimit_resource("bogus"), std::nullopt);
  EXPECT_EQ(rlimit_name(RLIMIT_CORE), "core");
}

TEST(ValidateSecurity, Refusals) {
  Security s;
  EXPECT_TRUE(validate_security(s, true));
  s.rlimits = {{RLIMIT_NOFILE, 10, 5}};
  EXPECT_EQ(validate_security(s, true).error().message(),
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5");
  s = {};
  s.seccomp = Security::Seccomp::kProfile;
  EXPECT_FALSE(validate_security(s, true));
  s = {};
  s.sysctls = {{"net.core.somaxconn", "1024"}};
  EXPECT_TRUE(validate_security(s, true));
  EXPECT_FALSE(validate_security(s, false));  // host network
  s = {};
  s.host_pid = true;
  s.join_pid_pidfd = 3;
  EXPECT_FALSE(validate_security(s, true));
  s = {};
  s.shm_size = -1;
  EXPECT_EQ(validate_security(s, true).error().message(), "SHM size can not be less than 0");
  s = {};
  s.devices = {{.path = "dev/x"}};
  EXPECT_FALSE(validate_security(s, true));
  s.devices = {{.path = "/dev/x", .permissions = "rwx"}};
  EXPECT_EQ(validate_security(s, true).error().message(), "invalid device mode: rwx");
  s = {};
  s.group_add = {"a:b"};
  EXPECT_FALSE(validate_security(s, true));
}

Spec plain_spec() {
  Spec s;
  s.id = std::string(64, 'a');
  s.lower_dirs = {"/l/0"};
  s.upper_dir = "/c/upper";
  s.work_dir = "/c/work";
  s.rootfs_dir = "/c/rootfs";
  s.args = {"true"};
  s.env = {"PATH=/bin"};
  return s;
}

TEST(SecurityPlan, DefaultMasksKernelFilesystemsWithoutSymlinks) {
  MountPlan p = make_mount_plan(plain_spec());
  EXPECT_EQ(count(p, MountKind::kMask), kMaskedPathCount);
  EXPECT_EQ(count(p, MountKind::kReadonly), kReadonlyPathCount);
  EXPECT_EQ(count(p, MountKind::kHostDevices), 0u);
  for (const auto& s : p.steps) {
    bool kernel = s.kind == MountKind::kMask || s.kind == MountKind::kReadonly ||
                  (s.kind == MountKind::kFilesystem && s.fstype != "overlay");
    if (kernel) {
      EXPECT_TRUE(s.no_symlinks) << describe_step(s);
    }
  }
  const MountStep* sys = find(p, MountKind::kFilesystem, "/sys");
  ASSERT_NE(sys, nullptr);
  EXPECT_TRUE(sys->attrs & MOUNT_ATTR_RDONLY);
  const MountStep* shm = find(p, MountKind::kFilesystem, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->options.back(), (MountOption{"size", "65536k"}));
}

TEST(SecurityPlan, PrivilegedHasHostDevicesWritableSysAndNoMasks) {
  Spec s = plain_spec();
  s.security.privileged = true;
  MountPlan p = make_mount_plan(s);
  EXPECT_EQ(count(p, MountKind::kMask), 0u);
  EXPECT_EQ(count(p, MountKind::kReadonly), 0u);
  const MountStep* host = find(p, MountKind::kHostDevices, "/dev");
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->source, "/dev");
  // After the default nodes (kept) and before the links (not overwritten).
  EXPECT_LT(find(p, MountKind::kDevice, "/dev/null"), host);
  EXPECT_LT(host, find(p, MountKind::kSymlink, "/dev/ptmx"));
  EXPECT_FALSE(find(p, MountKind::kFilesystem, "/sys")->attrs & MOUNT_ATTR_RDONLY);
  s.new_netns = false;
  p = make_mount_plan(s);
  EXPECT_FALSE(find(p, MountKind::kBindTree, "/sys")->attrs & MOUNT_ATTR_RDONLY);
}

TEST(SecurityPlan, SystempathsUnconfinedKeepsSysReadonly) {
  Spec s = plain_spec();
  s.security.unmasked_paths = true;
  MountPlan p = make_mount_plan(s);
  EXPECT_EQ(count(p, MountKind::kMask), 0u);
  EXPECT_EQ(count(p, MountKind::kReadonly), 0u);
  EXPECT_TRUE(find(p, MountKind::kFilesystem, "/sys")->attrs & MOUNT_ATTR_RDONLY);
}

TEST(SecurityPlan, DevicesShmSizeAndHostIpc) {
  Spec s = plain_spec();
  s.security.devices = {{.path = "/dev/net/tun", .type = 'c', .major = 10, .minor = 200, .file_mode = 0660,
                         .uid = 5, .gid = 6, .host_path = "/dev/net/tun"},
                        {.path = "/dev/null", .type = 'c', .major = 1, .minor = 3, .host_path = "/dev/null"},
                        {.path = "/dev/xvda", .type = 'b', .major = 8, .minor = 0, .file_mode = 0600,
                         .host_path = "/dev/sda"}};
  s.security.shm_size = 128 << 20;
  MountPlan p = make_mount_plan(s);
  const MountStep* tun = find(p, MountKind::kDevice, "/dev/net/tun");
  ASSERT_NE(tun, nullptr);
  EXPECT_EQ(tun->mode, uint32_t(S_IFCHR | 0660));
  EXPECT_EQ(tun->uid, 5u);
  EXPECT_EQ(tun->gid, 6u);
  EXPECT_TRUE(tun->make_parents);
  const MountStep* xvda = find(p, MountKind::kDevice, "/dev/xvda");
  ASSERT_NE(xvda, nullptr);
  EXPECT_EQ(xvda->mode, uint32_t(S_IFBLK | 0600));
  EXPECT_EQ(xvda->source, "/dev/sda");
  // A --device at a default node's path replaces it: one /dev/null step.
  size_t nulls = 0;
  for (const auto& st : p.steps) nulls += st.kind == MountKind::kDevice && st.target == "/dev/null";
  EXPECT_EQ(nulls, 1u);
  EXPECT_EQ(find(p, MountKind::kFilesystem, "/dev/shm")->options.back(), (MountOption{"size", "134217728"}));

  s.security.host_ipc = true;
  p = make_mount_plan(s);
  EXPECT_EQ(find(p, MountKind::kFilesystem, "/dev/shm"), nullptr);
  const MountStep* bind = find(p, MountKind::kBindTree, "/dev/shm");
  ASSERT_NE(bind, nullptr);
  EXPECT_EQ(bind->source, "/dev/shm");
  s.security.host_ipc = false;
  s.security.shm_dir = "/var/lib/berth/containers/x/shm";
  p = make_mount_plan(s);
  EXPECT_EQ(find(p, MountKind::kBindTree, "/dev/shm")->source, "/var/lib/berth/containers/x/shm");
}

TEST(SecurityPrepare, CapabilitiesSeccompAndNamespaces) {
  Spec s = plain_spec();
  Prepared p;
  ASSERT_TRUE(prepare(s, &p));
  EXPECT_EQ(p.args.cap_keep, kDefaultCapabilities);
  EXPECT_GT(p.args.seccomp_len, 0);
  EXPECT_FALSE(p.args.no_new_privs);
  EXPECT_TRUE(p.args.set_hostname);

  Spec priv = plain_spec();
  priv.security.privileged = true;
  priv.security.no_new_privileges = true;
  Prepared pp;
  ASSERT_TRUE(prepare(priv, &pp));
  EXPECT_EQ(pp.args.cap_keep, all_capabilities());
  EXPECT_EQ(pp.args.seccomp_len, 0);  // no filter when privileged
  EXPECT_TRUE(pp.args.no_new_privs);

  Spec unconfined = plain_spec();
  unconfined.security.seccomp = Security::Seccomp::kUnconfined;
  unconfined.security.host_uts = true;
  unconfined.security.sysctls = {{"net.ipv4.ip_forward", "1"}};
  unconfined.security.group_add = {"audio", "1234"};
  Prepared pu;
  ASSERT_TRUE(prepare(unconfined, &pu));
  EXPECT_EQ(pu.args.seccomp_len, 0);
  EXPECT_FALSE(pu.args.set_hostname);
  ASSERT_EQ(pu.args.sysctl_count, 1u);
  EXPECT_STREQ(pu.args.sysctl_paths[0], "net/ipv4/ip_forward");
  EXPECT_STREQ(pu.args.sysctl_values[0], "1");
  ASSERT_EQ(pu.args.user.extra_group_count, 2u);
  EXPECT_STREQ(pu.args.user.extra_groups[1], "1234");
}

TEST(SecurityChildErrors, NameTheSysctlAndTheGroup) {
  Spec s = plain_spec();
  s.security.sysctls = {{"net.a", "1"}, {"net.ipv4.nope", "1"}};
  s.security.group_add = {"wheel", "nogroup"};
  Error e = describe_child_error({int32_t(Stage::kSysctl) + 1, ENOENT}, s);
  EXPECT_EQ(e.message(), "write sysctl net.ipv4.nope: no such file or directory");
  e = describe_child_error({int32_t(Stage::kGroupAddNotFound) + 1, ENOENT}, s);
  EXPECT_EQ(e.message(), "unable to find group nogroup: no matching entries in group file");
  e = describe_child_error({int32_t(Stage::kSeccomp), EINVAL}, s);
  EXPECT_EQ(e.message(), "load the seccomp filter: invalid argument");
}

TEST(SecurityLate, SeccompAndNoNewPrivsTravelWithTheRelease) {
  Spec s = plain_spec();
  s.security.no_new_privileges = true;
  s.security.capabilities = kDefaultCapabilities | bit(CAP_SYS_ADMIN);
  auto msg = encode_late(s);
  ASSERT_TRUE(msg) << msg.error().message();
  std::vector<uint64_t> room(kLateMax / 8);
  char* buf = reinterpret_cast<char*>(room.data());
  std::memcpy(buf, msg->data(), msg->size());
  ChildArgs a;
  ASSERT_EQ(decode_late(buf, msg->size(), nullptr, 0, &a), 0);
  EXPECT_TRUE(a.no_new_privs);
  EXPECT_EQ(a.cap_keep, kDefaultCapabilities | bit(CAP_SYS_ADMIN));
  auto prog = compile_seccomp(default_seccomp_profile(), a.cap_keep);
  ASSERT_TRUE(prog);
  ASSERT_EQ(a.seccomp_len, (*prog)->filter.size());
  EXPECT_EQ(std::memcmp(a.seccomp_filter, (*prog)->filter.data(), (*prog)->filter.size() * sizeof(sock_filter)), 0);
  EXPECT_STREQ(a.argv[0], "true");

  s.security.seccomp = Security::Seccomp::kUnconfined;
  msg = encode_late(s);
  ASSERT_TRUE(msg);
  std::memcpy(buf, msg->data(), msg->size());
  ChildArgs b;
  ASSERT_EQ(decode_late(buf, msg->size(), nullptr, 0, &b), 0);
  EXPECT_EQ(b.seccomp_len, 0);
  EXPECT_EQ(b.seccomp_filter, nullptr);
}

TEST(SecurityLate, OnlyDefaultSetUpCanBeReleasedFromAWarmInit) {
  Spec warm = plain_spec();
  warm.deferred = true;
  Spec final = plain_spec();
  final.security.capabilities = 0;
  final.security.no_new_privileges = true;
  final.security.seccomp = Security::Seccomp::kUnconfined;
  EXPECT_TRUE(can_release_as(warm, final));
  for (auto change : std::vector<std::function<void(Security&)>>{
           [](Security& x) { x.privileged = true; }, [](Security& x) { x.unmasked_paths = true; },
           [](Security& x) { x.sysctls = {{"net.a", "1"}}; }, [](Security& x) { x.rlimits = {{RLIMIT_NOFILE, 1, 1}}; },
           [](Security& x) { x.host_uts = true; }, [](Security& x) { x.group_add = {"audio"}; },
           [](Security& x) { x.shm_size = 1 << 20; }}) {
    Spec f = final;
    change(f.security);
    EXPECT_FALSE(can_release_as(warm, f));
  }
}

}  // namespace
}  // namespace berth::runtime
