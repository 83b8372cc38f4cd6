// berthctl's -p, --expose and the network flags of run (tools/berthctl/netflags.h).
#include "tools/berthctl/netflags.h"

#include <gtest/gtest.h>

namespace berth::ctl {
namespace {

using json = nlohmann::json;

std::vector<PortBinding> ports(std::string_view v) {
  auto r = parse_publish(v);
  EXPECT_TRUE(r) << v << ": " << (r ? "" : r.error().message());
  return r ? *r : std::vector<PortBinding>{};
}

std::string publish_error(std::string_view v) {
  auto r = parse_publish(v);
  return r ? "<ok>" : r.error().message();
}

TEST(Publish, Forms) {
  EXPECT_EQ(ports("80"), (std::vector<PortBinding>{{"80/tcp", "", ""}}));
  EXPECT_EQ(ports("8080:80"), (std::vector<PortBinding>{{"80/tcp", "", "8080"}}));
  EXPECT_EQ(ports("127.0.0.1:9000:9000/udp"), (std::vector<PortBinding>{{"9000/udp", "127.0.0.1", "9000"}}));
  EXPECT_EQ(ports("127.0.0.1::80"), (std::vector<PortBinding>{{"80/tcp", "127.0.0.1", ""}}));
  EXPECT_EQ(ports("[::1]:8080:80"), (std::vector<PortBinding>{{"80/tcp", "::1", "8080"}}));
}

TEST(Publish, RangesExpandAsTheDockerCliDoes) {
  // A range onto a range: one binding per port.
  EXPECT_EQ(ports("8000-8002:80-82"), (std::vector<PortBinding>{
                                          {"80/tcp", "", "8000"}, {"81/tcp", "", "8001"}, {"82/tcp", "", "8002"}}));
  // A host range for one container port: the daemon picks a free one.
  EXPECT_EQ(ports("8000-8010:80"), (std::vector<PortBinding>{{"80/tcp", "", "8000-8010"}}));
  // A container range alone: each ephemeral.
  EXPECT_EQ(ports("80-81/udp"), (std::vector<PortBinding>{{"80/udp", "", ""}, {"81/udp", "", ""}}));
}

TEST(Publish, Errors) {
  EXPECT_EQ(publish_error("8000-8005:80-90"), "invalid ranges specified for container and host Ports: 80-90 and 8000-8005");
  EXPECT_EQ(publish_error("x:80"), "invalid hostPort: x");
  EXPECT_EQ(publish_error("8080:y"), "invalid containerPort: y");
  EXPECT_EQ(publish_error("80/icmp"), "invalid proto: icmp");
  EXPECT_EQ(publish_error("1:2:3:4"), "invalid port format for --publish: 1:2:3:4");
  EXPECT_EQ(publish_error("70000"), "invalid containerPort: 70000");
}

TEST(Expose, Ranges) {
  auto r = parse_expose("90-91/udp");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (std::vector<std::string>{"90/udp", "91/udp"}));
  EXPECT_FALSE(parse_expose("9x"));
}

TEST(NetworkFlags, CreateBody) {
  NetFlags f;
  f.network = "web";
  f.ip = "10.89.0.9";
  f.aliases = {"db"};
  f.publish = {"8080:80", "127.0.0.1::53/udp"};
  f.publish_all = true;
  f.expose = {"443"};
  f.add_hosts = {"gw:host-gateway"};
  f.dns = {"1.1.1.1"};
  json config = json::object(), host = json::object(), net = json::object();
  ASSERT_TRUE(apply_network_flags(f, config, host, net));
  EXPECT_EQ(host["NetworkMode"], "web");
  EXPECT_EQ(config["ExposedPorts"], json::parse(R"({"80/tcp":{},"53/udp":{},"443/tcp":{}})"));
  EXPECT_EQ(host["PortBindings"], json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":"8080"}],
                                                   "53/udp":[{"HostIp":"127.0.0.1","HostPort":""}]})"));
  EXPECT_EQ(host["PublishAllPorts"], true);
  EXPECT_EQ(host["ExtraHosts"], json::parse(R"(["gw:host-gateway"])"));
  EXPECT_EQ(host["Dns"], json::parse(R"(["1.1.1.1"])"));
  EXPECT_EQ(net["EndpointsConfig"], json::parse(R"({"web":{"IPAMConfig":{"IPv4Address":"10.89.0.9"},"Aliases":["db"]}})"));
}

TEST(NetworkFlags, DefaultNetworkAndNothingElse) {
  json config = json::object(), host = json::object(), net = json::object();
  ASSERT_TRUE(apply_network_flags(NetFlags{}, config, host, net));
  EXPECT_EQ(host, json::parse(R"({"NetworkMode":"default"})"));
  EXPECT_EQ(config, json::object());
  EXPECT_EQ(net, json::parse(R"({"EndpointsConfig":{}})"));
}

}  // namespace
}  // namespace berth::ctl
