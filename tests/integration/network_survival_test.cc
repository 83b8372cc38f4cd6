// Issue 17 with issue 14: containers on bridge networks outlive berthd too.
// A berthd killed with SIGKILL (or stopped cleanly with live restore) and
// started again takes back each running container's network
// (core/engine/network_readopt.cc): the same address and interface, its
// published ports served again (the loopback proxy and DNAT), its DNS
// names answered, its address still taken. One whose network cannot come
// back (its host port was taken meanwhile) is killed, with the reason.
//
// Real berthd in its own network namespace (TestDaemon), real busybox
// containers, curl on the daemon's side; waits are bounded by attempts.
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/suite.h"
#include "tools/testkit/daemon.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// A TCP socket listening on 0.0.0.0:port in the network namespace
// `netns_fd` (made by a thread that joined it; the socket stays there).
// Tried a few times: a killed berthd's listening sockets close only once
// the kernel has torn its io_uring down, shortly after its death.
unique_fd listen_in(int netns_fd, uint16_t port) {
  unique_fd fd;
  for (int attempt = 0; attempt < 50 && !fd; attempt++) {
    if (attempt) ::usleep(100000);
    std::thread([&] {
    if (::setns(netns_fd, CLONE_NEWNET) < 0) {
      ADD_FAILURE() << "setns: " << std::strerror(errno);
      return;
    }
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;   // past the TIME_WAIT of the connections tested before
    if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || ::listen(fd.get(), 1) < 0) {
      if (errno != EADDRINUSE) ADD_FAILURE() << "listen on port " << port << ": " << std::strerror(errno);
      fd.reset();
    }
    }).join();
  }
  return fd;
}

class NetworkSurvivalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
  }
  void start(bool live_restore) {
    d_.set_live_restore(live_restore);
    std::string err;
    ASSERT_TRUE(d_.start(&err)) << err;
    ASSERT_TRUE(d_.import_busybox(&err)) << err;
  }
  void restart() {
    std::string err;
    ASSERT_TRUE(d_.start(&err)) << err;
  }
  // httpd serving "hello from <name>" on port 80.
  void run_httpd(std::vector<std::string> args, const std::string& name) {
    std::vector<std::string> argv = {"run", "-d", "--name", name};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"busybox", "sh", "-c",
                             "mkdir -p /www && echo hello from " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"});
    auto r = d_.ctl(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // The page at `url` from the daemon's side, a few tries (httpd starting).
  std::string get_host(const std::string& url) {
    CommandResult r;
    for (int i = 0; i < 50; i++) {
      r = d_.host_command({"curl", "-s", "-m", "5", url});
      if (r.exit_code == 0) return r.out;
      ::usleep(100000);
    }
    return "curl " + url + " failed: " + r.err;
  }
  std::string get_container(const std::string& network, const std::string& url) {
    auto r = d_.ctl({"run", "--rm", "--network", network, "busybox", "timeout", "5", "wget", "-q", "-O", "-", url});
    return r.exit_code == 0 ? r.out : "wget " + url + " failed: " + r.err;
  }
  Json inspect(const std::string& name) { return inspect_in(d_, name); }
  std::string ip_on(const std::string& name, const std::string& network) {
    Json j = inspect(name);
    const Json& n = j["NetworkSettings"]["Networks"][network];
    return n.is_object() ? n.value("IPAddress", "") : "";
  }
  std::string host_port(const std::string& name, const std::string& key) {
    Json j = inspect(name);
    const Json& b = j["NetworkSettings"]["Ports"][key];
    return b.is_array() && !b.empty() && b[0].is_object() ? b[0].value("HostPort", "") : "";
  }
  // No veth of berth's left in the daemon's namespace.
  void expect_no_veths() {
    EXPECT_THAT(d_.host_command({"ip", "-o", "link"}).out, Not(HasSubstr("veth")));
  }

  TestDaemon d_;
};

TEST_F(NetworkSurvivalTest, BridgeContainersKeepAddressesPortsAndNamesThroughACrash) {
  start(false);
  ASSERT_EQ(d_.ctl({"network", "create", "--subnet", "10.212.0.0/24", "kept"}).exit_code, 0);
  run_httpd({"-p", "18180:80"}, "web");
  run_httpd({"--network", "kept", "--network-alias", "svc", "-p", "127.0.0.1::80"}, "api");
  ASSERT_EQ(get_host("http://127.0.0.1:18180/"), "hello from web\n");
  std::string web_ip = ip_on("web", "bridge"), api_ip = ip_on("api", "kept");
  std::string api_port = host_port("api", "80/tcp");
  std::string gateway = inspect("web")["NetworkSettings"]["Gateway"];
  ASSERT_FALSE(web_ip.empty());
  ASSERT_FALSE(api_ip.empty());
  ASSERT_FALSE(api_port.empty());
  pid_t web_pid = inspect("web")["State"]["Pid"], api_pid = inspect("api")["State"]["Pid"];

  d_.crash_daemon_only();
  EXPECT_TRUE(alive(web_pid));
  // While berthd is down the kernel serves the published ports, on the
  // host's loopback too (DNAT, no proxy in berthd on the way).
  EXPECT_EQ(get_host("http://127.0.0.1:18180/"), "hello from web\n");
  EXPECT_EQ(get_host("http://" + gateway + ":18180/"), "hello from web\n");
  restart();
  EXPECT_TRUE(d_.wait_log("network re-adopted")) << d_.log();
  EXPECT_THAT(d_.log(), Not(HasSubstr("killed, not re-adopted")));
  Json web = inspect("web");
  EXPECT_EQ(web["State"]["Status"], "running");
  EXPECT_EQ(web["State"]["Pid"], web_pid);
  EXPECT_EQ(inspect("api")["State"]["Pid"], api_pid);
  EXPECT_EQ(ip_on("web", "bridge"), web_ip);
  EXPECT_EQ(ip_on("api", "kept"), api_ip);
  EXPECT_EQ(host_port("web", "80/tcp"), "18180");
  EXPECT_EQ(host_port("api", "80/tcp"), api_port);
  EXPECT_EQ(d_.ctl({"port", "api", "80"}).out, "127.0.0.1:" + api_port + "\n");
  // Served again: DNAT of the host's own traffic, loopback included (the
  // elements were added to the new table), and from a container.
  EXPECT_EQ(get_host("http://127.0.0.1:18180/"), "hello from web\n");
  EXPECT_EQ(get_host("http://127.0.0.1:" + api_port + "/"), "hello from api\n");
  EXPECT_EQ(get_host("http://" + gateway + ":18180/"), "hello from web\n");
  EXPECT_EQ(get_container("bridge", "http://" + web_ip + "/"), "hello from web\n");
  // Its names answered by the user network's responder again.
  EXPECT_EQ(get_container("kept", "http://svc/"), "hello from api\n");
  EXPECT_EQ(get_container("kept", "http://api/"), "hello from api\n");
  // Its address is still taken; its host port too.
  auto dup = d_.ctl({"run", "--rm", "--network", "kept", "--ip", api_ip, "busybox", "true"});
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_THAT(dup.err, HasSubstr("in use"));
  auto taken = d_.ctl({"run", "--rm", "-p", "18180:80", "busybox", "true"});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_THAT(taken.err, HasSubstr("18180"));

  // Removed as any other: veths, ports, the network.
  EXPECT_EQ(d_.ctl({"rm", "-f", "web", "api"}).exit_code, 0);
  EXPECT_EQ(d_.ctl({"network", "rm", "kept"}).exit_code, 0);
  auto nft = d_.host_command({"nft", "list", "map", "ip", "berth", "pub_any"});
  EXPECT_THAT(nft.out, Not(HasSubstr("18180")));
  expect_no_veths();
  EXPECT_EQ(d_.stop(), 0);
  EXPECT_FALSE(alive(web_pid));
  EXPECT_FALSE(alive(api_pid));
}

TEST_F(NetworkSurvivalTest, LiveRestoreStopKeepsTheBridgeAndTheNextDaemonServes) {
  start(true);
  run_httpd({"-p", "18181:80"}, "stays");
  ASSERT_EQ(get_host("http://127.0.0.1:18181/"), "hello from stays\n");
  pid_t pid = inspect("stays")["State"]["Pid"];
  std::string ip = ip_on("stays", "bridge");
  EXPECT_EQ(d_.stop(), 0);
  ASSERT_TRUE(alive(pid));
  // The container is reachable on its address while no berthd runs: its
  // veth and the bridge stayed.
  EXPECT_EQ(get_host("http://" + ip + "/"), "hello from stays\n");
  restart();
  EXPECT_EQ(inspect("stays")["State"]["Pid"], pid);
  EXPECT_EQ(ip_on("stays", "bridge"), ip);
  EXPECT_EQ(get_host("http://127.0.0.1:18181/"), "hello from stays\n");
  EXPECT_EQ(d_.ctl({"rm", "-f", "stays"}).exit_code, 0);
  expect_no_veths();
  EXPECT_EQ(d_.stop(), 0);
  EXPECT_TRUE(d_.kill_keeper());
  // With nothing left running, the bridge went with the daemon.
  EXPECT_NE(d_.host_command({"ip", "link", "show", "berth0"}).exit_code, 0);
}

TEST_F(NetworkSurvivalTest, AContainerWhosePortWasTakenMeanwhileIsKilledWithTheReason) {
  start(false);
  run_httpd({"-p", "18182:80"}, "squatted");
  ASSERT_EQ(get_host("http://127.0.0.1:18182/"), "hello from squatted\n");
  pid_t pid = inspect("squatted")["State"]["Pid"];
  d_.crash_daemon_only();
  // Another program takes the host port while berthd is down.
  unique_fd squatter = listen_in(d_.netns_fd(), 18182);
  ASSERT_TRUE(squatter) << d_.host_command({"ss", "-tanp"}).out << d_.host_command({"ss", "-uanp"}).out;
  restart();
  ASSERT_TRUE(wait_in(d_, "squatted", [](const Json& j) { return j["State"]["Status"] == "exited"; }));
  Json j = inspect("squatted");
  EXPECT_EQ(j["State"]["ExitCode"], 137);
  EXPECT_THAT(j["State"].value("Error", ""), HasSubstr("18182"));
  EXPECT_TRUE(d_.wait_log("its network could not be taken back")) << d_.log();
  EXPECT_FALSE(alive(pid));
  squatter.reset();
  // What it held is given back: the port serves a new container.
  run_httpd({"-p", "18182:80"}, "next");
  EXPECT_EQ(get_host("http://127.0.0.1:18182/"), "hello from next\n");
  EXPECT_EQ(d_.ctl({"rm", "-f", "squatted", "next"}).exit_code, 0);
  expect_no_veths();
  EXPECT_EQ(d_.stop(), 0);
}

}  // namespace
}  // namespace berth::test
