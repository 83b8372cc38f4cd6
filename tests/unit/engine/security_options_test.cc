// HostConfig security fields and seccomp profile JSON: pure, no root.
#include "core/engine/security_options.h"

#include <linux/capability.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include "core/runtime/capabilities.h"
#include "core/runtime/seccomp.h"
#include "core/engine/seccomp_json.h"

namespace berth::engine {
namespace {

using runtime::Security;

Result<SecurityRequest> parse(const std::string& host_config, const std::string& config = "{}") {
  return parse_security_request(Json::parse(config), Json::parse(host_config));
}

std::string error_of(const std::string& host_config, const std::string& config = "{}") {
  auto r = parse(host_config, config);
  return r ? "<ok>" : r.error().message();
}

TEST(SecurityRequest, DefaultsAreDockers) {
  auto r = parse_security_request(Json::object(), Json());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->privileged);
  EXPECT_EQ(r->capabilities, runtime::kDefaultCapabilities);
  EXPECT_EQ(r->seccomp, Security::Seccomp::kDefault);
  EXPECT_FALSE(r->no_new_privileges);
  EXPECT_FALSE(r->unmasked_paths);
  EXPECT_EQ(r->pid.kind, NamespaceMode::Kind::kPrivate);
  Security s = to_runtime_security(*r);
  EXPECT_EQ(s.capabilities, runtime::kDefaultCapabilities);
  EXPECT_FALSE(s.host_pid || s.host_ipc || s.host_uts);
}

TEST(SecurityRequest, Capabilities) {
  auto r = parse(R"({"CapAdd": ["net_admin", "CAP_SYS_PTRACE"], "CapDrop": ["chown"]})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->cap_add, (std::vector<std::string>{"CAP_NET_ADMIN", "CAP_SYS_PTRACE"}));
  EXPECT_EQ(r->cap_drop, std::vector<std::string>{"CAP_CHOWN"});
  EXPECT_EQ(r->capabilities, (runtime::kDefaultCapabilities | (1ULL << CAP_NET_ADMIN) | (1ULL << CAP_SYS_PTRACE)) &
                                 ~(1ULL << CAP_CHOWN));
  r = parse(R"({"CapDrop": "ALL"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->capabilities, 0u);
  r = parse(R"({"Privileged": true, "CapDrop": ["ALL"]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->capabilities, runtime::all_capabilities());
  EXPECT_EQ(error_of(R"({"CapAdd": ["foo"]})"), "unknown capability: \"CAP_FOO\"");
  EXPECT_EQ(error_of(R"({"CapAdd": [1]})"), "invalid CapAdd: expected an array of strings");
  EXPECT_EQ(error_of(R"({"Capabilities": ["CAP_CHOWN"]})"),
            "HostConfig.Capabilities is not supported by berth: use CapAdd and CapDrop");
  EXPECT_EQ(error_of(R"({"Privileged": "yes"})"), "invalid Privileged: expected a boolean");
}

TEST(SecurityRequest, SecurityOpt) {
  auto r = parse(R"({"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->no_new_privileges);
  EXPECT_EQ(r->seccomp, Security::Seccomp::kUnconfined);
  r = parse(R"({"SecurityOpt": ["no-new-privileges=true", "no-new-privileges:false"]})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->no_new_privileges);
  r = parse(R"({"SecurityOpt": ["systempaths=unconfined", "seccomp=builtin"]})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->unmasked_paths);
  EXPECT_EQ(r->seccomp, Security::Seccomp::kDefault);
  r = parse(R"({"MaskedPaths": [], "ReadonlyPaths": []})");  // what the CLI sends for systempaths=unconfined
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->unmasked_paths);
  EXPECT_EQ(error_of(R"({"MaskedPaths": ["/proc/x"]})"),
            "HostConfig.MaskedPaths with paths of its own is not supported by berth: only the default, or none "
            "(--security-opt systempaths=unconfined)");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["apparmor=unconfined"]})"),
            "berth does not support AppArmor or SELinux (this kernel enforces neither): --security-opt "
            "apparmor=unconfined");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["label=disable"]})"),
            "berth does not support AppArmor or SELinux (this kernel enforces neither): --security-opt label=disable");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["label:disable"]})"),
            "berth does not support AppArmor or SELinux (this kernel enforces neither): --security-opt label:disable");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["bogus=1"]})"), "invalid --security-opt 2: \"bogus=1\"");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["bogus"]})"), "invalid --security-opt 1: \"bogus\"");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["no-new-privileges=maybe"]})"),
            "invalid --security-opt 2: \"no-new-privileges=maybe\"");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["systempaths=confined"]})"), "invalid --security-opt 2: \"systempaths=confined\"");
  EXPECT_EQ(error_of(R"({"SecurityOpt": ["seccomp=/etc/profile.json"]})"),
            "Decoding seccomp profile failed: invalid JSON");
}

