// The network fields of a create request (core/engine/network_spec.h) and
// the network files (core/engine/network_store.h): parsing with Docker's
// rules and messages, and round trips through their persisted forms.
#include "core/engine/network_spec.h"

#include <gtest/gtest.h>

#include "core/engine/network_store.h"

namespace berth::engine {
namespace {

using json = nlohmann::json;

Result<NetworkSpec> parse_network(const std::string& body, std::string* mode_out = nullptr) {
  json j = json::parse(body);
  std::string mode = j.contains("HostConfig") ? j["HostConfig"].value("NetworkMode", "") : "";
  NetworkSpec n;
  auto r = parse_network_request(j, j.contains("HostConfig") ? j["HostConfig"] : json(),
                                 j.contains("NetworkingConfig") ? j["NetworkingConfig"] : json(), mode, n);
  if (mode_out) *mode_out = mode;
  if (!r) return std::move(r.error());
  return n;
}

std::string network_error_of(const std::string& body) {
  auto r = parse_network(body);
  return r ? "<ok>" : r.error().message();
}

TEST(PortKey, Forms) {
  auto k = parse_port_key("53/udp");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->port, 53);
  EXPECT_EQ(k->proto, "udp");
  EXPECT_EQ(parse_port_key("80")->proto, "tcp");
  EXPECT_EQ(parse_port_key("80/sctp").error().message(), "invalid proto: sctp is not supported by berth");
  EXPECT_EQ(parse_port_key("x/tcp").error().message(), "invalid port specification: \"x/tcp\"");
  EXPECT_EQ(parse_port_key("070").error().message(), "invalid port specification: \"070\"");
  EXPECT_EQ(port_key(80, "tcp"), "80/tcp");
}

TEST(NetworkRequest, WhatTheDockerCliSends) {
  std::string mode;
  auto n = parse_network(R"({"ExposedPorts":{"443/tcp":{}},
    "HostConfig":{"NetworkMode":"default","PublishAllPorts":true,
      "PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"9000/udp":[{"HostIp":"127.0.0.1","HostPort":""}],
                      "7000/tcp":[{"HostIp":"0.0.0.0","HostPort":"7000-7010"}]},
      "Dns":["1.1.1.1"],"DnsSearch":["example.com"],"DnsOptions":["ndots:2"],"ExtraHosts":["db:10.0.0.5","gw:host-gateway"]},
    "NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"",
      "DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,
      "IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}})",
                 &mode);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(mode, "default");  // the engine resolves it at create
  ASSERT_EQ(n->ports.size(), 3u);
  PortSpec range;
  for (const auto& p : n->ports)
    if (p.container_port == 7000) range = p;
  EXPECT_EQ(range.host_ip, "");  // 0.0.0.0 is every address
  EXPECT_EQ(range.host_first, 7000);
  EXPECT_EQ(range.host_last, 7010);
  EXPECT_TRUE(n->publish_all);
  // Published ports are exposed too.
  EXPECT_EQ(n->exposed.size(), 4u);
  EXPECT_EQ(n->dns, std::vector<std::string>{"1.1.1.1"});
  EXPECT_EQ(n->extra_hosts.size(), 2u);
  ASSERT_EQ(n->requested.count("default"), 1u);
  EXPECT_EQ(n->requested["default"].ipv4, "");
}

TEST(NetworkRequest, EndpointSettings) {
  auto n = parse_network(R"({"HostConfig":{"NetworkMode":"web"},
    "NetworkingConfig":{"EndpointsConfig":{"web":{"IPAMConfig":{"IPv4Address":"10.89.0.9"},"Aliases":["db","cache"]}}}})");
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(n->requested["web"].ipv4, "10.89.0.9");
  EXPECT_EQ(n->requested["web"].aliases, (std::vector<std::string>{"db", "cache"}));
}

