// exec with real containers: the process joins the container's namespaces
// and cgroup, gets its env/user/workdir, its output and exit code come back,
// and it cannot outlive its container.
#include <unistd.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/file.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class ExecTest : public DaemonSuite {
 protected:
  std::string run_detached(std::vector<std::string> args) {
    args.insert(args.begin(), {"run", "-d"});
    auto r = d().ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.size() >= 64 ? r.out.substr(0, 64) : "";
  }
  Json api(const std::string& method, const std::string& path, const std::string& body, int want) {
    auto c = d().client();
    auto r = c.request(method, path, body);
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, want) << method << " " << path << ": " << r->body;
    return Json::parse(r->body, nullptr, false);
  }
};

TEST_F(ExecTest, RunsInTheContainersNamespaces) {
  std::string id = run_detached({"--hostname", "inside", "busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  auto hi = d().ctl({"exec", id, "echo", "hi"});
  EXPECT_EQ(hi.exit_code, 0) << hi.err;
  EXPECT_EQ(hi.out, "hi\n");
  // Same UTS, pid and mount namespaces as the init (pid 1 is its sleep).
  auto host = d().ctl({"exec", id, "hostname"});
  EXPECT_EQ(host.out, "inside\n");
  auto init = d().ctl({"exec", id, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$"});
  EXPECT_THAT(init.out, HasSubstr("sleep 1000"));
  EXPECT_THAT(init.out, Not(testing::EndsWith("\n1\n")));
  auto root = d().ctl({"exec", id, "sh", "-c", "test -e " + d().dir() + " && echo HOST; ls /bin/busybox"});
  EXPECT_EQ(root.out, "/bin/busybox\n");
  // Output streams kept apart; exit codes come back.
  auto both = d().ctl({"exec", id, "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(both.exit_code, 3);
  EXPECT_EQ(both.out, "out\n");
  EXPECT_EQ(both.err, "err\n");
  // Env, user and workdir.
  auto env = d().ctl({"exec", "-e", "A=1", "-u", "1000:1000", "-w", "/tmp", id, "sh", "-c", "echo $A $(id -u) $(pwd)"});
  EXPECT_EQ(env.out, "1 1000 /tmp\n") << env.err;
  // A missing command: 127 and the runtime's message.
  auto missing = d().ctl({"exec", id, "nope"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_THAT(missing.err, HasSubstr("executable file not found"));
  // Exec output is not in the container's log.
  EXPECT_EQ(d().ctl({"logs", id}).out, "");
  d().ctl({"rm", "-f", id});
}

TEST_F(ExecTest, JoinsTheCgroupAndDiesWithTheContainer) {
  std::string id = run_detached({"busybox", "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  auto det = d().ctl({"exec", "-d", id, "sleep", "999"});
  EXPECT_EQ(det.exit_code, 0) << det.err;
  std::string procs_path = d().container_cgroup("memory", id) + "/cgroup.procs";
  std::string procs;
  for (int i = 0; i < 500; i++) {
    procs = read_file(procs_path).value_or("");
    if (std::count(procs.begin(), procs.end(), '\n') >= 2) break;
    usleep(10000);
  }
  EXPECT_EQ(std::count(procs.begin(), procs.end(), '\n'), 2) << procs;
  // An attached exec ends when its container is killed.
  auto c = d().client();
  Json ex = api("POST", "/containers/" + id + "/exec", R"({"Cmd":["sleep","1001"],"AttachStdout":true})", 201);
  std::string eid = ex["Id"];
  auto stream = c.hijack("POST", "/exec/" + eid + "/start", R"({"Detach":false,"Tty":false})");
  ASSERT_TRUE(stream);
  Json running = api("GET", "/exec/" + eid + "/json", "", 200);
  for (int i = 0; i < 500 && running["Pid"] == 0; i++) {
    usleep(10000);
    running = api("GET", "/exec/" + eid + "/json", "", 200);
  }
  EXPECT_EQ(running["Running"], true);
  EXPECT_EQ(running["ExitCode"], nullptr);
  int pid = running["Pid"];
  EXPECT_GT(pid, 0);
  EXPECT_EQ(d().ctl({"kill", id}).exit_code, 0);
  char b;
  while (::read(stream->fd.get(), &b, 1) > 0) {
  }
  Json done = api("GET", "/exec/" + eid + "/json", "", 200);
  EXPECT_EQ(done["Running"], false);
  EXPECT_EQ(done["ExitCode"], 137);
  EXPECT_NE(::kill(pid, 0), 0);
  Json inspect = api("GET", "/containers/" + id + "/json", "", 200);
  EXPECT_EQ(inspect["ExecIDs"].size(), 2u);
  // Stopped: exec is a conflict; removed: the instance is gone. (The exec's
  // end does not order the container's own exit: wait for that.)
  EXPECT_EQ(d().ctl({"wait", id}).out, "137\n");
  Json stopped = api("POST", "/containers/" + id + "/exec", R"({"Cmd":["true"]})", 409);
  EXPECT_THAT(stopped["message"].get<std::string>(), HasSubstr("is not running"));
  d().ctl({"rm", "-f", id});
  api("GET", "/exec/" + eid + "/json", "", 404);
}

TEST_F(ExecTest, BadRequests) {
  api("POST", "/containers/nope/exec", R"({"Cmd":["true"]})", 404);
  std::string id = run_detached({"busybox", "sleep", "1000"});
  api("POST", "/containers/" + id + "/exec", R"({"Cmd":[]})", 400);
  api("POST", "/containers/" + id + "/exec", R"({"Cmd":"true","WorkingDir":"rel"})", 400);
  api("POST", "/containers/" + id + "/exec", "{not json", 400);
  api("POST", "/exec/0123/start", R"({"Detach":true})", 404);
  Json ex = api("POST", "/containers/" + id + "/exec", R"({"Cmd":["true"]})", 201);
  api("POST", "/exec/" + ex["Id"].get<std::string>() + "/start", R"({"Detach":true})", 200);
  Json again = api("POST", "/exec/" + ex["Id"].get<std::string>() + "/start", R"({"Detach":true})", 409);
  EXPECT_THAT(again["message"].get<std::string>(), HasSubstr("already run"));
  ASSERT_EQ(d().ctl({"pause", id}).exit_code, 0);
  Json paused = api("POST", "/containers/" + id + "/exec", R"({"Cmd":["true"]})", 409);
  EXPECT_THAT(paused["message"].get<std::string>(), HasSubstr("paused"));
  d().ctl({"unpause", id});
  d().ctl({"rm", "-f", id});
}

TEST_F(ExecTest, BerthctlTopListsTheContainersProcesses) {
  std::string id = run_detached({"busybox", "sh", "-c", "sleep 1001 & sleep 1002"});
  ASSERT_FALSE(id.empty());
  CommandResult r;
  for (int i = 0; i < 500; i++) {  // until both sleeps are there
    r = d().ctl({"top", id});
    if (r.out.find("sleep 1002") != std::string::npos && r.out.find("sleep 1001") != std::string::npos) break;
    usleep(10000);
  }
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("PID"));
  EXPECT_THAT(r.out, HasSubstr("sleep 1001"));
  EXPECT_THAT(r.out, HasSubstr("sleep 1002"));
  auto aux = d().ctl({"top", id, "aux"});
  EXPECT_EQ(aux.exit_code, 0) << aux.err;
  EXPECT_THAT(aux.out, HasSubstr("%CPU"));
  d().ctl({"rm", "-f", id});
  auto gone = d().ctl({"top", id});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("No such container"));
}

}  // namespace
}  // namespace berth::test
