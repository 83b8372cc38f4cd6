// The Docker Engine API surface: lifecycle verbs, lookups, inspect, ps, and
// bad input that must get a clear error while the daemon keeps serving.
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/strings.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class ApiTest : public DaemonSuite {
 protected:
  std::string create(const std::string& body, const std::string& query = "") {
    auto c = d().client();
    auto r = c.request("POST", "/containers/create" + query, body);
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.error().message());
    return r && r->status == 201 ? Json::parse(r->body)["Id"].get<std::string>() : "";
  }
  Json inspect(const std::string& id) {
    auto c = d().client();
    auto r = c.request("GET", "/containers/" + id + "/json");
    EXPECT_TRUE(r && r->status == 200);
    return r && r->status == 200 ? Json::parse(r->body) : Json();
  }
  int status(const std::string& method, const std::string& path, const std::string& body = "") {
    auto c = d().client();
    auto r = c.request(method, path, body);
    return r ? r->status : -1;
  }
  void kill_and_remove(const std::string& id) { status("DELETE", "/containers/" + id + "?force=1"); }
  // Polls the container's stdout log until it equals `want` (bounded).
  void wait_for_log(const std::string& id, const std::string& want) {
    for (int i = 0; i < 500 && d().ctl({"logs", id}).out != want; i++) usleep(10000);
    ASSERT_EQ(d().ctl({"logs", id}).out, want);
  }
};

