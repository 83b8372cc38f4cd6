// Containers on berth's networks, through berthctl and the API, with
// berthd in its own network namespace ("the host side" below: commands run
// there with nsenter; nothing reaches the machine's own network).
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/strings.h"
#include "netns/enter.h"
#include "tests/integration/suite.h"

namespace berth::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class NetworkTest : public DaemonSuite {
 protected:
  std::string inspect(const std::string& name, const std::string& format) {
    auto r = d().ctl({"inspect", "-f", format, name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }
  std::string ip_of(const std::string& name) { return inspect(name, "{{.NetworkSettings.IPAddress}}"); }
  std::string ip_on(const std::string& name, const std::string& net) {
    return inspect(name, "{{.NetworkSettings.Networks." + net + ".IPAddress}}");
  }
  void rm(const std::vector<std::string>& names) {
    std::vector<std::string> args = {"rm", "-f"};
    args.insert(args.end(), names.begin(), names.end());
    d().ctl(args);
  }
  // Fetches a URL from the host side, a few times while the server comes
  // up (bounded by attempts, not time).
  CommandResult wget_host(const std::string& url) {
    CommandResult r;
    for (int i = 0; i < 50; i++) {
      r = d().host_command({"curl", "-s", "-m", "5", url});
      if (r.exit_code == 0) break;
      usleep(100000);
    }
    return r;
  }
  // The same from a new container on `network` ("" for the default).
  CommandResult wget_container(const std::string& url, const std::string& network = "") {
    std::vector<std::string> args = {"run", "--rm"};
    if (!network.empty()) args.insert(args.end(), {"--network", network});
    // (busybox-static's wget -T crashes; its timeout applet bounds it instead)
    args.insert(args.end(), {"busybox", "timeout", "5", "wget", "-q", "-O", "-", url});
    return d().ctl(args);
  }
  // httpd serving "hello from <name>" on port 80 of the container.
  std::vector<std::string> httpd(const std::string& name) {
    return {"busybox", "sh", "-c",
            "mkdir -p /www && echo hello from " + name + " > /www/index.html && exec httpd -f -p 80 -h /www"};
  }
};

TEST_F(NetworkTest, TwoContainersPingEachOtherByIpAndEth0HasTheAddress) {
  std::string a = run_d({"--name", "ping-a", "busybox", "sleep", "1000"});
  std::string ip = ip_of("ping-a");
  ASSERT_THAT(ip, ::testing::StartsWith("10.88."));
  auto addr = d().ctl({"exec", "ping-a", "ip", "-4", "-o", "addr", "show", "eth0"});
  EXPECT_THAT(addr.out, HasSubstr("inet " + ip + "/16")) << addr.err;
  EXPECT_EQ(inspect("ping-a", "{{.NetworkSettings.Gateway}}"), "10.88.0.1");
  EXPECT_THAT(inspect("ping-a", "{{.NetworkSettings.MacAddress}}"), ::testing::StartsWith("02:42:0a:58:"));
  auto route = d().ctl({"exec", "ping-a", "ip", "route"});
  EXPECT_THAT(route.out, HasSubstr("default via 10.88.0.1 dev eth0"));
  auto ping = d().ctl({"run", "--rm", "busybox", "ping", "-c", "1", "-W", "5", ip});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  EXPECT_THAT(ping.out, HasSubstr("1 packets received"));
  // The other way round: the pinger stays up, ping-a pings it.
  run_d({"--name", "ping-b", "busybox", "sleep", "1000"});
  auto back = d().ctl({"exec", "ping-a", "ping", "-c", "1", "-W", "5", ip_of("ping-b")});
  EXPECT_EQ(back.exit_code, 0) << back.out;
  // /etc/hosts names the container's own address; resolv.conf has no loopback server.
  auto hosts = d().ctl({"exec", "ping-a", "cat", "/etc/hosts", "/etc/hostname"});
  EXPECT_THAT(hosts.out, HasSubstr(ip + "\t" + a.substr(0, 12)));
  EXPECT_THAT(hosts.out, HasSubstr("127.0.0.1\tlocalhost"));
  auto resolv = d().ctl({"exec", "ping-a", "cat", "/etc/resolv.conf"});
  EXPECT_THAT(resolv.out, Not(HasSubstr("nameserver 127.")));
  EXPECT_EQ(inspect("ping-a", "{{.HostsPath}}"), d().root() + "/containers/" + a + "/hosts");
  rm({"ping-a", "ping-b"});
}

TEST_F(NetworkTest, NoneHasOnlyLoAndHostSharesTheDaemonsNetwork) {
  auto none = d().ctl({"run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_THAT(none.out, HasSubstr("lo:"));
  EXPECT_THAT(none.out, Not(HasSubstr("eth")));
  auto hosts = d().ctl({"run", "--rm", "--network", "none", "--add-host", "db:10.1.2.3", "busybox", "cat", "/etc/hosts"});
  EXPECT_THAT(hosts.out, HasSubstr("10.1.2.3\tdb"));
  // host: berthd's namespace, where the default bridge lives.
  auto host = d().ctl({"run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"});
  EXPECT_THAT(host.out, HasSubstr("berth0"));
}

TEST_F(NetworkTest, ContainerModeSharesTheInterface) {
  run_d({"--name", "owner", "busybox", "sleep", "1000"});
  std::string ip = ip_of("owner");
  auto shared = d().ctl({"run", "--rm", "--network", "container:owner", "busybox", "ip", "-4", "-o", "addr", "show", "eth0"});
  EXPECT_EQ(shared.exit_code, 0) << shared.err;
  EXPECT_THAT(shared.out, HasSubstr("inet " + ip + "/"));
  // Its names are the owner's.
  auto hostname = d().ctl({"run", "--rm", "--network", "container:owner", "busybox", "hostname"});
  EXPECT_EQ(hostname.out, inspect("owner", "{{.Config.Hostname}}") + "\n");
  auto refused = d().ctl({"run", "--rm", "--network", "container:owner", "-p", "80", "busybox", "true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("conflicting options: port publishing and the network mode"));
  rm({"owner"});
  auto gone = d().ctl({"run", "--rm", "--network", "container:owner", "busybox", "true"});
  EXPECT_NE(gone.exit_code, 0);
}

TEST_F(NetworkTest, PublishedPortServesLoopbackGatewayAndContainers) {
  auto h = httpd("web");
  run_d({"--name", "web", "-p", "18080:80", h[0], h[1], h[2], h[3]});
  EXPECT_EQ(wget_host("http://127.0.0.1:18080/").out, "hello from web\n");  // the loopback proxy
  EXPECT_EQ(wget_host("http://10.88.0.1:18080/").out, "hello from web\n");  // DNAT of the host's own traffic
  EXPECT_EQ(wget_container("http://10.88.0.1:18080/").out, "hello from web\n");  // DNAT from a container
  auto port = d().ctl({"port", "web"});
  EXPECT_EQ(port.out, "80/tcp -> 0.0.0.0:18080\n");
  auto ps = d().ctl({"ps"});
  EXPECT_THAT(ps.out, HasSubstr("0.0.0.0:18080->80/tcp"));
  EXPECT_EQ(inspect("web", "{{json .NetworkSettings.Ports}}"), R"({"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"18080"}]})");
  rm({"web"});
  // Gone with it: nothing answers there any more.
  EXPECT_NE(d().host_command({"curl", "-s", "-m", "2", "http://127.0.0.1:18080/"}).exit_code, 0);
}

TEST_F(NetworkTest, PublishAllPicksPortsShownByPort) {
  auto h = httpd("pall");
  run_d({"--name", "pall", "-P", "--expose", "80", "--expose", "5353/udp", h[0], h[1], h[2], h[3]});
  auto port = d().ctl({"port", "pall", "80"});
  ASSERT_EQ(port.exit_code, 0) << port.err;
  ASSERT_THAT(port.out, ::testing::StartsWith("0.0.0.0:"));
  std::string host_port = port.out.substr(8, port.out.size() - 9);
  EXPECT_GT(std::stoi(host_port), 1023);
  EXPECT_EQ(wget_host("http://127.0.0.1:" + host_port + "/").out, "hello from pall\n");
  auto all = d().ctl({"port", "pall"});
  EXPECT_THAT(all.out, HasSubstr("5353/udp -> 0.0.0.0:"));
  auto none = d().ctl({"port", "pall", "81"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_THAT(none.err, HasSubstr("No public port '81/tcp' published for pall"));
  rm({"pall"});
}

TEST_F(NetworkTest, TakenHostPortFailsTheStartCleanly) {
  // A program on the host side holds 18091.
  auto held = netns::socket_in_netns(d().netns_fd(), AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(held);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(18091);
  ASSERT_EQ(::bind(held->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(held->get(), 4), 0);
  auto before_links = d().host_command({"ip", "-o", "link"}).out;
  auto r = d().ctl({"run", "-d", "--name", "taken", "-p", "18091:80", "busybox", "sleep", "1000"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("18091"));
  EXPECT_THAT(r.err, HasSubstr("Address already in use"));
  EXPECT_EQ(inspect("taken", "{{.State.Status}}"), "created");
  EXPECT_EQ(inspect("taken", "{{.NetworkSettings.IPAddress}}"), "");
  EXPECT_EQ(d().host_command({"ip", "-o", "link"}).out, before_links);  // no veth made
  auto nft = d().host_command({"nft", "list", "map", "ip", "berth", "pub_any"});
  EXPECT_THAT(nft.out, Not(HasSubstr("18091")));
  // Also when another container holds it: the second start fails, the first serves on.
  run_d({"--name", "first", "-p", "18092:80", "busybox", "sleep", "1000"});
  auto second = d().ctl({"run", "-d", "--name", "second", "-p", "18092:80", "busybox", "sleep", "1000"});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.err, HasSubstr("18092"));
  nft = d().host_command({"nft", "list", "map", "ip", "berth", "pub_any"});
  EXPECT_THAT(nft.out, HasSubstr("18092 : " + ip_of("first") + " . 80"));
  // Freed, the port can be taken.
  held->reset();
  auto again = d().ctl({"start", "taken"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  rm({"taken", "first", "second"});
}

TEST_F(NetworkTest, TwoUserNetworksAreIsolated) {
  ASSERT_EQ(d().ctl({"network", "create", "iso1"}).exit_code, 0);
  ASSERT_EQ(d().ctl({"network", "create", "--subnet", "10.201.0.0/24", "iso2"}).exit_code, 0);
  run_d({"--name", "on1", "--network", "iso1", "busybox", "sleep", "1000"});
  run_d({"--name", "on2", "--network", "iso2", "busybox", "sleep", "1000"});
  std::string ip1 = ip_on("on1", "iso1"), ip2 = ip_on("on2", "iso2");
  EXPECT_THAT(ip2, ::testing::StartsWith("10.201.0."));
  auto same = d().ctl({"run", "--rm", "--network", "iso1", "busybox", "ping", "-c", "1", "-W", "5", ip1});
  EXPECT_EQ(same.exit_code, 0) << same.out;
  auto across = d().ctl({"exec", "on1", "ping", "-c", "1", "-W", "2", ip2});
  EXPECT_NE(across.exit_code, 0) << across.out;
  auto to_default = d().ctl({"run", "--rm", "--network", "iso2", "busybox", "ping", "-c", "1", "-W", "2", ip1});
  EXPECT_NE(to_default.exit_code, 0);
  // In use: rm refuses; once its container is gone, it goes.
  auto busy = d().ctl({"network", "rm", "iso1"});
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_THAT(busy.err, HasSubstr("has active endpoints"));
  rm({"on1", "on2"});
  EXPECT_EQ(d().ctl({"network", "rm", "iso1", "iso2"}).exit_code, 0);
  EXPECT_THAT(d().host_command({"ip", "-o", "link"}).out, Not(HasSubstr("br-")));
}

TEST_F(NetworkTest, NamesAndAliasesResolveOnUserNetworks) {
  ASSERT_EQ(d().ctl({"network", "create", "names"}).exit_code, 0);
  run_d({"--name", "c1", "--network", "names", "--network-alias", "db", "busybox", "sleep", "1000"});
  std::string ip = ip_on("c1", "names");
  auto ping = d().ctl({"run", "--rm", "--network", "names", "busybox", "ping", "-c", "1", "-W", "5", "c1"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  EXPECT_THAT(ping.out, HasSubstr("PING c1 (" + ip + ")"));
  for (const char* name : {"c1", "db"}) {
    auto ns = d().ctl({"run", "--rm", "--network", "names", "busybox", "nslookup", name});
    EXPECT_EQ(ns.exit_code, 0) << ns.out << ns.err;
    EXPECT_THAT(ns.out, HasSubstr("Address: " + ip)) << name;
  }
  auto by_alias = d().ctl({"run", "--rm", "--network", "names", "busybox", "ping", "-c", "1", "-W", "5", "db"});
  EXPECT_EQ(by_alias.exit_code, 0) << by_alias.out;
  auto resolv = d().ctl({"exec", "c1", "cat", "/etc/resolv.conf"});
  EXPECT_THAT(resolv.out, HasSubstr("nameserver " + inspect("c1", "{{.NetworkSettings.Networks.names.Gateway}}")));
  // Not on the default bridge (Docker's legacy network has no names).
  auto legacy = d().ctl({"run", "--rm", "busybox", "ping", "-c", "1", "-W", "1", "c1"});
  EXPECT_NE(legacy.exit_code, 0);
  // A stopped container's names go.
  rm({"c1"});
  auto after = d().ctl({"run", "--rm", "--network", "names", "busybox", "nslookup", "c1"});
  EXPECT_THAT(after.out, Not(HasSubstr("Address: " + ip)));
  EXPECT_EQ(d().ctl({"network", "rm", "names"}).exit_code, 0);
}

// Legacy links on the default bridge: the alias resolves through
// /etc/hosts and Docker's variables describe the target; a stopped target
// fails the start; on a user network the link is only recorded (warned).
TEST_F(NetworkTest, LinksOnTheDefaultBridgeAddHostsAndVariables) {
  run_d({"--name", "lk-db", "--expose", "5432", "-e", "SECRET=s1", "busybox", "sleep", "1000"});
  std::string ip = ip_of("lk-db");
  auto ping = d().ctl({"run", "--rm", "--name", "lk-web", "--link", "lk-db:db", "busybox", "ping", "-c", "1", "-W",
                       "5", "db"});
  EXPECT_EQ(ping.exit_code, 0) << ping.out << ping.err;
  EXPECT_THAT(ping.out, HasSubstr("PING db (" + ip + ")"));
  auto env = d().ctl({"run", "--rm", "--name", "lk-env", "--link", "lk-db:db", "busybox", "env"});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_THAT(env.out, HasSubstr("DB_NAME=/lk-env/db\n"));
  EXPECT_THAT(env.out, HasSubstr("DB_PORT=tcp://" + ip + ":5432\n"));
  EXPECT_THAT(env.out, HasSubstr("DB_PORT_5432_TCP_ADDR=" + ip + "\n"));
  EXPECT_THAT(env.out, HasSubstr("DB_PORT_5432_TCP_PORT=5432\n"));
  EXPECT_THAT(env.out, HasSubstr("DB_ENV_SECRET=s1\n"));
  EXPECT_THAT(env.out, Not(HasSubstr("DB_ENV_PATH")));
  auto hosts = d().ctl({"run", "--rm", "--link", "lk-db", "busybox", "cat", "/etc/hosts"});
  EXPECT_THAT(hosts.out, HasSubstr(ip + "\tlk-db"));
  // Inspect shows Docker's form.
  d().ctl({"create", "--name", "lk-shown", "--link", "lk-db:db", "busybox", "true"});
  EXPECT_THAT(inspect("lk-shown", "{{json .HostConfig.Links}}"), HasSubstr("/lk-db:/lk-shown/db"));
  // A target that does not exist fails the create; one that stopped fails the start.
  auto missing = d().ctl({"create", "--link", "nope:db", "busybox", "true"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("could not get container for nope"));
  ASSERT_EQ(d().ctl({"stop", "-t", "0", "lk-db"}).exit_code, 0);
  auto stopped = d().ctl({"start", "lk-shown"});
  EXPECT_NE(stopped.exit_code, 0);
  EXPECT_THAT(stopped.err, HasSubstr("Cannot link to a non running container"));
  // On a user network the link is recorded only, and the create says so.
  ASSERT_EQ(d().ctl({"network", "create", "lk-user"}).exit_code, 0);
  auto warned = d().client().request(
      "POST", "/containers/create?name=lk-user-c",
      R"({"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"lk-user","Links":["lk-db:db"]}})");
  ASSERT_TRUE(warned);
  EXPECT_EQ(warned->status, 201) << warned->body;
  EXPECT_THAT(warned->body, HasSubstr("Links add hosts entries"));
  rm({"lk-db", "lk-shown", "lk-user-c"});
  EXPECT_EQ(d().ctl({"network", "rm", "lk-user"}).exit_code, 0);
}

TEST_F(NetworkTest, ConnectAndDisconnectARunningContainer) {
  ASSERT_EQ(d().ctl({"network", "create", "extra"}).exit_code, 0);
  run_d({"--name", "multi", "busybox", "sleep", "1000"});
  EXPECT_NE(d().ctl({"exec", "multi", "ip", "link", "show", "eth1"}).exit_code, 0);
  auto con = d().ctl({"network", "connect", "--alias", "m2", "extra", "multi"});
  ASSERT_EQ(con.exit_code, 0) << con.err;
  std::string ip = ip_on("multi", "extra");
  auto eth1 = d().ctl({"exec", "multi", "ip", "-4", "-o", "addr", "show", "eth1"});
  EXPECT_EQ(eth1.exit_code, 0) << eth1.err;
  EXPECT_THAT(eth1.out, HasSubstr("inet " + ip + "/16"));
  // Its default route stays on eth0; the new network reaches it by name.
  EXPECT_THAT(d().ctl({"exec", "multi", "ip", "route"}).out, HasSubstr("default via 10.88.0.1 dev eth0"));
  auto by_name = d().ctl({"run", "--rm", "--network", "extra", "busybox", "ping", "-c", "1", "-W", "5", "m2"});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.out;
  auto twice = d().ctl({"network", "connect", "extra", "multi"});
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_THAT(twice.err, HasSubstr("already exists in network extra"));
  auto dis = d().ctl({"network", "disconnect", "extra", "multi"});
  ASSERT_EQ(dis.exit_code, 0) << dis.err;
  EXPECT_NE(d().ctl({"exec", "multi", "ip", "link", "show", "eth1"}).exit_code, 0);
  EXPECT_THAT(inspect("multi", "{{json .NetworkSettings.Networks}}"), Not(HasSubstr("extra")));
  // A stopped container: the change waits for its start.
  ASSERT_EQ(d().ctl({"stop", "-t", "0", "multi"}).exit_code, 0);
  ASSERT_EQ(d().ctl({"network", "connect", "extra", "multi"}).exit_code, 0);
  ASSERT_EQ(d().ctl({"start", "multi"}).exit_code, 0);
  EXPECT_EQ(d().ctl({"exec", "multi", "ip", "link", "show", "eth1"}).exit_code, 0);
  rm({"multi"});
  EXPECT_EQ(d().ctl({"network", "rm", "extra"}).exit_code, 0);
}

TEST_F(NetworkTest, StaticAddressesAndTheirErrors) {
  ASSERT_EQ(d().ctl({"network", "create", "--subnet", "10.202.0.0/24", "static"}).exit_code, 0);
  run_d({"--name", "fixed", "--network", "static", "--ip", "10.202.0.50", "busybox", "sleep", "1000"});
  EXPECT_EQ(ip_on("fixed", "static"), "10.202.0.50");
  auto dup = d().ctl({"run", "--rm", "--network", "static", "--ip", "10.202.0.50", "busybox", "true"});
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_THAT(dup.err, HasSubstr("Address already in use: 10.202.0.50"));
  auto outside = d().ctl({"run", "--rm", "--network", "static", "--ip", "10.9.0.5", "busybox", "true"});
  EXPECT_THAT(outside.err, HasSubstr("no configured subnet or ip-range contain the IP address 10.9.0.5"));
  auto on_default = d().ctl({"run", "--rm", "--ip", "10.88.0.77", "busybox", "true"});
  EXPECT_THAT(on_default.err, HasSubstr("user specified IP address is supported on user defined networks only"));
  rm({"fixed"});
  EXPECT_EQ(d().ctl({"network", "rm", "static"}).exit_code, 0);
}

TEST_F(NetworkTest, NetworkApiShapesAndErrors) {
  auto c = d().client();
  auto created = c.request("POST", "/networks/create",
                           R"({"Name":"shape","Labels":{"a":"b"},"IPAM":{"Config":[{"Subnet":"10.203.0.0/24"}]}})");
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : created.error().message());
  auto dup = c.request("POST", "/networks/create", R"({"Name":"shape"})");
  EXPECT_EQ(dup->status, 409);
  auto overlap = c.request("POST", "/networks/create", R"({"Name":"x","IPAM":{"Config":[{"Subnet":"10.203.0.0/16"}]}})");
  EXPECT_EQ(overlap->status, 409) << overlap->body;
  auto driver = c.request("POST", "/networks/create", R"({"Name":"y","Driver":"overlay"})");
  EXPECT_EQ(driver->status, 404);
  auto v6 = c.request("POST", "/networks/create", R"({"Name":"z","EnableIPv6":true})");
  EXPECT_EQ(v6->status, 400);
  auto list = c.request("GET", "/networks?filters=" + std::string("%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D"));
  Json arr = Json::parse(list->body);
  ASSERT_EQ(arr.size(), 1u) << list->body;
  EXPECT_EQ(arr[0]["Name"], "shape");
  EXPECT_EQ(arr[0]["IPAM"]["Config"][0]["Subnet"], "10.203.0.0/24");
  EXPECT_EQ(arr[0]["IPAM"]["Config"][0]["Gateway"], "10.203.0.1");
  auto all = Json::parse(c.request("GET", "/networks")->body);
  std::set<std::string> names;
  for (const auto& n : all) names.insert(n["Name"].get<std::string>());
  EXPECT_TRUE(names.count("bridge") && names.count("host") && names.count("none"));
  EXPECT_EQ(c.request("DELETE", "/networks/bridge")->status, 409);
  EXPECT_EQ(c.request("GET", "/networks/nope")->status, 404);
  auto pruned = c.request("POST", "/networks/prune");
  EXPECT_THAT(pruned->body, HasSubstr("\"shape\""));
  EXPECT_EQ(c.request("GET", "/networks/shape")->status, 404);
}

TEST_F(NetworkTest, StatsCountTheInterface) {
  run_d({"--name", "counted", "busybox", "sh", "-c", "ping -c 3 -i 0.2 10.88.0.1; sleep 1000"});
  Json s;
  for (int i = 0; i < 50; i++) {
    auto c = d().client();
    auto r = c.request("GET", "/containers/counted/stats?stream=0&one-shot=1");
    ASSERT_TRUE(r && r->status == 200);
    s = Json::parse(r->body);
    if (s.contains("networks") && s["networks"]["eth0"]["tx_packets"].get<uint64_t>() >= 3) break;
    usleep(100000);
  }
  ASSERT_TRUE(s.contains("networks")) << s.dump();
  EXPECT_GE(s["networks"]["eth0"]["tx_packets"].get<uint64_t>(), 3u);
  EXPECT_GE(s["networks"]["eth0"]["rx_bytes"].get<uint64_t>(), 3u * 84);
  rm({"counted"});
}

// A connection from the host side to 127.0.0.1:`port` (retried while
// the container's server comes up), with `line` sent on it.
unique_fd connect_loopback(TestDaemon& d, uint16_t port, const std::string& line) {
  for (int i = 0; i < 50; i++) {
    auto fd = netns::socket_in_netns(d.netns_fd(), AF_INET, SOCK_STREAM, 0);
    if (!fd) return {};
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        ::send(fd->get(), line.data(), line.size(), MSG_NOSIGNAL) == ssize_t(line.size()))
      return std::move(*fd);
    usleep(100000);
  }
  return {};
}

// Until `logs` of `name` holds `text` (bounded by attempts).
bool logs_hold(TestDaemon& d, const std::string& name, const std::string& text) {
  for (int i = 0; i < 50; i++) {
    if (d.ctl({"logs", name}).out.find(text) != std::string::npos) return true;
    usleep(100000);
  }
  return false;
}

// By default the host's loopback reaches a published port through the
// kernel's NAT: the bytes arrive, and on the host side there is no second
// connection to the container (the proxy's would be one), while
// route_localnet is on for the bridge and off again once berthd is gone.
TEST_F(NetworkTest, LoopbackToAPublishedPortGoesThroughTheKernel) {
  run_d({"--name", "ncsrv", "-p", "18093:80", "busybox", "nc", "-l", "-p", "80"});
  std::string ip = ip_of("ncsrv");
  auto fd = connect_loopback(d(), 18093, "through-the-kernel\n");
  ASSERT_TRUE(fd) << "no connection to 127.0.0.1:18093";
  EXPECT_TRUE(logs_hold(d(), "ncsrv", "through-the-kernel"));
  auto ss = d().host_command({"ss", "-Htn"});
  ASSERT_EQ(ss.exit_code, 0) << ss.err;
  EXPECT_THAT(ss.out, HasSubstr(":18093")) << ss.out << ss.err;  // the client's own socket
  EXPECT_THAT(ss.out, Not(HasSubstr(ip + ":80")));     // and no proxy's upstream
  EXPECT_EQ(d().host_command({"cat", "/proc/sys/net/ipv4/conf/berth0/route_localnet"}).out, "1\n");
  fd.reset();
  rm({"ncsrv"});
}

// route_localnet would let a container reach the host's loopback services
// by sending to 127.0.0.0/8 through its gateway (CVE-2020-8558); berth's
// guard rule drops such packets. The container routes 127.0.0.2 through
// the gateway (it needs NET_ADMIN for that) and sends a datagram there and
// one to the gateway's address (the control) to a host-side UDP socket
// (busybox's tftp: its write request names the way it went).
// (Over TCP the container would drop the host's reply from 127.0.0.2 as
// martian; a datagram needs no reply.)
TEST_F(NetworkTest, AContainerCannotReachTheHostsLoopbackThroughItsGateway) {
  auto sock = netns::socket_in_netns(d().netns_fd(), AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_TRUE(sock);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(18094);
  ASSERT_EQ(::bind(sock->get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string gw = "10.88.0.1";  // the default network's gateway (berth0)
  auto r = d().ctl({"run", "--rm", "--cap-add", "NET_ADMIN", "busybox", "sh", "-c",
                    "ip route del local 127.0.0.0/8 dev lo table local && "
                    "ip route add 127.0.0.2/32 via " + gw + " dev eth0 && "
                    "timeout 2 tftp -p -l /etc/hostname -r via-loopback 127.0.0.2 18094 & "
                    "timeout 2 tftp -p -l /etc/hostname -r via-gateway " + gw + " 18094 & wait; true"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  int to_gateway = 0, to_loopback = 0;
  char buf[64];
  for (ssize_t n; (n = ::recv(sock->get(), buf, sizeof buf, 0)) > 0;) {
    std::string got(buf, size_t(n));  // a TFTP write request: opcode, file name, mode
    to_gateway += got.find("via-gateway") != std::string::npos;
    to_loopback += got.find("via-loopback") != std::string::npos;
  }
  EXPECT_GE(to_gateway, 1) << r.out << r.err;
  EXPECT_EQ(to_loopback, 0) << "a container reached the host's 127.0.0.2 through its gateway";
}

// With --userland-proxy, berthd's proxy carries loopback connections: the
// same bytes arrive, over a second connection from the host side to the
// container, and route_localnet stays off.
TEST(UserlandProxyTest, LoopbackGoesThroughTheProxy) {
  if (!is_root()) GTEST_SKIP() << "needs root";
  TestDaemon d;
  d.set_extra_args({"--userland-proxy"});
  std::string err;
  ASSERT_TRUE(d.start(&err)) << err;
  ASSERT_TRUE(d.import_busybox(&err)) << err;
  auto r = d.ctl({"run", "-d", "--name", "ncp", "-p", "18095:80", "busybox", "nc", "-l", "-p", "80"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string ip = d.ctl({"inspect", "-f", "{{.NetworkSettings.IPAddress}}", "ncp"}).out;
  ip = ip.substr(0, ip.find('\n'));
  auto fd = connect_loopback(d, 18095, "through-the-proxy\n");
  ASSERT_TRUE(fd) << "no connection to 127.0.0.1:18095";
  EXPECT_TRUE(logs_hold(d, "ncp", "through-the-proxy"));
  auto ss = d.host_command({"ss", "-Htn"});
  EXPECT_THAT(ss.out, HasSubstr(ip + ":80"));
  EXPECT_EQ(d.host_command({"cat", "/proc/sys/net/ipv4/conf/berth0/route_localnet"}).out, "0\n");
  fd.reset();
  d.ctl({"rm", "-f", "ncp"});
  EXPECT_EQ(d.stop(), 0) << d.log();
}

}  // namespace
}  // namespace berth::test
