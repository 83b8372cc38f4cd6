// DnsServer on a reactor, answering containers of a bridge network from
// the gateway address, forwarding to fake upstreams on the host side's
// loopback. All inside namespaces the test makes.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "netns/dns.h"
#include "netns/dns_server.h"
#include "netns/enter.h"
#include "netns/link.h"
#include "tests/integration/netns_util.h"

namespace berth::test {
namespace {

using netns::Ip4;
namespace dns = netns::dns;


std::vector<uint8_t> query_bytes(const std::string& name, uint16_t qtype, uint16_t id) {
  dns::Query q;
  q.id = id;
  q.rd = true;
  q.q.name = *dns::name_from_string(name);
  q.q.qtype = qtype;
  q.q.qclass = dns::kClassIn;
  // A query is an answer's header and question with QR clear.
  std::vector<uint8_t> b = dns::answer_empty(q);
  b[2] = 0x01;
  b[3] = 0;
  return b;
}

// A fake upstream resolver on a thread: example.com -> `answer`,
// slow.example -> silence, anything else -> NXDOMAIN.
class FakeUpstream {
 public:
  FakeUpstream(int netns_fd, uint16_t port, Ip4 answer) : answer_(answer) {
    fd_ = udp_bound(netns_fd, ip("127.0.0.1"), port);
    t_ = std::thread([this] { loop(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    t_.join();
  }
  int seen() const { return seen_; }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      uint8_t buf[1024];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      auto q = dns::parse_query(std::span<const uint8_t>(buf, size_t(n > 0 ? n : 0)));
      if (!q) continue;
      seen_++;
      std::string k = q->q.name.key();
      if (k == "slow.example") continue;
      std::vector<uint8_t> out = k == "example.com" ? dns::answer_a(*q, std::vector<Ip4>{answer_}, 30)
                                                    : dns::answer_error(*q, dns::Rcode::kNxDomain);
      out[2] &= uint8_t(~0x04);  // not authoritative, like a recursive resolver
      ::sendto(fd_.get(), out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  Ip4 answer_;
  unique_fd fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> seen_{0};
  std::thread t_;
};

class DnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root";
    host_ = make_netns();
    netns::BridgeOptions o;
    o.name = "bt0";
    o.gateway = netns::Cidr{ip("10.99.0.1"), 16};
    o.netns_fd = host_.get();
    net_ = std::move(*netns::BridgeNetwork::open(o));
    c1_ = make_netns();
    c2_ = make_netns();
    std::vector<netns::Attachment> a(2);
    a[0].netns_fd = c1_.get();
    a[0].host_name = "vethdns1";
    a[0].ip = ip("10.99.0.2");
    a[1].netns_fd = c2_.get();
    a[1].host_name = "vethdns2";
    a[1].ip = ip("10.99.0.3");
    for (auto& r : net_->attach(a)) ASSERT_TRUE(r) << r.error().message();
    // A fresh veth drops what is sent before its carrier is up, so a test's
    // first query could be lost: every test starts once both have it.
    for (int fd : {c1_.get(), c2_.get()}) ASSERT_TRUE(carrier_up(fd)) << "eth0 of a container never got its carrier";
    auto r = reactor::Reactor::create(256, 1);
    ASSERT_TRUE(r);
    r_ = std::move(*r);
  }
  void TearDown() override {
    if (server_) {
      bool stopped = false;
      server_->stop([&] { stopped = true; });
      for (int i = 0; i < 1000 && !stopped; i++) r_->run_once(10);
      EXPECT_TRUE(stopped);
      server_.reset();
    }
    if (net_) {
      EXPECT_TRUE(net_->destroy());
    }
  }
  void start(unsigned max_forwards = 64, unsigned timeout_ms = 2000) {
    netns::DnsServerOptions o;
    o.address = ip("10.99.0.1");
    o.netns_fd = host_.get();
    o.upstream_netns_fd = host_.get();
    o.upstreams = {*netns::parse_upstream("127.0.0.1", 5353)};
    o.max_forwards = max_forwards;
    o.timeout_ms = timeout_ms;
    auto s = netns::DnsServer::start(*r_, o);
    ASSERT_TRUE(s) << s.error().message();
    server_ = std::move(*s);
  }
  // Until `ip` shows LOWER_UP on the container's eth0 (bounded by attempts).
  static bool carrier_up(int netns_fd) {
    for (int i = 0; i < 250; i++) {
      std::string out;
      if (run_in_netns(netns_fd, {"/bin/ip", "-o", "link", "show", "eth0"}, &out) == 0 &&
          out.find("LOWER_UP") != std::string::npos)
        return true;
      ::usleep(20000);
    }
    return false;
  }
  // Sends a query from a container and runs the reactor until the answer.
  std::optional<dns::Message> ask(int netns_fd, const std::string& name, uint16_t qtype, uint16_t id = 42) {
    auto fd = netns::socket_in_netns(netns_fd, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (!fd) return std::nullopt;
    auto q = query_bytes(name, qtype, id);
    sockaddr_in sa = sockaddr_of(ip("10.99.0.1"), 53);
    ::sendto(fd->get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    return wait_answer(fd->get());
  }
  std::optional<dns::Message> wait_answer(int fd, int loops = 1000) {
    for (int i = 0; i < loops; i++) {
      uint8_t buf[1500];
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        auto m = dns::parse_message(std::span<const uint8_t>(buf, size_t(n)));
        if (m) return *m;
        return std::nullopt;
      }
      r_->run_once(10);
    }
    return std::nullopt;
  }
  // Runs a command in a container while the reactor runs.
  int run_busybox(int netns_fd, std::vector<std::string> argv, std::string* out) {
    std::atomic<bool> done{false};
    int rc = -1;
    std::thread t([&] {
      rc = run_in_netns(netns_fd, argv, out);
      done = true;
    });
    for (int i = 0; i < 3000 && !done; i++) r_->run_once(10);
    t.join();
    return rc;
  }

  unique_fd host_, c1_, c2_;
  std::unique_ptr<netns::BridgeNetwork> net_;
  std::unique_ptr<reactor::Reactor> r_;
  std::unique_ptr<netns::DnsServer> server_;
};

Ip4 a_record(const dns::Message& m, size_t i = 0) {
  const auto& d = m.answers.at(i).rdata;
  return Ip4{uint32_t(d.at(0)) << 24 | uint32_t(d.at(1)) << 16 | uint32_t(d.at(2)) << 8 | d.at(3)};
}

TEST_F(DnsTest, NamesAliasesPtrAndForwarding) {
  FakeUpstream up(host_.get(), 5353, ip("93.184.216.34"));
  start();
  server_->add_name("c1", ip("10.99.0.2"));
  server_->add_name("web", ip("10.99.0.2"));  // a network alias
  server_->add_name("web", ip("10.99.0.3"));  // ... shared with c2
  server_->add_name("C2.", ip("10.99.0.3"));

  std::string out;
  ASSERT_EQ(run_busybox(c1_.get(), {"/bin/busybox", "nslookup", "c2", "10.99.0.1"}, &out), 0) << out;
  EXPECT_NE(out.find("10.99.0.3"), std::string::npos) << out;

  auto m = ask(c1_.get(), "WEB", dns::type::kA, 7);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 7);
  EXPECT_EQ(m->rcode(), dns::Rcode::kNoError);
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].ttl, 600u);
  std::set<uint32_t> got = {a_record(*m, 0).value, a_record(*m, 1).value};
  EXPECT_EQ(got, (std::set<uint32_t>{ip("10.99.0.2").value, ip("10.99.0.3").value}));