TEST_F(ApiTest, PingAndVersion) {
  std::string resp = d().raw("HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(resp, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(resp, HasSubstr("Api-Version: 1.50"));
  EXPECT_EQ(resp.find("\r\n\r\nOK"), std::string::npos);  // HEAD: no body
  auto c = d().client();
  auto v = c.request("GET", "/version");
  ASSERT_TRUE(v && v->status == 200);
  Json j = Json::parse(v->body);
  EXPECT_EQ(j["ApiVersion"], "1.50");
  EXPECT_EQ(j["MinAPIVersion"], "1.24");
  auto old = d().raw("GET /v1.24/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(old, HasSubstr("200 OK"));
  auto too_new = d().raw("GET /v1.99/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(too_new, HasSubstr("400 Bad Request"));
  EXPECT_THAT(too_new, HasSubstr("too new"));
  auto info = c.request("GET", "/info");
  ASSERT_TRUE(info && info->status == 200);
  EXPECT_EQ(Json::parse(info->body)["OSType"], "linux");
}

TEST_F(ApiTest, LifecycleCreateStartWaitInspectRemove) {
  std::string id = create(R"({"Image":"busybox","Cmd":["sh","-c","exit 3"],"Labels":{"a":"b"}})", "?name=life");
  ASSERT_EQ(id.size(), 64u);
  Json j = inspect("life");
  EXPECT_EQ(j["State"]["Status"], "created");
  EXPECT_EQ(j["Name"], "/life");
  EXPECT_EQ(j["Path"], "sh");
  EXPECT_EQ(j["Config"]["Labels"]["a"], "b");
  EXPECT_EQ(status("POST", "/containers/life/start"), 204);
  auto c = d().client();
  auto w = c.request("POST", "/containers/" + id.substr(0, 10) + "/wait");
  ASSERT_TRUE(w && w->status == 200);
  EXPECT_EQ(Json::parse(w->body)["StatusCode"], 3);
  j = inspect(id);
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 3);
  EXPECT_NE(j["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
  // Start again: containers can be restarted.
  EXPECT_EQ(status("POST", "/containers/life/start"), 204);
  auto w2 = c.request("POST", "/containers/life/wait");
  EXPECT_EQ(Json::parse(w2->body)["StatusCode"], 3);
  EXPECT_EQ(status("DELETE", "/containers/life"), 204);
  EXPECT_EQ(status("GET", "/containers/life/json"), 404);
}

TEST_F(ApiTest, StopSendsTermThenKill) {
  // sh as PID 1 has no TERM handler: the kernel ignores TERM for a namespace
  // init, so stop falls back to SIGKILL after the timeout: exit 137.
  std::string id = create(R"({"Image":"busybox","Cmd":["sleep","1000"]})");
  ASSERT_EQ(status("POST", "/containers/" + id + "/start"), 204);
  EXPECT_EQ(inspect(id)["State"]["Running"], true);
  EXPECT_GT(inspect(id)["State"]["Pid"].get<int>(), 0);
  EXPECT_EQ(status("POST", "/containers/" + id + "/stop?t=1"), 204);
  Json j = inspect(id);
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 137);
  EXPECT_EQ(status("POST", "/containers/" + id + "/stop"), 304);
  EXPECT_EQ(status("POST", "/containers/" + id + "/kill"), 409);
  kill_and_remove(id);

  // A process with a TERM handler exits on TERM with its own code.
  std::string id2 = create(R"({"Image":"busybox","Cmd":["sh","-c","trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done"]})");
  ASSERT_EQ(status("POST", "/containers/" + id2 + "/start"), 204);
  wait_for_log(id2, "ready\n");
  EXPECT_EQ(status("POST", "/containers/" + id2 + "/stop?t=30"), 204);
  EXPECT_EQ(inspect(id2)["State"]["ExitCode"], 42);
  kill_and_remove(id2);
}

TEST_F(ApiTest, KillWithSignal) {
  std::string id = create(R"({"Image":"busybox","Cmd":["sh","-c","trap 'exit 5' USR1; echo ready; while true; do sleep 0.1; done"]})");
  ASSERT_EQ(status("POST", "/containers/" + id + "/start"), 204);
  wait_for_log(id, "ready\n");  // the trap is installed
  EXPECT_EQ(status("POST", "/containers/" + id + "/kill?signal=SIGUSR1"), 204);
  auto c = d().client();
  auto w = c.request("POST", "/containers/" + id + "/wait");
  EXPECT_EQ(Json::parse(w->body)["StatusCode"], 5);
  EXPECT_EQ(status("POST", "/containers/" + id + "/kill?signal=NOPE"), 400);  // a bad parameter first, like dockerd
  EXPECT_EQ(status("POST", "/containers/" + id + "/kill"), 409);  // not running
  kill_and_remove(id);
}

TEST_F(ApiTest, RemoveRunningNeedsForce) {
  std::string id = create(R"({"Image":"busybox","Cmd":["sleep","1000"]})", "?name=busy");
  ASSERT_EQ(status("POST", "/containers/busy/start"), 204);
  auto c = d().client();
  auto r = c.request("DELETE", "/containers/busy");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_THAT(r->body, HasSubstr("You cannot remove a running container"));
  EXPECT_EQ(status("DELETE", "/containers/busy?force=1"), 204);
  EXPECT_EQ(status("GET", "/containers/" + id + "/json"), 404);
  EXPECT_EQ(d().child_processes(), 0);
}

TEST_F(ApiTest, NamesAndPrefixes) {
  std::string a = create(R"({"Image":"busybox","Cmd":["true"]})", "?name=alpha");
  auto c = d().client();
  auto dup = c.request("POST", "/containers/create?name=alpha", R"({"Image":"busybox","Cmd":["true"]})");
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->status, 409);
  EXPECT_THAT(dup->body, HasSubstr("already in use"));
  auto bad = c.request("POST", "/containers/create?name=-bad/name", R"({"Image":"busybox","Cmd":["true"]})");
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("Invalid container name"));
  EXPECT_EQ(inspect("%2Falpha")["Id"], a);  // "/alpha", as names are stored
  EXPECT_EQ(inspect(a.substr(0, 12))["Id"], a);
  auto missing = c.request("GET", "/containers/nosuch/json");
  EXPECT_EQ(missing->status, 404);
  EXPECT_THAT(missing->body, HasSubstr("No such container: nosuch"));
  // Auto-generated names are valid and unique.
  std::string b = create(R"({"Image":"busybox","Cmd":["true"]})");
  std::string name = inspect(b)["Name"];
  EXPECT_EQ(name[0], '/');
  EXPECT_GT(name.size(), 3u);
  kill_and_remove(a);
  kill_and_remove(b);
}

TEST_F(ApiTest, PsListsAndFilters) {
  std::string run = create(R"({"Image":"busybox","Cmd":["sleep","1000"],"Labels":{"role":"web"}})", "?name=ps-running");
  std::string made = create(R"({"Image":"busybox","Cmd":["true"]})", "?name=ps-created");
  ASSERT_EQ(status("POST", "/containers/ps-running/start"), 204);
  auto c = d().client();
  auto running = Json::parse(c.request("GET", "/containers/json")->body);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0]["Id"], run);
  EXPECT_EQ(running[0]["Names"][0], "/ps-running");
  EXPECT_EQ(running[0]["State"], "running");
  EXPECT_THAT(running[0]["Status"].get<std::string>(), HasSubstr("Up "));
  EXPECT_EQ(running[0]["Command"], "sleep 1000");
  auto all = Json::parse(c.request("GET", "/containers/json?all=1")->body);
  EXPECT_EQ(all.size(), 2u);
  auto by_name = Json::parse(c.request("GET", "/containers/json?all=1&filters=%7B%22name%22%3A%7B%22created%22%3Atrue%7D%7D")->body);
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0]["Id"], made);
  EXPECT_EQ(by_name[0]["Status"], "Created");
  auto by_label = Json::parse(c.request("GET", "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22role%3Dweb%22%5D%7D")->body);
  ASSERT_EQ(by_label.size(), 1u);
  auto table = d().ctl({"ps", "-a"});
  EXPECT_THAT(table.out, HasSubstr("ps-running"));
  EXPECT_THAT(table.out, HasSubstr(run.substr(0, 12)));
  kill_and_remove(run);
  kill_and_remove(made);
}