TEST(SecurityRequest, SeccompProfileFromTheCli) {
  Json profile = {{"defaultAction", "SCMP_ACT_ALLOW"},
                  {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}}};
  Json hc = {{"SecurityOpt", {"seccomp=" + profile.dump()}}};
  auto r = parse_security_request(Json::object(), hc);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->seccomp, Security::Seccomp::kProfile);
  ASSERT_TRUE(r->seccomp_profile);
  EXPECT_EQ(r->seccomp_profile->default_action, runtime::SeccompAction::kAllow);
  ASSERT_EQ(r->seccomp_profile->syscalls.size(), 1u);
  EXPECT_EQ(r->seccomp_profile->syscalls[0].names, (std::vector<std::string>{"mkdir", "mkdirat"}));
  EXPECT_TRUE(runtime::compile_seccomp(r->seccomp_profile, r->capabilities));
  EXPECT_EQ(to_runtime_security(*r).seccomp_profile, r->seccomp_profile);
}

TEST(SeccompJson, DockerFormat) {
  auto p = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "ignored"},
      {"name": "socket", "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
      {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8", "caps": ["SYS_PTRACE"]}},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
       "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_NOT_A_CAP"], "arches": ["s390x"]}},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
      {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_NOT_A_CAP"]}}
    ]})");
  ASSERT_TRUE(p) << p.error().message();
  const auto& prof = **p;
  EXPECT_EQ(prof.default_action, runtime::SeccompAction::kErrno);
  EXPECT_EQ(prof.default_errno, 1);
  if (std::string(runtime::native_arch_name()) == "amd64") {
    EXPECT_EQ(prof.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  }
  ASSERT_EQ(prof.syscalls.size(), 6u);
  EXPECT_EQ(prof.syscalls[1].names, std::vector<std::string>{"socket"});
  EXPECT_EQ(prof.syscalls[1].args[0], (runtime::SeccompArg{.index = 0, .value = 40, .op = runtime::SeccompOp::kNotEqual}));
  EXPECT_EQ(prof.syscalls[2].includes.caps, 1ULL << CAP_SYS_PTRACE);
  EXPECT_EQ(prof.syscalls[2].includes.min_kernel_major, 4);
  EXPECT_EQ(prof.syscalls[2].includes.min_kernel_minor, 8);
  EXPECT_EQ(prof.syscalls[3].excludes.caps, 1ULL << CAP_SYS_ADMIN);  // the unknown one never matches
  EXPECT_EQ(prof.syscalls[3].excludes.arches, std::vector<std::string>{"s390x"});
  EXPECT_EQ(prof.syscalls[4].errno_ret, 38);
  EXPECT_FALSE(runtime::seccomp_rule_applies(prof.syscalls[5], runtime::all_capabilities()));
  auto compiled = runtime::compile_seccomp(*p, runtime::kDefaultCapabilities);
  EXPECT_TRUE(compiled) << compiled.error().message();
}

TEST(SeccompJson, Refusals) {
  auto err = [](const std::string& j) {
    auto p = parse_seccomp_profile(j);
    return p ? "<ok>" : p.error().message();
  };
  EXPECT_EQ(err("{"), "Decoding seccomp profile failed: invalid JSON");
  EXPECT_EQ(err("[]"), "Decoding seccomp profile failed: the profile must be a JSON object");
  EXPECT_EQ(err("{}"), "Decoding seccomp profile failed: defaultAction is missing");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_NOPE"})"),
            "Decoding seccomp profile failed: unrecognized action \"SCMP_ACT_NOPE\"");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})"),
            "seccomp profile: action SCMP_ACT_NOTIFY is not supported by berth");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_TRACE"})"), "seccomp profile: action SCMP_ACT_TRACE is not supported by berth");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock"})"),
            "seccomp profile: listenerPath (user notification) is not supported by berth");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]})"),
            "seccomp profile: flags are not supported by berth");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": []})"),
            "Decoding seccomp profile failed: use either 'architectures' or 'archMap'");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
            "Decoding seccomp profile failed: argument index 6 is out of range (0-5)");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_WHAT"}]}]})"),
            "Decoding seccomp profile failed: unrecognized operator \"SCMP_CMP_WHAT\"");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]})"),
            "Decoding seccomp profile failed: a syscalls entry names no syscall");
  EXPECT_EQ(err(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",
                   "includes": {"minKernel": "four"}}]})"),
            "Decoding seccomp profile failed: invalid kernel version: four");
  std::string deep = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"x\": " + std::string(100000, '[') + "}";
  EXPECT_EQ(err(deep), "Decoding seccomp profile failed: nested deeper than 64 levels");
}

