// The API field table (ipc/server/api_fields.h, generated from
// tools/api-fields.tsv against the Docker Engine API spec), walked row by
// row against a real berthd: each field and query parameter is sent set to
// a probe value of its type, and the answer must match its row: refused →
// 400 naming it; warned → accepted with a warning naming it; done → never
// the refusal (the handler may still reject the probe value itself).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "ipc/server/api_fields.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using Json = nlohmann::json;
using ipc::ApiField;
using ipc::FieldStatus;

Json probe_value(std::string_view type) {
  if (type == "boolean") return true;
  if (type == "integer" || type == "number") return 1;
  if (type == "array") return Json::array({"x"});
  if (type == "object") return Json::object({{"x", "y"}});
  return "x";
}

std::string probe_query(std::string_view type) {
  if (type == "boolean" || type == "integer") return "1";
  return "x";
}

class ApiFieldsTest : public DaemonSuite {
 protected:
  struct Answer {
    int status = -1;
    std::string body;
  };
  Answer send(const std::string& method, const std::string& path, const std::string& body = "") {
    auto c = d().client();
    auto r = c.request(method, path, body);
    if (!r) return {-1, r.error().message()};
    return {r->status, r->body};
  }
  // The container every exec and update row uses: created and running once.
  std::string target() {
    if (target_.empty()) {
      auto a = send("POST", "/containers/create?name=walk", R"({"Image":"busybox","Cmd":["sleep","1000"]})");
      EXPECT_EQ(a.status, 201) << a.body;
      target_ = Json::parse(a.body)["Id"];
      EXPECT_EQ(send("POST", "/containers/walk/start").status, 204);
    }
    return target_;
  }
  // The request that carries `f` set to its probe value.
  Answer send_row(const ApiField& f) {
    std::string scope(f.scope), field(f.field);
    Json v = probe_value(f.type);
    if (scope == "Config" || scope == "HostConfig" || scope == "EndpointSettings") {
      Json body = {{"Image", "busybox"}, {"Cmd", {"true"}}};
      if (scope == "Config") body[field] = v;
      else if (scope == "HostConfig") body["HostConfig"][field] = v;
      else body["NetworkingConfig"]["EndpointsConfig"]["none"][field] = v;
      Answer a = send("POST", "/containers/create", body.dump());
      if (a.status == 201) send("DELETE", "/containers/" + Json::parse(a.body)["Id"].get<std::string>() + "?force=1");
      return a;
    }
    if (scope == "ExecConfig") {
      Json body = {{"Cmd", {"true"}}};
      body[field] = v;
      return send("POST", "/containers/" + target() + "/exec", body.dump());
    }
    if (scope == "ExecStart") {
      Answer e = send("POST", "/containers/" + target() + "/exec", R"({"Cmd":["true"]})");
      EXPECT_EQ(e.status, 201) << e.body;
      Json body = {{"Detach", true}};
      body[field] = v;
      return send("POST", "/exec/" + Json::parse(e.body)["Id"].get<std::string>() + "/start", body.dump());
    }
    if (scope == "UpdateConfig") {
      Json body = Json::object();
      body[field] = v;
      return send("POST", "/containers/" + target() + "/update", body.dump());
    }
    if (scope == "VolumeCreate") {
      Json body = {{"Name", "walkvol"}};
      if (field != "Name") body[field] = v;
      Answer a = send("POST", "/volumes/create", body.dump());
      send("DELETE", "/volumes/walkvol?force=1");
      return a;
    }
    if (scope == "AuthConfig") {
      // A registry name that does not resolve in the daemon's own network
      // namespace: the login fails at once, past the table.
      Json body = {{"serveraddress", "no-such-registry.invalid"}};
      body[field] = v;
      return send("POST", "/auth", body.dump());
    }
    // "query METHOD PATH": placeholders name nothing, so a handler that gets
    // past the table answers 404 and changes nothing.
    EXPECT_TRUE(scope.starts_with("query ")) << scope;
    std::string rest = scope.substr(6);
    std::string method = rest.substr(0, rest.find(' '));
    std::string path = rest.substr(rest.find(' ') + 1);
    for (size_t b; (b = path.find('{')) != std::string::npos;) path.replace(b, path.find('}', b) - b + 1, "no-such-thing");
    return send(method, path + "?" + field + "=" + probe_query(f.type));
  }
  std::string target_;
};

TEST_F(ApiFieldsTest, EveryRowOfTheTableIsWhatTheServerDoes) {
  int refused = 0, warned = 0, done = 0;
  for (const ApiField& f : ipc::api_fields()) {
    SCOPED_TRACE(std::string(f.scope) + " " + std::string(f.field));
    Answer a = send_row(f);
    ASSERT_NE(a.status, -1) << a.body;
    bool refusal = a.body.find("berth does not support") != std::string::npos ||
                   a.body.find("berth does not know") != std::string::npos;
    switch (f.status) {
      case FieldStatus::kRefused:
        refused++;
        EXPECT_EQ(a.status, 400) << a.body;
        EXPECT_TRUE(refusal) << a.body;
        EXPECT_THAT(a.body, ::testing::HasSubstr(std::string(f.field))) << a.body;
        break;
      case FieldStatus::kWarned:
        warned++;
        EXPECT_FALSE(refusal) << a.body;
        if (a.status == 201 || a.status == 200) {
          EXPECT_THAT(a.body, ::testing::HasSubstr(std::string(f.field))) << a.body;
        }
        break;
      case FieldStatus::kDone:
        done++;
        EXPECT_FALSE(refusal) << a.body;
        break;
    }
  }
  EXPECT_EQ(size_t(refused + warned + done), ipc::api_fields().size());
  EXPECT_GT(refused, 0);
  EXPECT_GT(done, 0);
  send("DELETE", "/containers/walk?force=1");
}

TEST_F(ApiFieldsTest, WhatTheDockerCliSendsIsAccepted) {
  // A create body as docker CLI 28 sends it for `docker run busybox true`:
  // every field present, most of them zero. None of it may be refused.
  const char* body = R"({"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,
    "AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":[],"Cmd":["true"],"Image":"busybox",
    "Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},
    "HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default",
    "PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"",
    "VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],
    "DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,
    "PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"",
    "UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"",
    "BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],
    "BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,
    "CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,
    "DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":null,
    "PidsLimit":null,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,
    "MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{}}}})";
  Answer a = send("POST", "/containers/create", body);
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(Json::parse(a.body)["Warnings"], Json::array());
  send("DELETE", "/containers/" + Json::parse(a.body)["Id"].get<std::string>() + "?force=1");
}

TEST_F(ApiFieldsTest, AFieldOutsideTheApiIsIgnoredWithAWarning) {
  Answer a = send("POST", "/containers/create", R"({"Image":"busybox","Cmd":["true"],"Bogus":1})");
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_THAT(a.body, ::testing::HasSubstr("Config.Bogus is not a Docker Engine API field; ignored"));
  send("DELETE", "/containers/" + Json::parse(a.body)["Id"].get<std::string>() + "?force=1");
  // Query booleans the way docker-py writes them ("False") are unset.
  a = send("DELETE", "/containers/no-such-thing?v=False&link=False&force=False");
  EXPECT_EQ(a.status, 404) << a.body;
  a = send("DELETE", "/containers/no-such-thing?link=True");
  EXPECT_EQ(a.status, 400) << a.body;
}

}  // namespace
}  // namespace berth::test
