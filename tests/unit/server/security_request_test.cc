// The security fields of create (through parse_create_request), exec's
// Privileged, the JSON depth bound on bodies, and inspect's HostConfig.
#include <gtest/gtest.h>

#include <string>

#include "ipc/server/create_request.h"
#include "ipc/server/exec_update_request.h"
#include "ipc/server/json_util.h"
#include "ipc/server/security_view.h"

namespace berth::ipc {
namespace {

using Kind = engine::NamespaceMode::Kind;

TEST(CreateSecurity, HostConfigFieldsReachTheSpec) {
  auto s = parse_create_request(
      R"({"Image":"busybox","HostConfig":{"CapAdd":["net_admin"],"CapDrop":["MKNOD"],"Privileged":false,
          "SecurityOpt":["no-new-privileges"],"PidMode":"host","IpcMode":"shareable","ShmSize":1048576,
          "Devices":[{"PathOnHost":"/dev/loop-control","PathInContainer":"","CgroupPermissions":""}],
          "Ulimits":[{"Name":"nofile","Soft":10,"Hard":20}],"GroupAdd":["audio"]}})",
      "");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  const engine::SecurityRequest& r = s->security;
  EXPECT_EQ(r.cap_add, std::vector<std::string>{"CAP_NET_ADMIN"});
  EXPECT_EQ(r.cap_drop, std::vector<std::string>{"CAP_MKNOD"});
  EXPECT_TRUE(r.no_new_privileges);
  EXPECT_EQ(r.pid.kind, Kind::kHost);
  EXPECT_EQ(r.ipc.kind, Kind::kShareable);
  EXPECT_EQ(r.shm_size, 1048576);
  ASSERT_EQ(r.devices.size(), 1u);
  EXPECT_EQ(r.devices[0].path_in_container, "/dev/loop-control");
  EXPECT_EQ(r.devices[0].cgroup_permissions, "rwm");
  EXPECT_EQ(r.ulimits.size(), 1u);
  EXPECT_EQ(r.group_add, std::vector<std::string>{"audio"});
}

TEST(CreateSecurity, NoHostConfigIsDockersDefault) {
  auto s = parse_create_request(R"({"Image":"busybox"})", "");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->security.capabilities, 0x00000000a80425fbull);
  EXPECT_FALSE(s->security.privileged);
  EXPECT_EQ(s->security.seccomp, runtime::Security::Seccomp::kDefault);
}

TEST(CreateSecurity, RefusedOptionsNameThemselves) {
  for (auto [hc, words] :
       {std::pair{R"({"SecurityOpt":["apparmor=unconfined"]})", "AppArmor or SELinux"},
        {R"({"SecurityOpt":["label=disable"]})", "AppArmor or SELinux"},
        {R"({"SecurityOpt":["bogus=1"]})", "invalid --security-opt"},
        {R"({"UsernsMode":"private"})", "HostConfig.UsernsMode: only host"},
        {R"({"Runtime":"runc"})", "unknown or invalid runtime name"},
        {R"({"CapAdd":["NOT_A_CAP"]})", "NOT_A_CAP"},
        {R"({"Sysctls":{"kernel.panic":"1"}})", "not whitelisted"},
        {R"({"DeviceCgroupRules":["z 1:1 rwm"]})", "invalid device cgroup format"}}) {
    auto s = parse_create_request(std::string(R"({"Image":"busybox","HostConfig":)") + hc + "}", "");
    ASSERT_FALSE(s.has_value()) << hc;
    EXPECT_EQ(s.error().code(), Code::kInvalidArgument) << hc;
    EXPECT_NE(s.error().message().find(words), std::string::npos) << s.error().message();
  }
}

TEST(Bodies, DeepJsonIsRefusedBeforeParsing) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto s = parse_create_request(R"({"Image":"busybox","X":)" + deep + "}", "");
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("nested deeper"), std::string::npos) << s.error().message();
  EXPECT_FALSE(parse_exec_config(R"({"Cmd":["sh"],"X":)" + deep + "}").has_value());
  EXPECT_FALSE(parse_update_request(R"({"X":)" + deep + "}").has_value());
  EXPECT_TRUE(parse_body(R"({"a":[[[[1]]]]})").has_value());
}

TEST(Bodies, ExecPrivilegedIsAccepted) {
  auto cfg = parse_exec_config(R"({"Cmd":["id"],"Privileged":true})");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message();
  EXPECT_TRUE(cfg->privileged);
}

TEST(Bodies, UpdateRestartPolicy) {
  auto keep = parse_update_request(R"({"Memory":67108864,"RestartPolicy":{"Name":""}})");
  ASSERT_TRUE(keep.has_value()) << keep.error().message();
  EXPECT_FALSE(keep->restart.has_value());
  auto always = parse_update_request(R"({"RestartPolicy":{"Name":"always"}})");
  ASSERT_TRUE(always.has_value()) << always.error().message();
  ASSERT_TRUE(always->restart.has_value());
  EXPECT_EQ(always->restart->name, engine::RestartPolicy::Name::kAlways);
  EXPECT_EQ(parse_update_request(R"({"RestartPolicy":{"Name":"always","MaximumRetryCount":2}})").error().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(parse_update_request(R"({"RestartPolicy":{"Name":"sometimes"}})").error().code(), Code::kInvalidArgument);
}

TEST(InspectSecurity, DockersShapeAndDefaults) {
  auto s = parse_create_request(R"({"Image":"busybox"})", "");
  ASSERT_TRUE(s.has_value());
  Json hc = Json::object();
  add_security_fields(s->security, hc);
  EXPECT_EQ(hc["Privileged"], false);
  EXPECT_TRUE(hc["CapAdd"].is_null());
  EXPECT_EQ(hc["ShmSize"], 64 << 20);
  EXPECT_EQ(hc["IpcMode"], "private");
  EXPECT_EQ(hc["PidMode"], "");
  EXPECT_EQ(hc["Devices"], Json::array());
  EXPECT_TRUE(hc["MaskedPaths"].is_array());
  EXPECT_EQ(hc["Runtime"], "berth");

  auto p = parse_create_request(
      R"({"Image":"busybox","HostConfig":{"Privileged":true,"CapAdd":["sys_admin"],"PidMode":"container:db",
          "IpcMode":"container:db","Ulimits":[{"Name":"core","Soft":-1,"Hard":-1}],"DeviceCgroupRules":["c 1:3 r"]}})",
      "");
  ASSERT_TRUE(p.has_value()) << p.error().message();
  Json hp = Json::object();
  add_security_fields(p->security, hp);
  EXPECT_EQ(hp["Privileged"], true);
  EXPECT_EQ(hp["CapAdd"], Json::array({"CAP_SYS_ADMIN"}));
  EXPECT_EQ(hp["PidMode"], "container:db");
  EXPECT_EQ(hp["IpcMode"], "container:db");
  EXPECT_EQ(hp["ShmSize"], 0);
  EXPECT_TRUE(hp["MaskedPaths"].is_null());
  EXPECT_EQ(hp["Ulimits"][0]["Soft"], -1);
  EXPECT_EQ(hp["DeviceCgroupRules"], Json::array({"c 1:3 r"}));
}

}  // namespace
}  // namespace berth::ipc
