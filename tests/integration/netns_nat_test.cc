// Nat against the kernel: masquerade, published ports from outside, from a
// container (hairpin) and from another network, isolation, listing and
// cleanup. Everything lives in namespaces the test makes: "host" holds the
// bridges and berth's table; an "outside" namespace hangs off a plain
// bridge of the host at 192.168.200.0/24 and stands for the world.
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns/enter.h"
#include "netns/link.h"
#include "netns/nat.h"
#include "tests/integration/netns_util.h"

namespace berth::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using netns::Ip4;
using netns::Nat;
using netns::NatNetwork;
using netns::PortMapping;


std::string read_sysctl_or(int netns_fd, const char* key) {
  auto v = netns::read_sysctl(netns_fd, key);
  return v ? *v : v.error().message();
}

struct Net {
  std::unique_ptr<netns::BridgeNetwork> links;
  NatNetwork nat;
};

class NatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    host_ = make_netns();
  }
  Net network(const char* bridge, const char* gw, uint8_t prefix, bool internal = false) {
    netns::BridgeOptions o;
    o.name = bridge;
    o.gateway = netns::Cidr{ip(gw), prefix};
    o.netns_fd = host_.get();
    auto l = netns::BridgeNetwork::open(o);
    EXPECT_TRUE(l) << l.error().message();
    Net n;
    n.links = std::move(*l);
    n.nat = NatNetwork{bridge, o.gateway.subnet(), o.gateway.addr, internal};
    return n;
  }
  unique_fd container(Net& n, const char* addr, const std::string& host_name) {
    unique_fd ns = make_netns();
    netns::Attachment a;
    a.netns_fd = ns.get();
    a.host_name = host_name;
    a.ip = ip(addr);
    auto r = n.links->attach(std::span<const netns::Attachment>(&a, 1));
    EXPECT_TRUE(r[0]) << r[0].error().message();
    return ns;
  }
  std::unique_ptr<Nat> nat(const char* table = "berthtest") {
    netns::NatOptions o;
    o.table = table;
    o.netns_fd = host_.get();
    auto n = Nat::create(o);
    EXPECT_TRUE(n) << n.error().message();
    return n ? std::move(*n) : nullptr;
  }
  std::string tables() {
    std::string out;
    run_in_netns(host_.get(), {"/usr/sbin/nft", "list", "tables"}, &out);
    return out;
  }
  std::string leaves() {
    std::string out;
    run_in_netns(host_.get(), {"/usr/sbin/nft", "list", "set", "ip", "berthtest", "leaves"}, &out);
    return out;
  }
  unique_fd host_;
};

