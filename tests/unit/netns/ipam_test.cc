#include "netns/ipam.h"

#include <stdlib.h>
#include <unistd.h>

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "netns/subnet.h"

namespace berth::netns {
namespace {

Ip4 ip(const char* s) {
  auto v = parse_ip4(s);
  EXPECT_TRUE(v) << s;
  return v.value_or(Ip4{});
}

NetworkAddressing addressing(const char* subnet, const char* range = "", const char* gw = "") {
  auto a = parse_addressing(subnet, range, gw);
  EXPECT_TRUE(a) << a.error().message();
  return *a;
}

TEST(Subnet, ParsesAddresses) {
  EXPECT_EQ(ip("10.88.0.1").value, 0x0a580001u);
  EXPECT_EQ(to_string(ip("255.255.255.255")), "255.255.255.255");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.4 ", "a.b.c.d",
                          "1..2.3", "1.2.3.", "-1.2.3.4", "1.2.3.4/8"})
    EXPECT_FALSE(parse_ip4(bad)) << bad;
  EXPECT_TRUE(is_loopback(ip("127.0.0.53")));
  EXPECT_FALSE(is_loopback(ip("10.0.0.1")));
}

TEST(Subnet, DockerMessages) {
  auto e = parse_subnet("10.0.0.0");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "invalid subnet 10.0.0.0: invalid CIDR block notation");
  EXPECT_EQ(e.error().code(), Code::kInvalidArgument);
  e = parse_subnet("10.0.0.1/24");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24");
  EXPECT_FALSE(parse_subnet("10.0.0.0/33"));
  EXPECT_FALSE(parse_subnet("10.0.0.0/024"));
  EXPECT_EQ(parse_subnet("fd00::/64").error().code(), Code::kNotSupported);
  EXPECT_FALSE(parse_subnet("10.0.0.0/31"));
  EXPECT_FALSE(parse_subnet("10.0.0.0/7"));
  auto s = parse_subnet("10.88.0.0/16");
  ASSERT_TRUE(s);
  EXPECT_EQ(to_string(*s), "10.88.0.0/16");
  EXPECT_EQ(to_string(s->broadcast()), "10.88.255.255");
  EXPECT_TRUE(s->contains(ip("10.88.200.1")));
  EXPECT_FALSE(s->contains(ip("10.89.0.1")));

  auto a = parse_addressing("10.0.0.0/24", "", "10.1.0.1");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(),
            "invalid network config:\ninvalid gateway 10.1.0.1: parent subnet 10.0.0.0/24 doesn't "
            "contain this address");
  a = parse_addressing("10.0.0.0/24", "10.0.1.0/23", "bogus");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(),
            "invalid network config:\n"
            "invalid ip-range 10.0.1.0/23: CIDR block is bigger than its parent subnet 10.0.0.0/24\n"
            "invalid ip-range 10.0.1.0/23: it should be 10.0.0.0/23\n"
            "invalid gateway bogus: invalid address");
  a = parse_addressing("10.0.0.0/24", "10.0.1.0/25");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(),
            "invalid network config:\ninvalid ip-range 10.0.1.0/25: parent subnet 10.0.0.0/24 "
            "doesn't contain ip-range");
  EXPECT_FALSE(parse_addressing("10.0.0.0/24", "", "10.0.0.255"));
}

TEST(Subnet, GatewayDefaultsToFirstHost) {
  NetworkAddressing a = addressing("172.18.0.0/16");
  EXPECT_EQ(to_string(a.gateway), "172.18.0.1");
  EXPECT_EQ(a.ip_range, a.subnet);
  a = addressing("172.18.0.0/16", "172.18.5.0/24", "172.18.0.254");
  EXPECT_EQ(to_string(a.gateway), "172.18.0.254");
  EXPECT_EQ(to_string(a.ip_range), "172.18.5.0/24");
}

TEST(Subnet, MacFromIp) {
  EXPECT_EQ(to_string(mac_for(ip("10.88.0.2"))), "02:42:0a:58:00:02");
  EXPECT_EQ(to_string(mac_for(ip("172.17.255.254"))), "02:42:ac:11:ff:fe");
}

TEST(Ipam, SequentialNeverReserved) {
  Ipam ipam(addressing("10.0.0.0/29"));  // .1 gateway, .2-.6 usable, .7 broadcast
  EXPECT_EQ(ipam.range_capacity(), 5u);
  std::vector<std::string> got;
  for (int i = 0; i < 5; i++) got.push_back(to_string(*ipam.allocate()));
  EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
  auto full = ipam.allocate();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message(), "no available addresses on this pool");
  EXPECT_EQ(full.error().code(), Code::kConflict);
  EXPECT_EQ(ipam.allocated_count(), 5u);
}