  m = ask(c2_.get(), "c1", dns::type::kAaaa);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rcode(), dns::Rcode::kNoError);
  EXPECT_TRUE(m->answers.empty());

  m = ask(c2_.get(), "2.0.99.10.in-addr.arpa", dns::type::kPtr);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 1u);

  // Forwarded to the upstream; the answer keeps the client's id.
  m = ask(c1_.get(), "example.com", dns::type::kA, 991);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 991);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(a_record(*m), ip("93.184.216.34"));
  m = ask(c1_.get(), "nothing.example", dns::type::kA);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rcode(), dns::Rcode::kNxDomain);

  // A container with its own --dns list.
  FakeUpstream own(host_.get(), 5354, ip("1.1.1.1"));
  server_->set_client_upstreams(ip("10.99.0.3"), {*netns::parse_upstream("127.0.0.1", 5354)});
  m = ask(c2_.get(), "example.com", dns::type::kA);
  ASSERT_TRUE(m);
  EXPECT_EQ(a_record(*m), ip("1.1.1.1"));
  server_->clear_client_upstreams(ip("10.99.0.3"));

  // Gone with its container: forwarded, so the upstream's NXDOMAIN.
  server_->remove_address(ip("10.99.0.2"));
  m = ask(c2_.get(), "c1", dns::type::kA);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rcode(), dns::Rcode::kNxDomain);
  m = ask(c2_.get(), "web", dns::type::kA);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(a_record(*m), ip("10.99.0.3"));
  EXPECT_GE(server_->stats().local, 4u);
  EXPECT_GE(server_->stats().forwarded, 3u);
}

