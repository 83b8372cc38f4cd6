// The security request in the state file (security_state.h) and what the
// engine derives from it (container_security.h).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/engine/container_security.h"
#include "core/engine/security_options.h"
#include "core/engine/security_state.h"
#include "core/engine/state_store.h"

namespace berth::engine {
namespace {

SecurityRequest parsed(const std::string& host_config) {
  auto r = parse_security_request(Json::object(), Json::parse(host_config));
  EXPECT_TRUE(r.has_value()) << r.error().message();
  return r ? *r : SecurityRequest{};
}

void expect_same(const SecurityRequest& a, const SecurityRequest& b) {
  EXPECT_EQ(a.privileged, b.privileged);
  EXPECT_EQ(a.cap_add, b.cap_add);
  EXPECT_EQ(a.cap_drop, b.cap_drop);
  EXPECT_EQ(a.capabilities, b.capabilities);
  EXPECT_EQ(a.no_new_privileges, b.no_new_privileges);
  EXPECT_EQ(a.seccomp, b.seccomp);
  EXPECT_EQ(bool(a.seccomp_profile), bool(b.seccomp_profile));
  EXPECT_EQ(a.seccomp_profile_json, b.seccomp_profile_json);
  EXPECT_EQ(a.unmasked_paths, b.unmasked_paths);
  EXPECT_EQ(a.devices, b.devices);
  EXPECT_EQ(a.device_cgroup_rules, b.device_cgroup_rules);
  EXPECT_EQ(a.group_add, b.group_add);
  EXPECT_EQ(a.ulimits, b.ulimits);
  EXPECT_EQ(a.sysctls, b.sysctls);
  EXPECT_EQ(a.shm_size, b.shm_size);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.ipc, b.ipc);
  EXPECT_EQ(a.uts, b.uts);
}

TEST(SecurityState, EveryFieldSurvivesTheStateFile) {
  SecurityRequest r = parsed(R"({
    "Privileged": false, "CapAdd": ["NET_ADMIN", "sys_time"], "CapDrop": ["MKNOD"],
    "SecurityOpt": ["no-new-privileges", "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}]}"],
    "MaskedPaths": [], "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rw"}],
    "DeviceCgroupRules": ["c 1:3 rwm", "b *:* m"], "GroupAdd": ["audio", "10"],
    "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "core", "Soft": -1, "Hard": -1}],
    "Sysctls": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}, "ShmSize": 1048576,
    "PidMode": "container:web", "IpcMode": "shareable", "UTSMode": "host"})");
  Container c;
  c.id = std::string(64, 'a');
  c.spec.security = r;
  auto back = decode_container(encode_container(c));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  expect_same((*back)->spec.security, r);
  EXPECT_TRUE((*back)->spec.security.seccomp_profile);
  EXPECT_EQ(encode_container(**back), encode_container(c));
}

TEST(SecurityState, PrivilegedAndDefaults) {
  for (const char* hc : {R"({})", R"({"Privileged": true})", R"({"CapDrop": ["ALL"], "IpcMode": "host"})",
                         R"({"SecurityOpt": ["seccomp=unconfined", "systempaths=unconfined"]})"}) {
    SecurityRequest r = parsed(hc);
    auto back = security_from_state(security_to_state(r));
    ASSERT_TRUE(back.has_value()) << back.error().message();
    expect_same(*back, r);
  }
}

TEST(SecurityState, AnOldStateFileHasTheDefaults) {
  Container c;
  c.id = std::string(64, 'b');
  nlohmann::json j = nlohmann::json::parse(encode_container(c));
  j["spec"].erase("security");
  auto back = decode_container(j.dump());
  ASSERT_TRUE(back.has_value()) << back.error().message();
  expect_same((*back)->spec.security, parsed("{}"));
}

TEST(SecurityState, BadStoredValuesAreCorrupt) {
  nlohmann::json j = security_to_state(parsed("{}"));
  for (auto [field, value] : {std::pair{"seccomp", nlohmann::json("sometimes")},
                              {"device_cgroup_rules", nlohmann::json::array({"x 1:2 q"})},
                              {"ulimits", nlohmann::json::array({{{"name", "bogus"}, {"soft", 1}, {"hard", 1}}})},
                              {"privileged", nlohmann::json("yes")}}) {
    nlohmann::json bad = j;
    bad[field] = value;
    auto r = security_from_state(bad);
    ASSERT_FALSE(r.has_value()) << field;
    EXPECT_EQ(r.error().code(), Code::kCorrupt) << field;
  }
  nlohmann::json profile = j;
  profile["seccomp"] = "profile";
  profile["seccomp_profile"] = "{not json";
  EXPECT_EQ(security_from_state(profile).error().code(), Code::kCorrupt);
}

TEST(ContainerSecurity, WarmInitsOnlyForDefaultSetups) {
  EXPECT_TRUE(warm_compatible(parsed("{}")));
  EXPECT_TRUE(warm_compatible(parsed(R"({"CapAdd": ["NET_ADMIN"], "SecurityOpt": ["no-new-privileges"]})")));
  for (const char* hc : {R"({"PidMode": "container:x"})", R"({"IpcMode": "container:x"})",
                         R"({"IpcMode": "shareable"})", R"({"DeviceCgroupRules": ["c 1:3 r"]})",
                         R"({"Devices": [{"PathOnHost": "/dev/null"}]})"})
    EXPECT_FALSE(warm_compatible(parsed(hc))) << hc;
}

TEST(ContainerSecurity, MaskedAndReadonlyPathLists) {
  EXPECT_FALSE(masked_paths(parsed("{}")).empty());
  EXPECT_FALSE(readonly_paths(parsed("{}")).empty());
  EXPECT_EQ(readonly_paths(parsed("{}"))[0], "/proc/bus");
  for (const char* hc : {R"({"Privileged": true})", R"({"SecurityOpt": ["systempaths=unconfined"]})"}) {
    EXPECT_TRUE(masked_paths(parsed(hc)).empty()) << hc;
    EXPECT_TRUE(readonly_paths(parsed(hc)).empty()) << hc;
  }
}

TEST(ContainerSecurity, RuntimeAndIpcSysctls) {
  auto r = parse_security_request(Json::object(), Json::parse(R"({"Runtime": "runc"})"));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("unknown or invalid runtime name: runc"), std::string::npos);
  EXPECT_TRUE(parse_security_request(Json::object(), Json::parse(R"({"Runtime": "berth"})")).has_value());
  auto ipc = parse_security_request(Json::object(),
                                    Json::parse(R"({"IpcMode": "container:db", "Sysctls": {"kernel.shmmax": "1"}})"));
  ASSERT_FALSE(ipc.has_value());
  EXPECT_NE(ipc.error().message().find("IPC namespace of container db"), std::string::npos);
}

}  // namespace
}  // namespace berth::engine