TEST_F(ApiTest, MalformedRequestsGetClearErrors) {
  auto c = d().client();
  auto bad_json = c.request("POST", "/containers/create", "{not json");
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_THAT(bad_json->body, HasSubstr("invalid JSON"));
  auto wrong_type = c.request("POST", "/containers/create", R"({"Image":"busybox","Cmd":5})");
  EXPECT_EQ(wrong_type->status, 400);
  auto no_image = c.request("POST", "/containers/create", R"({"Image":"nosuchimage","Cmd":["true"]})");
  EXPECT_EQ(no_image->status, 404);
  EXPECT_THAT(no_image->body, HasSubstr("No such image: nosuchimage"));
  auto bad_ref = c.request("POST", "/containers/create", R"({"Image":"UPPER:case","Cmd":["true"]})");
  EXPECT_GE(bad_ref->status, 400);
  auto unknown = c.request("GET", "/no/such/endpoint");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("page not found"));
  auto bad_bool = c.request("GET", "/containers/json?all=maybe");
  EXPECT_EQ(bad_bool->status, 400);
  // Oversized JSON body: refused from its Content-Length.
  std::string big(5 << 20, ' ');
  auto huge = d().raw("POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(big.size()) + "\r\n\r\n" + big);
  EXPECT_THAT(huge, HasSubstr("413"));
  EXPECT_THAT(huge, HasSubstr("too large"));
  // Garbage that is not HTTP at all.
  auto garbage = d().raw("\x01\x02 hello\r\n\r\n");
  EXPECT_THAT(garbage, HasSubstr("400 Bad Request"));
  // Header block over the limit.
  auto headers = d().raw("GET /_ping HTTP/1.1\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n");
  EXPECT_THAT(headers, HasSubstr("431"));
  // The daemon still serves.
  auto ping = c.request("GET", "/_ping");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(d().ctl({"run", "--rm", "busybox", "echo", "still"}).out, "still\n");
}

TEST_F(ApiTest, KeepAliveAndPipelining) {
  std::string two = "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string resp = d().raw(two);
  size_t first = resp.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(resp.find("HTTP/1.1 200", first + 1), std::string::npos);
}

TEST_F(ApiTest, WaitHeadersArriveBeforeExit) {
  std::string id = create(R"({"Image":"busybox","Cmd":["sh","-c","exit 9"]})");
  auto waiter = d().client();
  auto head = waiter.start_stream("POST", "/containers/" + id + "/wait?condition=next-exit");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->status, 200);  // before the container even started
  ASSERT_EQ(status("POST", "/containers/" + id + "/start"), 204);
  std::string body;
  for (;;) {
    auto chunk = waiter.next_chunk();
    ASSERT_TRUE(chunk);
    if (!*chunk) break;
    body += **chunk;
  }
  EXPECT_EQ(Json::parse(body)["StatusCode"], 9);
  kill_and_remove(id);
}

TEST_F(ApiTest, ImagesListAndInspect) {
  auto c = d().client();
  auto list = Json::parse(c.request("GET", "/images/json")->body);
  ASSERT_GE(list.size(), 1u);
  bool found = false;
  for (auto& img : list)
    for (auto& t : img["RepoTags"]) found |= t == "busybox:latest";
  EXPECT_TRUE(found);
  auto j = c.request("GET", "/images/busybox/json");
  ASSERT_EQ(j->status, 200);
  Json img = Json::parse(j->body);
  EXPECT_EQ(img["Id"].get<std::string>().substr(0, 7), "sha256:");
  EXPECT_EQ(img["RootFS"]["Layers"].size(), 1u);
  EXPECT_EQ(c.request("GET", "/images/docker.io/library/busybox:latest/json")->status, 200);
  EXPECT_EQ(c.request("GET", "/images/nosuch/json")->status, 404);
  auto images = d().ctl({"images"});
  EXPECT_THAT(images.out, HasSubstr("busybox"));
}

}  // namespace
}  // namespace berth::test
