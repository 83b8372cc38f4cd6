#include "tools/berthctl/security_flags.h"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace berth::ctl {
namespace {

using nlohmann::json;

TEST(SecurityFlags, NoneGivenSetsNothing) {
  json host = json::object();
  ASSERT_TRUE(apply_security_flags({}, host).has_value());
  EXPECT_EQ(host, json::object());
}

TEST(SecurityFlags, AsTheDockerCliSendsThem) {
  SecurityFlags f;
  f.privileged = true;
  f.cap_add = {"NET_ADMIN"};
  f.cap_drop = {"ALL"};
  f.security_opt = {"no-new-privileges", "seccomp=unconfined", "systempaths=unconfined"};
  f.devices = {"/dev/fuse", "/dev/sda:/dev/xvda:r", "/dev/snd:rw"};
  f.device_cgroup_rules = {"c 1:3 rwm"};
  f.group_add = {"audio"};
  f.ulimits = {"nofile=1024:2048", "core=-1"};
  f.sysctls = {"net.ipv4.ip_forward=1"};
  f.shm_size = "64m";
  f.pid = "host";
  f.ipc = "shareable";
  f.uts = "host";
  json host = json::object();
  auto r = apply_security_flags(f, host);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(host["Privileged"], true);
  EXPECT_EQ(host["CapAdd"], json::array({"NET_ADMIN"}));
  EXPECT_EQ(host["SecurityOpt"], json::array({"no-new-privileges", "seccomp=unconfined"}));
  EXPECT_EQ(host["MaskedPaths"], json::array());
  EXPECT_EQ(host["ReadonlyPaths"], json::array());
  EXPECT_EQ(host["Devices"][0], (json{{"PathOnHost", "/dev/fuse"}, {"PathInContainer", "/dev/fuse"}, {"CgroupPermissions", "rwm"}}));
  EXPECT_EQ(host["Devices"][1], (json{{"PathOnHost", "/dev/sda"}, {"PathInContainer", "/dev/xvda"}, {"CgroupPermissions", "r"}}));
  EXPECT_EQ(host["Devices"][2], (json{{"PathOnHost", "/dev/snd"}, {"PathInContainer", "/dev/snd"}, {"CgroupPermissions", "rw"}}));
  EXPECT_EQ(host["Ulimits"][0], (json{{"Name", "nofile"}, {"Hard", 2048}, {"Soft", 1024}}));
  EXPECT_EQ(host["Ulimits"][1], (json{{"Name", "core"}, {"Hard", -1}, {"Soft", -1}}));
  EXPECT_EQ(host["Sysctls"], (json{{"net.ipv4.ip_forward", "1"}}));
  EXPECT_EQ(host["ShmSize"], 64 << 20);
  EXPECT_EQ(host["PidMode"], "host");
  EXPECT_EQ(host["IpcMode"], "shareable");
  EXPECT_EQ(host["UTSMode"], "host");
}

TEST(SecurityFlags, SeccompFileIsSentAsItsJson) {
  char path[] = "/tmp/berth-seccomp-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string profile = "{ \"defaultAction\" : \"SCMP_ACT_ALLOW\" }\n";
  ASSERT_EQ(::write(fd, profile.data(), profile.size()), ssize_t(profile.size()));
  ::close(fd);
  SecurityFlags f;
  f.security_opt = {std::string("seccomp=") + path};
  json host = json::object();
  auto r = apply_security_flags(f, host);
  std::remove(path);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(host["SecurityOpt"], json::array({"seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"}));
}

TEST(SecurityFlags, BadValuesFailBeforeAnyRequest) {
  auto fails = [](SecurityFlags f, std::string_view words) {
    json host = json::object();
    auto r = apply_security_flags(f, host);
    ASSERT_FALSE(r.has_value()) << words;
    EXPECT_NE(r.error().message().find(words), std::string::npos) << r.error().message();
  };
  fails({.security_opt = {"seccomp"}}, "Invalid --security-opt: \"seccomp\"");
  fails({.security_opt = {"seccomp=/nonexistent/profile.json"}}, "opening seccomp profile (/nonexistent/profile.json) failed");
  fails({.devices = {"a:b:c:d"}}, "invalid device specification: a:b:c:d");
  fails({.ulimits = {"nofile"}}, "invalid ulimit argument: nofile");
  fails({.ulimits = {"nofile=x"}}, "invalid ulimit argument: nofile=x");
  fails({.sysctls = {"novalue"}}, "--sysctl");
  fails({.shm_size = "12q"}, "--shm-size");
}

}  // namespace
}  // namespace berth::ctl
