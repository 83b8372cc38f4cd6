// BridgeNetwork against the kernel: bridges and veths in namespaces the test
// makes (one for "the host", where the bridges live, one per container).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netns/enter.h"
#include "netns/link.h"
#include "tests/integration/netns_util.h"

namespace berth::test {
namespace {

using netns::Attached;
using netns::Attachment;
using netns::BridgeNetwork;
using netns::BridgeOptions;
using netns::Detachment;
using netns::Ip4;

Ip4 nth(Ip4 base, uint32_t n) { return Ip4{base.value + n}; }

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    host_ = make_netns();
  }
  BridgeOptions opts(const std::string& name = "bt0", const char* gw = "10.99.0.1") {
    BridgeOptions o;
    o.name = name;
    o.gateway = netns::Cidr{ip(gw), 16};
    o.netns_fd = host_.get();
    return o;
  }
  std::unique_ptr<BridgeNetwork> open(const BridgeOptions& o) {
    auto n = BridgeNetwork::open(o);
    EXPECT_TRUE(n) << (n ? "" : n.error().message());
    return n ? std::move(*n) : nullptr;
  }
  unique_fd host_;
};

TEST_F(LinkTest, TwoContainersReachTheGatewayAndEachOther) {
  auto net = open(opts());
  ASSERT_TRUE(net);
  unique_fd c1 = make_netns(), c2 = make_netns();
  std::vector<Attachment> reqs(2);
  reqs[0].netns_fd = c1.get();
  reqs[0].host_name = netns::veth_name("aaaaaaaaaaaa1111", 0);
  reqs[0].ip = ip("10.99.0.2");
  reqs[1].netns_fd = c2.get();
  reqs[1].host_name = netns::veth_name("bbbbbbbbbbbb2222", 0);
  reqs[1].ip = ip("10.99.0.3");
  auto res = net->attach(reqs);
  ASSERT_EQ(res.size(), 2u);
  for (auto& r : res) ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(res[0]->bridge, "bt0");
  EXPECT_EQ(netns::to_string(res[0]->mac), "02:42:0a:63:00:02");
  EXPECT_EQ(reqs[0].host_name, "vethaaaaaaaaaa0");

  EXPECT_EQ(link_names(c1.get()), (std::set<std::string>{"lo", "eth0"}));
  EXPECT_EQ(addresses_of(c1.get(), "eth0"), std::vector<std::string>{"10.99.0.2/16"});
  std::string routes;
  ASSERT_EQ(run_in_netns(c1.get(), {"/bin/busybox", "ip", "route"}, &routes), 0);
  EXPECT_NE(routes.find("default via 10.99.0.1 dev eth0"), std::string::npos) << routes;
  std::string v6;
  run_in_netns(c1.get(), {"/bin/busybox", "ip", "-6", "addr", "show", "dev", "eth0"}, &v6);
  EXPECT_EQ(v6.find("inet6"), std::string::npos) << v6;
  // No IPv6 on the host ends: no per-port routes in the host's IPv6 tables.
  run_in_netns(host_.get(), {"/sbin/ip", "-6", "route", "show", "table", "all"}, &v6);
  EXPECT_EQ(v6.find("veth"), std::string::npos) << v6;

  // Container -> gateway (UDP echo on the host side), container -> container.
  unique_fd echo = udp_bound(host_.get(), ip("10.99.0.1"), 7007);
  unique_fd echo2 = udp_bound(c2.get(), ip("10.99.0.3"), 7007);
  std::string reply;
  std::thread asker([&] { reply = udp_ask(c1.get(), ip("10.99.0.1"), 7007, "hello gw"); });
  EXPECT_EQ(udp_echo_pending(echo.get(), 10000), 1);
  asker.join();
  EXPECT_EQ(reply, "hello gw");
  std::thread asker2([&] { reply = udp_ask(c1.get(), ip("10.99.0.3"), 7007, "hello c2"); });
  EXPECT_EQ(udp_echo_pending(echo2.get(), 10000), 1);
  asker2.join();
  EXPECT_EQ(reply, "hello c2");
  std::string out;
  EXPECT_EQ(run_in_netns(c2.get(), {"/bin/busybox", "ping", "-c", "1", "-W", "5", "10.99.0.2"}, &out), 0) << out;

  // Stats: the container sees eth0; the host end reads the same, swapped.
  // The bridge may still send (neighbour probes), so the two ends are
  // compared on a reading the container's counters did not move across.
  std::vector<std::string> hn = {reqs[0].host_name};
  bool steady = false;
  for (int i = 0; i < 50 && !steady; i++) {
    auto st = netns::interface_stats(c1.get());
    ASSERT_TRUE(st) << st.error().message();
    ASSERT_EQ(st->size(), 1u);
    EXPECT_EQ((*st)[0].name, "eth0");
    EXPECT_GT((*st)[0].tx_packets, 0u);
    EXPECT_GT((*st)[0].rx_bytes, 0u);
    auto hs = netns::host_side_stats(hn, host_.get());
    ASSERT_TRUE(hs) << hs.error().message();
    ASSERT_EQ(hs->size(), 1u);
    auto again = netns::interface_stats(c1.get());
    ASSERT_TRUE(again) << again.error().message();
    if ((*again)[0].rx_bytes != (*st)[0].rx_bytes || (*again)[0].tx_packets != (*st)[0].tx_packets) {
      ::usleep(100000);
      continue;
    }
    steady = true;
    EXPECT_EQ((*hs)[0].tx_packets, (*st)[0].tx_packets);
    EXPECT_EQ((*hs)[0].rx_bytes, (*st)[0].rx_bytes);
  }
  EXPECT_TRUE(steady) << "eth0's counters never held still across a reading";

  std::vector<Detachment> dets = {{reqs[0].host_name, reqs[0].ip}, {reqs[1].host_name, reqs[1].ip}};
  ASSERT_TRUE(net->detach(dets));
  EXPECT_EQ(link_names(c1.get()), (std::set<std::string>{"lo"}));
  EXPECT_EQ(link_names(host_.get()), (std::set<std::string>{"lo", "bt0"}));
  ASSERT_TRUE(net->destroy());
  EXPECT_EQ(link_names(host_.get()), (std::set<std::string>{"lo"}));
}