TEST_F(NatTest, MasqueradePublishIsolate) {
  Net a = network("bt0", "10.99.0.1", 16);
  Net b = network("bt1", "10.98.0.1", 16);
  Net world = network("bw0", "192.168.200.1", 24);  // not berth's: the "outside"
  unique_fd c1 = container(a, "10.99.0.2", "vethc1"), c2 = container(a, "10.99.0.3", "vethc2");
  unique_fd c3 = container(b, "10.98.0.2", "vethc3"), out = container(world, "192.168.200.2", "vethout");
  auto n = nat();
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->add_network(a.nat));
  ASSERT_TRUE(n->add_network(b.nat));
  EXPECT_EQ(read_sysctl_or(host_.get(), "net/ipv4/ip_forward"), "1");

  // Outbound: the world sees the host's address, and the reply comes back.
  {
    unique_fd srv = udp_bound(out.get(), ip("192.168.200.2"), 9999);
    std::string reply, seen;
    std::thread t([&] { reply = udp_ask(c1.get(), ip("192.168.200.2"), 9999, "out"); });
    seen = udp_echo_one(srv.get(), 10000);
    t.join();
    EXPECT_EQ(seen, "192.168.200.1");
    EXPECT_EQ(reply, "out");
  }

  // Published port: from outside, from a container of the same network
  // through the gateway (hairpin), from a container of another network.
  unique_fd web = tcp_listen(c1.get(), ip("10.99.0.2"), 80);
  PortMapping m{netns::Proto::kTcp, std::nullopt, 18080, 0, ip("10.99.0.2"), 80};
  ASSERT_TRUE(n->add_ports(std::span<const PortMapping>(&m, 1)));
  ASSERT_TRUE(n->add_ports(std::span<const PortMapping>(&m, 1)));  // the same again: fine
  {
    unique_fd c = tcp_connect(out.get(), ip("192.168.200.1"), 18080);
    ASSERT_TRUE(c);
    EXPECT_EQ(tcp_accept_peer(web.get()), "192.168.200.2");
  }
  {
    unique_fd c = tcp_connect(c2.get(), ip("10.99.0.1"), 18080);
    ASSERT_TRUE(c);
    EXPECT_EQ(tcp_accept_peer(web.get()), "10.99.0.1");  // masqueraded: replies go back through the host
  }
  {
    unique_fd c = tcp_connect(c1.get(), ip("10.99.0.1"), 18080);  // to itself
    ASSERT_TRUE(c);
    EXPECT_EQ(tcp_accept_peer(web.get()), "10.99.0.1");
  }
  {
    unique_fd c = tcp_connect(c3.get(), ip("10.98.0.1"), 18080);
    ASSERT_TRUE(c);
    EXPECT_NE(tcp_accept_peer(web.get()), "");
  }
  // The same host port to another container is refused, naming the mapping.
  PortMapping clash{netns::Proto::kTcp, std::nullopt, 18080, 0, ip("10.99.0.3"), 80};
  auto r = n->add_ports(std::span<const PortMapping>(&clash, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kAlreadyExists);
  EXPECT_EQ(r.error().message(), "publish tcp 0.0.0.0:18080 -> 10.99.0.3:80: nftables table berthtest: File exists");

  // A UDP range on one host address.
  unique_fd dns = udp_bound(c1.get(), ip("10.99.0.2"), 5301);
  PortMapping range{netns::Proto::kUdp, ip("192.168.200.1"), 15300, 15302, ip("10.99.0.2"), 5300};
  ASSERT_TRUE(n->add_ports(std::span<const PortMapping>(&range, 1)));
  {
    std::string reply;
    std::thread t([&] { reply = udp_ask(out.get(), ip("192.168.200.1"), 15301, "q"); });
    EXPECT_EQ(udp_echo_one(dns.get(), 10000), "192.168.200.2");
    t.join();
    EXPECT_EQ(reply, "q");
  }

  // Isolation: no direct traffic between the two networks, either way.
  {
    unique_fd c = tcp_connect(c3.get(), ip("10.99.0.2"), 80, 1000);
    EXPECT_FALSE(c);
    unique_fd srv = udp_bound(c3.get(), ip("10.98.0.2"), 7007);
    EXPECT_EQ(udp_ask(c1.get(), ip("10.98.0.2"), 7007, "x", 500), "");
    EXPECT_EQ(udp_echo_pending(srv.get(), 0), 0);
  }

  auto listing = n->list();
  ASSERT_TRUE(listing) << listing.error().message();
  ASSERT_EQ(listing->networks.size(), 2u);
  EXPECT_EQ(listing->networks[0], a.nat);
  EXPECT_EQ(listing->networks[1], b.nat);
  ASSERT_EQ(listing->ports.size(), 4u);
  EXPECT_EQ(netns::to_string(listing->ports[0]), "tcp 0.0.0.0:18080 -> 10.99.0.2:80");
  EXPECT_EQ(netns::to_string(listing->ports[1]), "udp 192.168.200.1:15300 -> 10.99.0.2:5300");
  EXPECT_EQ(netns::to_string(listing->ports[3]), "udp 192.168.200.1:15302 -> 10.99.0.2:5302");

  // Unpublished: the host has nothing on 18080, so the world is refused.
  ASSERT_TRUE(n->remove_ports(std::span<const PortMapping>(&m, 1)));
  ASSERT_TRUE(n->remove_ports(std::span<const PortMapping>(&m, 1)));  // again: fine
  EXPECT_FALSE(tcp_connect(out.get(), ip("192.168.200.1"), 18080, 2000));
  // Each network's leaf bridges skip conntrack (link.h): its pattern is in
  // the leaves set while the network is, and only then.
  EXPECT_THAT(leaves(), AllOf(HasSubstr(netns::leaf_pattern("bt0")), HasSubstr(netns::leaf_pattern("bt1"))));
  ASSERT_TRUE(n->remove_network(b.nat));
  EXPECT_EQ(n->list()->networks.size(), 1u);
  EXPECT_THAT(leaves(), AllOf(HasSubstr(netns::leaf_pattern("bt0")), Not(HasSubstr(netns::leaf_pattern("bt1")))));

  // A second create (after a crash) replaces the table, empty again.
  auto again = nat();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->list()->ports.size(), 0u);
  ASSERT_TRUE(again->destroy());
  EXPECT_EQ(tables().find("berthtest"), std::string::npos) << tables();
  for (Net* x : {&a, &b, &world}) ASSERT_TRUE(x->links->destroy());
}