TEST(SecurityRequest, DevicesAndRules) {
  auto r = parse(R"({"Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "", "CgroupPermissions": ""},
                                 {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvda", "CgroupPermissions": "r"}],
                     "DeviceCgroupRules": ["c 10:229 rwm", "b *:* m"]})");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->devices.size(), 2u);
  EXPECT_EQ(r->devices[0], (DeviceMapping{"/dev/fuse", "/dev/fuse", "rwm"}));
  EXPECT_EQ(r->devices[1], (DeviceMapping{"/dev/sda", "/dev/xvda", "r"}));
  ASSERT_EQ(r->device_cgroup_rules.size(), 2u);
  EXPECT_EQ(r->device_cgroup_rules[0], (cgroups::DeviceRule{.type = 'c', .major = 10, .minor = 229}));
  EXPECT_EQ(error_of(R"({"Devices": [{"PathOnHost": "/dev/fuse", "CgroupPermissions": "rwx"}]})"),
            "invalid device mode: rwx");
  EXPECT_EQ(error_of(R"({"Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "fuse"}]})"),
            "fuse is not an absolute path");
  EXPECT_EQ(error_of(R"({"DeviceCgroupRules": ["c 1:3"]})"), "invalid device cgroup format 'c 1:3'");
  EXPECT_EQ(error_of(R"({"DeviceRequests": [{"Driver": "nvidia", "Count": -1}]})"),
            "HostConfig.DeviceRequests (--gpus) is not supported by berth");
  EXPECT_TRUE(parse(R"({"DeviceRequests": []})"));
}

TEST(SecurityRequest, UlimitsSysctlsGroupsShm) {
  auto r = parse(R"({"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": -1, "Hard": -1}],
                     "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"},
                     "GroupAdd": ["audio", "1234"], "ShmSize": 134217728})");
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->ulimits.size(), 2u);
  EXPECT_EQ(r->ulimits[0], (runtime::Rlimit{RLIMIT_NOFILE, 1024, 2048}));
  EXPECT_EQ(r->ulimits[1], (runtime::Rlimit{RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY}));
  EXPECT_EQ(r->sysctls, (std::vector<std::pair<std::string, std::string>>{{"kernel.shmmax", "1000"},
                                                                          {"net.ipv4.ip_forward", "1"}}));
  EXPECT_EQ(r->group_add, (std::vector<std::string>{"audio", "1234"}));
  EXPECT_EQ(r->shm_size, 134217728);
  Security s = to_runtime_security(*r);
  EXPECT_EQ(s.rlimits, r->ulimits);
  EXPECT_EQ(s.shm_size, 134217728);
  EXPECT_EQ(error_of(R"({"Ulimits": [{"Name": "nofiles", "Soft": 1, "Hard": 1}]})"), "invalid ulimit type: nofiles");
  EXPECT_EQ(error_of(R"({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]})"),
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5");
  EXPECT_EQ(error_of(R"({"Sysctls": {"kernel.panic": "1"}})"), "sysctl 'kernel.panic' is not whitelisted");
  EXPECT_EQ(error_of(R"({"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}})"),
            "sysctl 'net.ipv4.ip_forward' is not allowed: the container shares the host's network namespace");
  EXPECT_EQ(error_of(R"({"IpcMode": "host", "Sysctls": {"kernel.shmmax": "1"}})"),
            "sysctl 'kernel.shmmax' is not allowed: the container shares the host's IPC namespace");
  EXPECT_EQ(error_of(R"({"ShmSize": -1})"), "SHM size can not be less than 0");
  EXPECT_EQ(error_of(R"({"IpcMode": "host", "ShmSize": 1048576})"),
            "--shm-size has no effect with --ipc host: its /dev/shm is not the container's own");
  EXPECT_EQ(error_of(R"({"GroupAdd": ["a:b"]})"), "invalid GroupAdd entry \"a:b\"");
}

TEST(SecurityRequest, Namespaces) {
  auto r = parse(R"({"PidMode": "host", "IpcMode": "container:db", "UTSMode": "host", "UsernsMode": "host"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->pid.kind, NamespaceMode::Kind::kHost);
  EXPECT_EQ(r->ipc, (NamespaceMode{NamespaceMode::Kind::kContainer, "db"}));
  EXPECT_EQ(r->uts.kind, NamespaceMode::Kind::kHost);
  Security s = to_runtime_security(*r);
  EXPECT_TRUE(s.host_pid);
  EXPECT_FALSE(s.host_ipc);
  EXPECT_TRUE(s.host_uts);
  r = parse(R"({"PidMode": "container:web", "IpcMode": "shareable"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->pid, (NamespaceMode{NamespaceMode::Kind::kContainer, "web"}));
  EXPECT_EQ(r->ipc.kind, NamespaceMode::Kind::kShareable);
  EXPECT_TRUE(parse(R"({"IpcMode": "private"})"));
  EXPECT_EQ(error_of(R"({"PidMode": "shareable"})"), "invalid PID mode: shareable");
  EXPECT_EQ(error_of(R"({"PidMode": "container:"})"), "invalid PID mode: container:");
  EXPECT_EQ(error_of(R"({"IpcMode": "bogus"})"), "invalid IPC mode: bogus");
  EXPECT_EQ(error_of(R"({"IpcMode": "none"})"), "IpcMode none is not supported by berth");
  EXPECT_EQ(error_of(R"({"UTSMode": "container:x"})"), "invalid UTS mode: container:x");
  EXPECT_EQ(error_of(R"({"UsernsMode": "private"})"),
            "UsernsMode private is not supported by berth: \"host\" or none (berthd --userns-remap decides the "
            "rest)");
  EXPECT_EQ(error_of(R"({"UTSMode": "host"})", R"({"Hostname": "box"})"),
            "Conflicting options: hostname and the UTS mode");
}

}  // namespace
}  // namespace berth::engine