TEST_F(LinkTest, ErrorsNameTheLinkAndLeaveNothing) {
  auto net = open(opts());
  ASSERT_TRUE(net);
  unique_fd c1 = make_netns();
  std::vector<Attachment> reqs(3);
  reqs[0].netns_fd = c1.get();
  reqs[0].host_name = "vethdup0";
  reqs[0].ip = ip("10.99.0.2");
  reqs[1] = reqs[0];  // same host name: the kernel refuses the second
  reqs[1].ip = ip("10.99.0.3");
  reqs[1].ifname = "eth1";
  reqs[2] = reqs[0];
  reqs[2].host_name = "vethbad2";
  reqs[2].ip = ip("10.98.0.3");  // not in the subnet
  auto res = net->attach(reqs);
  ASSERT_TRUE(res[0]) << res[0].error().message();
  ASSERT_FALSE(res[1]);
  EXPECT_EQ(res[1].error().message(), "create veth vethdup0: File exists");
  ASSERT_FALSE(res[2]);
  EXPECT_EQ(res[2].error().message(),
            "attach vethbad2: address 10.98.0.3 is not a host address of 10.99.0.0/16 other than the gateway");
  EXPECT_EQ(link_names(c1.get()), (std::set<std::string>{"lo", "eth0"}));
  auto topo = net->topology();
  ASSERT_EQ(topo.size(), 1u);
  EXPECT_EQ(topo[0].ports, 1u);

  // A name taken by something that is not a bridge.
  auto other = BridgeNetwork::open(opts("vethdup0", "10.98.0.1"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().message(), "bridge vethdup0: exists and is a veth link, not a bridge");
  ASSERT_TRUE(net->destroy());
  EXPECT_EQ(link_names(host_.get()), (std::set<std::string>{"lo"}));
  EXPECT_EQ(link_names(c1.get()), (std::set<std::string>{"lo"}));
}

TEST_F(LinkTest, LeavesPastPortsPerBridgeAndReopen) {
  BridgeOptions o = opts();
  o.ports_per_bridge = 3;  // small, so a handful of containers needs leaves
  auto net = open(o);
  ASSERT_TRUE(net);
  std::vector<unique_fd> ns;
  std::vector<Attachment> reqs;
  for (int i = 0; i < 8; i++) {
    ns.push_back(make_netns());
    Attachment a;
    a.netns_fd = ns.back().get();
    a.host_name = "vethleaf" + std::to_string(i);
    a.ip = nth(ip("10.99.1.0"), uint32_t(i + 1));
    reqs.push_back(a);
  }
  auto res = net->attach(reqs);
  for (auto& r : res) ASSERT_TRUE(r) << r.error().message();
  auto topo = net->topology();
  ASSERT_EQ(topo.size(), 3u);
  EXPECT_EQ(topo[0].ports, 3u);
  EXPECT_EQ(topo[1].ports, 3u);
  EXPECT_EQ(topo[2].ports, 2u);
  EXPECT_EQ(res[7]->bridge, topo[2].bridge);
  // Every container, on the root or a leaf, reaches the gateway.
  unique_fd echo = udp_bound(host_.get(), ip("10.99.0.1"), 7007);
  for (int i = 0; i < 8; i++) {
    std::string reply;
    std::thread t([&] { reply = udp_ask(ns[i].get(), ip("10.99.0.1"), 7007, "x" + std::to_string(i)); });
    EXPECT_EQ(udp_echo_pending(echo.get(), 10000), 1);
    t.join();
    EXPECT_EQ(reply, "x" + std::to_string(i)) << i;
  }
  // Leaf to root neighbour across the uplink: container 7 pings container 0.
  std::string out;
  EXPECT_EQ(run_in_netns(ns[7].get(), {"/bin/busybox", "ping", "-c", "1", "-W", "5", "10.99.1.1"}, &out), 0) << out;

  // A restart: a new object counts the same ports.
  net.reset();
  net = open(o);
  ASSERT_TRUE(net);
  auto again = net->topology();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[2].ports, 2u);

  // Emptying the last leaf deletes it and its uplink.
  std::vector<Detachment> dets = {{"vethleaf6", reqs[6].ip}, {"vethleaf7", reqs[7].ip}};
  ASSERT_TRUE(net->detach(dets));
  EXPECT_EQ(net->topology().size(), 2u);
  EXPECT_EQ(link_names(host_.get()).count(topo[2].bridge), 0u);

  // Reconcile after a "crash": keep containers 0 and 3 only.
  std::vector<std::string> keep = {"vethleaf0", "vethleaf3"};
  std::vector<Ip4> keep_ips = {reqs[0].ip, reqs[3].ip};
  auto rep = net->reconcile(keep, keep_ips);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_EQ(rep->removed_veths.size(), 4u);
  EXPECT_EQ(rep->removed_neighbours.size(), 4u);
  EXPECT_EQ(rep->removed_leaves, std::vector<std::string>{});  // leaf 1 still has vethleaf3
  auto t2 = net->topology();
  ASSERT_EQ(t2.size(), 2u);
  EXPECT_EQ(t2[0].ports, 1u);
  EXPECT_EQ(t2[1].ports, 1u);
  ASSERT_TRUE(net->destroy());
  EXPECT_EQ(link_names(host_.get()), (std::set<std::string>{"lo"}));
}