TEST(Ipam, ReleasedAddressNotReusedAtOnce) {
  Ipam ipam(addressing("10.0.0.0/24"));
  Ip4 a = *ipam.allocate();  // .2
  Ip4 b = *ipam.allocate();  // .3
  EXPECT_TRUE(ipam.release(a));
  EXPECT_FALSE(ipam.release(a));  // twice is harmless
  EXPECT_EQ(to_string(*ipam.allocate()), "10.0.0.4");
  EXPECT_TRUE(ipam.release(b));
  // Wrap-around: fill to the end, then the freed low addresses come back.
  for (int i = 5; i <= 254; i++) EXPECT_EQ(to_string(*ipam.allocate()), "10.0.0." + std::to_string(i));
  EXPECT_EQ(to_string(*ipam.allocate()), "10.0.0.2");
  EXPECT_EQ(to_string(*ipam.allocate()), "10.0.0.3");
  EXPECT_FALSE(ipam.allocate());
}

TEST(Ipam, IpRangeAndCustomGateway) {
  Ipam ipam(addressing("10.1.0.0/16", "10.1.4.0/30", "10.1.4.1"));
  EXPECT_EQ(ipam.range_capacity(), 3u);  // .0 .2 .3; .1 is the gateway
  EXPECT_EQ(to_string(*ipam.allocate()), "10.1.4.0");
  EXPECT_EQ(to_string(*ipam.allocate()), "10.1.4.2");
  EXPECT_EQ(to_string(*ipam.allocate()), "10.1.4.3");
  EXPECT_FALSE(ipam.allocate());
  // --ip outside the range but inside the subnet is fine, as in Docker.
  EXPECT_TRUE(ipam.reserve(ip("10.1.200.7")));
}

TEST(Ipam, ReserveErrors) {
  Ipam ipam(addressing("10.88.0.0/16"));
  ASSERT_TRUE(ipam.reserve(ip("10.88.3.3")));
  auto r = ipam.reserve(ip("10.88.3.3"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kConflict);
  EXPECT_EQ(r.error().message(), "Address already in use: 10.88.3.3");
  r = ipam.reserve(ip("10.9.0.5"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "no configured subnet or ip-range contain the IP address 10.9.0.5");
  EXPECT_EQ(ipam.reserve(ip("10.88.0.1")).error().message(), "address 10.88.0.1 is reserved (gateway)");
  EXPECT_FALSE(ipam.reserve(ip("10.88.0.0")));
  EXPECT_FALSE(ipam.reserve(ip("10.88.255.255")));
  EXPECT_FALSE(ipam.release(ip("10.88.0.1")));
  // Dynamic allocation skips the reserved one.
  Ipam small(addressing("10.0.0.0/29"));
  ASSERT_TRUE(small.reserve(ip("10.0.0.2")));
  EXPECT_EQ(to_string(*small.allocate()), "10.0.0.3");
}

TEST(Ipam, TenThousandInASlash16) {
  Ipam ipam(addressing("10.88.0.0/16"));
  std::set<uint32_t> seen;
  for (int i = 0; i < 10000; i++) {
    auto a = ipam.allocate();
    ASSERT_TRUE(a);
    ASSERT_TRUE(seen.insert(a->value).second);
    ASSERT_FALSE(ipam.is_reserved(*a));
  }
  EXPECT_EQ(ipam.allocated_count(), 10000u);
  // Free every other one, then allocate past the end and wrap into the holes.
  for (uint32_t v : seen)
    if (v % 2) ipam.release(Ip4{v});
  EXPECT_EQ(ipam.allocated_count(), 5000u);
  size_t room = ipam.range_capacity() - ipam.allocated_count();
  for (size_t i = 0; i < room; i++) ASSERT_TRUE(ipam.allocate()) << i;
  EXPECT_FALSE(ipam.allocate());
  EXPECT_EQ(ipam.allocated_count(), ipam.range_capacity());
  EXPECT_EQ(ipam.range_capacity(), 65536u - 3);
}

TEST(Ipam, EncodeDecodeRoundTrip) {
  Ipam ipam(addressing("10.88.0.0/16", "10.88.0.0/17"));
  for (int i = 0; i < 10; i++) ASSERT_TRUE(ipam.allocate());
  ipam.release(ip("10.88.0.5"));
  ASSERT_TRUE(ipam.reserve(ip("10.88.200.1")));
  std::string text = ipam.encode();
  EXPECT_EQ(text,
            "berth-ipam 1\nsubnet 10.88.0.0/16\nrange 10.88.0.0/17\ngateway 10.88.0.1\nnext 10.88.0.12\n"
            "alloc 10.88.0.2-10.88.0.4\nalloc 10.88.0.6-10.88.0.11\nalloc 10.88.200.1\nend\n");
  auto back = Ipam::decode(text, "t");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->encode(), text);
  EXPECT_EQ(back->allocated_count(), 10u);
  EXPECT_EQ(to_string(*back->allocate()), "10.88.0.12");  // the cursor survived
}

TEST(Ipam, CorruptFilesAreClearErrors) {
  const char* good =
      "berth-ipam 1\nsubnet 10.0.0.0/24\nrange 10.0.0.0/24\ngateway 10.0.0.1\nnext 10.0.0.2\nalloc 10.0.0.2\nend\n";
  ASSERT_TRUE(Ipam::decode(good, "f"));
  struct Case { std::string text, msg; };
  std::vector<Case> cases = {
      {"", "ipam file f line 1: not a berth-ipam 1 file"},
      {"berth-ipam 2\n", "ipam file f line 1: not a berth-ipam 1 file"},
      {"berth-ipam 1\nsubnet 10.0.0.0/24\n", "ipam file f line 3: missing \"range\""},
      {"berth-ipam 1\nsubnet 10.0.0.1/24\nrange 10.0.0.0/24\ngateway 10.0.0.1\n",
       "ipam file f line 4: invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24"},
      {std::string(good).substr(0, std::string(good).size() - 4),
       "ipam file f line 7: truncated: no \"end\" line"},
      {std::string(good) + "x\n", "ipam file f line 8: data after \"end\""},
      {"berth-ipam 1\nsubnet 10.0.0.0/24\nrange 10.0.0.0/24\ngateway 10.0.0.1\nnext 10.0.0.2\n"
       "alloc 10.0.0.2\nalloc 10.0.0.2\nend\n",
       "ipam file f line 7: address 10.0.0.2 listed twice or reserved"},
      {"berth-ipam 1\nsubnet 10.0.0.0/24\nrange 10.0.0.0/24\ngateway 10.0.0.1\nnext 10.0.0.2\n"
       "alloc 10.0.0.9-10.0.0.3\nend\n",
       "ipam file f line 6: bad address range \"10.0.0.9-10.0.0.3\""},
      {"berth-ipam 1\nsubnet 10.0.0.0/24\nrange 10.0.0.0/24\ngateway 10.0.0.1\nnext 10.0.0.2\n"
       "alloc 10.0.0.1\nend\n",
       "ipam file f line 6: address 10.0.0.1 listed twice or reserved"},
      {"berth-ipam 1\nsubnet 10.0.0.0/24\nrange 10.0.0.0/24\ngateway 10.0.0.1\nnext 9.0.0.2\nend\n",
       "ipam file f line 5: bad next address \"9.0.0.2\""},
  };
  for (const auto& c : cases) {
    auto r = Ipam::decode(c.text, "f");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code(), Code::kCorrupt);
    EXPECT_EQ(r.error().message(), c.msg);
  }
}