TEST_F(NatTest, InternalNetworkStaysInside) {
  Net a = network("bt0", "10.99.0.1", 16, true);
  Net world = network("bw0", "192.168.200.1", 24);
  unique_fd c1 = container(a, "10.99.0.2", "vethc1"), c2 = container(a, "10.99.0.3", "vethc2");
  unique_fd out = container(world, "192.168.200.2", "vethout");
  auto n = nat();
  ASSERT_TRUE(n);
  ASSERT_TRUE(n->add_network(a.nat));
  unique_fd srv = udp_bound(out.get(), ip("192.168.200.2"), 9999);
  EXPECT_EQ(udp_ask(c1.get(), ip("192.168.200.2"), 9999, "x", 500), "");
  EXPECT_EQ(udp_echo_pending(srv.get(), 0), 0);
  std::string out_text;
  EXPECT_EQ(run_in_netns(c1.get(), {"/bin/busybox", "ping", "-c", "1", "-W", "5", "10.99.0.3"}, &out_text), 0)
      << out_text;
  auto dup = n->add_network(a.nat);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message(), "add network bt0 (10.99.0.0/16): nftables table berthtest: File exists");
  ASSERT_TRUE(n->destroy());
  for (Net* x : {&a, &world}) ASSERT_TRUE(x->links->destroy());
}

// The cost of one published port's add and remove (one transaction each),
// with 1,000 other ports already published: printed, not asserted.
TEST_F(NatTest, UpdateCost) {
  auto n = nat();
  ASSERT_TRUE(n);
  std::vector<PortMapping> many;
  for (int i = 0; i < 1000; i++)
    many.push_back(PortMapping{netns::Proto::kTcp, std::nullopt, uint16_t(20000 + i), 0,
                               Ip4{ip("10.99.0.2").value + uint32_t(i)}, 80});
  ASSERT_TRUE(n->add_ports(many));
  constexpr int kRounds = 200;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; i++) {
    PortMapping m{netns::Proto::kTcp, std::nullopt, 18080, 0, ip("10.99.9.9"), 80};
    ASSERT_TRUE(n->add_ports(std::span<const PortMapping>(&m, 1)));
    ASSERT_TRUE(n->remove_ports(std::span<const PortMapping>(&m, 1)));
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("nat: %.3f ms per update (add or remove of one port, 1,000 others present)\n", ms / (2 * kRounds));
  EXPECT_EQ(n->list()->ports.size(), 1000u);
  ASSERT_TRUE(n->destroy());
}

}  // namespace
}  // namespace berth::test