TEST_F(DnsTest, TimeoutsBoundAndMalformed) {
  FakeUpstream up(host_.get(), 5353, ip("93.184.216.34"));
  start(/*max_forwards=*/1, /*timeout_ms=*/300);
  auto fd = netns::socket_in_netns(c1_.get(), AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  ASSERT_TRUE(fd);
  sockaddr_in sa = sockaddr_of(ip("10.99.0.1"), 53);
  // The path first: a fresh veth drops what is sent before its carrier is
  // up, and the two queries below must both arrive. A local name, asked
  // until answered (answered locally: no forward slot, no timeout counted).
  server_->add_name("ready", ip("10.99.0.2"));
  bool path = false;
  for (int i = 0; i < 20 && !path; i++) {
    auto q = query_bytes("ready", dns::type::kA, 100);
    ::sendto(fd->get(), q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    path = wait_answer(fd->get(), 100).has_value();
  }
  ASSERT_TRUE(path);
  while (wait_answer(fd->get(), 20)) {
  }   // a late answer to an earlier try, if any
  auto q1 = query_bytes("slow.example", dns::type::kA, 1);
  auto q2 = query_bytes("slow.example", dns::type::kA, 2);
  ::sendto(fd->get(), q1.data(), q1.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  ::sendto(fd->get(), q2.data(), q2.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  // The second finds the one forward slot taken: SERVFAIL at once. The
  // first times out at the only upstream: SERVFAIL too.
  auto a = wait_answer(fd->get());
  auto b = wait_answer(fd->get());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id, 2);
  EXPECT_EQ(a->rcode(), dns::Rcode::kServFail);
  EXPECT_EQ(b->id, 1);
  EXPECT_EQ(b->rcode(), dns::Rcode::kServFail);
  EXPECT_EQ(server_->stats().busy, 1u);
  EXPECT_EQ(server_->stats().timeouts, 1u);

  // Garbage with a header gets FORMERR; a scrap gets nothing.
  std::vector<uint8_t> junk = {0xab, 0xcd, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0};
  ::sendto(fd->get(), junk.data(), junk.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  auto f = wait_answer(fd->get());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, 0xabcd);
  EXPECT_EQ(f->rcode(), dns::Rcode::kFormErr);
  EXPECT_EQ(server_->stats().malformed, 1u);
}

TEST_F(DnsTest, NoUpstreamMeansNxdomainAndPortTaken) {
  netns::DnsServerOptions o;
  o.address = ip("10.99.0.1");
  o.netns_fd = host_.get();
  auto s = netns::DnsServer::start(*r_, o);
  ASSERT_TRUE(s);
  server_ = std::move(*s);
  auto m = ask(c1_.get(), "anything.example", dns::type::kA);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rcode(), dns::Rcode::kNxDomain);
  auto again = netns::DnsServer::start(*r_, o);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), "dns 10.99.0.1:53: bind: Address already in use");
}

}  // namespace
}  // namespace berth::test