TEST(Ipam, SaveLoadSurvivesRestart) {
  char tmpl[] = "/tmp/berth-ipam-XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  std::string dir = tmpl;
  std::string path = ipam_path(dir, "net1");
  EXPECT_EQ(path, dir + "/net1.ipam");
  EXPECT_EQ(Ipam::load(path).error().code(), Code::kNotFound);
  {
    Ipam ipam(addressing("10.88.0.0/16"));
    for (int i = 0; i < 300; i++) ASSERT_TRUE(ipam.allocate());
    ASSERT_TRUE(ipam.save(path));
  }
  auto loaded = Ipam::load(path);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->allocated_count(), 300u);
  EXPECT_TRUE(loaded->is_allocated(ip("10.88.1.45")));
  EXPECT_FALSE(path_exists(path + ".tmp"));
  ASSERT_TRUE(write_file_atomic(path, "berth-ipam 1\ngarbage\n", 0644, false));
  auto bad = Ipam::load(path);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kCorrupt);
  EXPECT_NE(bad.error().message().find(path), std::string::npos);
  ASSERT_TRUE(remove_tree(dir));
}

TEST(Ipam, ReconcileKeepsExactlyTheInUseSet) {
  Ipam ipam(addressing("10.0.0.0/24"));
  for (int i = 0; i < 6; i++) ASSERT_TRUE(ipam.allocate());  // .2-.7
  std::vector<Ip4> in_use = {ip("10.0.0.3"), ip("10.0.0.9"), ip("10.0.0.1"), ip("192.168.0.1")};
  std::vector<Ip4> skipped;
  std::vector<Ip4> released = ipam.reconcile(in_use, &skipped);
  std::vector<std::string> rel;
  for (Ip4 a : released) rel.push_back(to_string(a));
  EXPECT_EQ(rel, (std::vector<std::string>{"10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7"}));
  EXPECT_EQ(skipped.size(), 2u);
  EXPECT_EQ(ipam.allocated_count(), 2u);
  EXPECT_TRUE(ipam.is_allocated(ip("10.0.0.9")));
  EXPECT_EQ(to_string(*ipam.allocate()), "10.0.0.8");  // the cursor is kept
}

}  // namespace
}  // namespace berth::netns