// 1,500 containers on one network: past one bridge's 1,023 ports, past the
// default neighbour-table limit of 1,024. Each gets its address and reaches
// the gateway; detaching all leaves the root bridge alone. Prints the cost
// per veth (measured, never asserted).
TEST_F(LinkTest, FifteenHundredContainersOnOneNetwork) {
  constexpr int kCount = 1500, kBatch = 100;
  auto net = open(opts("bt0", "10.99.0.1"));
  ASSERT_TRUE(net);
  std::vector<unique_fd> ns;
  std::vector<Attachment> reqs(kCount);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; i++) {
    ns.push_back(make_netns());
    reqs[i].netns_fd = ns.back().get();
    reqs[i].host_name = "vethscale" + std::to_string(i);
    reqs[i].ip = nth(ip("10.99.8.0"), uint32_t(i + 1));
  }
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; i += kBatch) {
    auto res = net->attach(std::span<const Attachment>(reqs).subspan(i, kBatch));
    for (auto& r : res) ASSERT_TRUE(r) << r.error().message();
  }
  auto t2 = std::chrono::steady_clock::now();
  auto topo = net->topology();
  ASSERT_EQ(topo.size(), 2u);
  EXPECT_EQ(topo[0].ports, 1000u);
  EXPECT_EQ(topo[1].ports, 500u);

  unique_fd echo = udp_bound(host_.get(), ip("10.99.0.1"), 7007);
  int reached = 0;
  for (int i = 0; i < kCount; i += kBatch) {
    std::vector<unique_fd> clients;
    for (int k = i; k < i + kBatch; k++) {
      auto fd = netns::socket_in_netns(reqs[k].netns_fd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      ASSERT_TRUE(fd);
      sockaddr_in sa = sockaddr_of(ip("10.99.0.1"), 7007);
      std::string msg = std::to_string(k);
      ASSERT_GT(::sendto(fd->get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
      clients.push_back(std::move(*fd));
    }
    int answered = 0;
    for (int tries = 0; tries < 100 && answered < kBatch; tries++) answered += udp_echo_pending(echo.get(), 100);
    for (int k = i; k < i + kBatch; k++) {
      pollfd p{clients[k - i].get(), POLLIN, 0};
      char buf[32];
      if (::poll(&p, 1, 5000) == 1) {
        ssize_t n = ::recv(clients[k - i].get(), buf, sizeof buf, 0);
        if (n > 0 && std::string(buf, size_t(n)) == std::to_string(k)) reached++;
      }
    }
  }
  EXPECT_EQ(reached, kCount);
  EXPECT_EQ(addresses_of(reqs[1499].netns_fd, "eth0"), std::vector<std::string>{"10.99.13.220/16"});

  std::vector<Detachment> dets;
  for (auto& r : reqs) dets.push_back({r.host_name, r.ip});
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(net->detach(dets));
  auto t4 = std::chrono::steady_clock::now();
  EXPECT_EQ(link_names(host_.get()), (std::set<std::string>{"lo", "bt0"}));
  EXPECT_EQ(link_names(reqs[0].netns_fd), (std::set<std::string>{"lo"}));
  ASSERT_TRUE(net->destroy());
  EXPECT_EQ(link_names(host_.get()), (std::set<std::string>{"lo"}));
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("netns: %d namespaces %.0f ms; attach %.0f ms (%.3f ms per veth, batches of %d); "
              "detach %.0f ms (%.3f ms per veth)\n",
              kCount, ms(t0, t1), ms(t1, t2), ms(t1, t2) / kCount, kBatch, ms(t3, t4), ms(t3, t4) / kCount);
}

}  // namespace
}  // namespace berth::test