TEST(NetworkRequest, RefusedWithReasons) {
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"x"}]}}})"),
            "invalid port specification: \"x\"");
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"90-80"}]}}})"),
            "invalid port range: \"90-80\"");
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"::1","HostPort":"80"}]}}})"),
            "invalid host IP ::1 for port 80/tcp: IPv6 is not supported by berth's networks");
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"nope"}]}}})"), "invalid IP address: nope");
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"ExtraHosts":["db"]}})"), "--add-host \"db\": expected host:ip");
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"Dns":["x"]}})"), "--dns \"x\": not an IP address");
  // HostConfig.Links is the engine's (create checks the targets); a link
  // inside an endpoint's settings is not.
  EXPECT_EQ(network_error_of(R"({"HostConfig":{"Links":["a:b"]}})"), "<ok>");
  EXPECT_EQ(network_error_of(R"({"NetworkingConfig":{"EndpointsConfig":{"n":{"Links":["a:b"]}}}})"),
            "a legacy link (Links) is not supported by berth");
  EXPECT_EQ(network_error_of(R"({"NetworkingConfig":{"EndpointsConfig":{"n":{"MacAddress":"02:42:00:00:00:01"}}}})"),
            "a chosen MAC address (MacAddress) is not supported by berth");
  EXPECT_EQ(network_error_of(R"({"NetworkingConfig":{"EndpointsConfig":{"n":{"IPAMConfig":{"IPv4Address":"10.0.0"}}}}})"),
            "invalid IPv4 address: 10.0.0");
  EXPECT_EQ(network_error_of(R"({"NetworkingConfig":{"EndpointsConfig":{"n":{"IPAMConfig":{"IPv6Address":"fd00::2"}}}}})"),
            "an IPv6 address (IPv6Address) is not supported by berth");
  EXPECT_EQ(network_error_of(R"({"ExposedPorts":{"80/sctp":{}}})"), "invalid proto: sctp is not supported by berth");
}

TEST(NetworkRequest, PersistedFormRoundTrips) {
  NetworkSpec n;
  n.endpoints = {{"abc", "10.89.0.9", {"db"}}, {"def", "", {}}};
  n.ports = {{80, "tcp", "", 8080, 8080}, {53, "udp", "127.0.0.1", 0, 0}};
  n.publish_all = true;
  n.exposed = {"80/tcp", "53/udp"};
  n.dns = {"1.1.1.1"};
  n.dns_search = {"example.com"};
  n.dns_options = {"ndots:2"};
  n.extra_hosts = {"db:10.0.0.5"};
  n.domainname = "example.com";
  NetworkSpec back = net_from_json(json::parse(net_to_json(n).dump()));
  EXPECT_EQ(back.endpoints, n.endpoints);
  EXPECT_EQ(back.ports, n.ports);
  EXPECT_EQ(back.publish_all, true);
  EXPECT_EQ(back.exposed, n.exposed);
  EXPECT_EQ(back.dns_options, n.dns_options);
  EXPECT_EQ(back.extra_hosts, n.extra_hosts);
  EXPECT_EQ(back.domainname, "example.com");
  EXPECT_TRUE(net_from_json(json()).endpoints.empty());  // a container made before networks
}

TEST(NetworkStore, RoundTripAndCorruption) {
  NetworkConfig c;
  c.id = std::string(64, 'a');
  c.name = "web";
  c.created_ns = 123;
  c.internal = true;
  c.labels = {{"k", "v"}};
  c.options = {{"com.docker.network.bridge.name", "brweb"}};
  c.bridge = "brweb";
  c.subnet = "10.89.0.0/16";
  c.gateway = "10.89.0.1";
  auto back = decode_network(encode_network(c), "x");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(encode_network(*back), encode_network(c));
  EXPECT_FALSE(back->predefined());
  EXPECT_EQ(decode_network("{", "f").error().code(), Code::kCorrupt);
  EXPECT_EQ(decode_network(R"({"id":"short","name":"x"})", "f").error().code(), Code::kCorrupt);
  EXPECT_EQ(network_file("/r", "id"), "/r/id.json");
}

}  // namespace
}  // namespace berth::engine
