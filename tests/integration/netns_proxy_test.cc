// PortProxy on a reactor: loopback of the host side to a container of a
// bridge network, inside namespaces the test makes.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "netns/enter.h"
#include "netns/link.h"
#include "netns/proxy.h"
#include "tests/integration/netns_util.h"

namespace berth::test {
namespace {

using netns::Ip4;


bool write_all_fd(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= size_t(w);
  }
  return true;
}

std::string read_to_eof(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, size_t(n));
  return out;
}

class ProxyTest : public ::testing::Test {
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
    netns::Attachment a;
    a.netns_fd = c1_.get();
    a.host_name = "vethpx1";
    a.ip = ip("10.99.0.2");
    ASSERT_TRUE(net_->attach(std::span<const netns::Attachment>(&a, 1))[0]);
    r_ = std::move(*reactor::Reactor::create(256, 1));
  }
  void TearDown() override {
    for (auto& p : proxies_) {
      bool stopped = false;
      p->stop([&] { stopped = true; });
      for (int i = 0; i < 1000 && !stopped; i++) r_->run_once(10);
      EXPECT_TRUE(stopped);
      EXPECT_EQ(p->connections(), 0u);
    }
    proxies_.clear();
    if (net_) {
      EXPECT_TRUE(net_->destroy());
    }
  }
  Result<netns::PortProxy*> proxy(uint16_t port, uint16_t to_port = 80, unsigned max_conns = 1024,
                                  const char* to = "10.99.0.2") {
    netns::ProxyOptions o;
    o.host_ip = ip("127.0.0.1");
    o.host_port = port;
    o.container_ip = ip(to);
    o.container_port = to_port;
    o.netns_fd = host_.get();
    o.max_connections = max_conns;
    o.connect_timeout_ms = 2000;
    auto p = netns::PortProxy::start(*r_, o);
    if (!p) return std::move(p.error());
    proxies_.push_back(std::move(*p));
    return proxies_.back().get();
  }
  // Runs the reactor until `done` (bounded).
  template <class F>
  void spin(F done, int loops = 3000) {
    for (int i = 0; i < loops && !done(); i++) {
      r_->run_once(10);
      if (getenv("PXDEBUG") && i % 100 == 0 && !proxies_.empty()) {
        auto& st = proxies_[0]->stats();
        fprintf(stderr, "acc %lu in %lu out %lu conns %zu pending %u\n", (unsigned long)st.accepted, (unsigned long)st.bytes_in, (unsigned long)st.bytes_out, proxies_[0]->connections(), r_->pending());
      }
    }
  }

  unique_fd host_, c1_;
  std::unique_ptr<netns::BridgeNetwork> net_;
  std::unique_ptr<reactor::Reactor> r_;
  std::vector<std::unique_ptr<netns::PortProxy>> proxies_;
};

TEST_F(ProxyTest, CopiesBothWaysWithHalfClose) {
  ASSERT_TRUE(proxy(18080));
  unique_fd srv = tcp_listen(c1_.get(), ip("10.99.0.2"), 80);
  // The container echoes 16 MiB back while it reads, then says "bye" after
  // the client's EOF.
  std::atomic<bool> done{false};
  std::string client_got;
  size_t server_got = 0;
  std::vector<char> data(16 << 20);
  std::mt19937 rng(7);
  for (auto& c : data) c = char(rng());
  std::thread server([&] {
    unique_fd conn;
    if (tcp_accept_peer(srv.get(), 10000, &conn).empty()) return;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(conn.get(), buf, sizeof buf, 0)) > 0) {
      server_got += size_t(n);
      if (!write_all_fd(conn.get(), buf, size_t(n))) return;
    }
    write_all_fd(conn.get(), "bye", 3);
  });
  std::thread client([&] {
    unique_fd c = tcp_connect(host_.get(), ip("127.0.0.1"), 18080);
    if (c) {
      std::thread reader([&] { client_got = read_to_eof(c.get()); });
      write_all_fd(c.get(), data.data(), data.size());
      ::shutdown(c.get(), SHUT_WR);
      reader.join();
    }
    done = true;
  });
  spin([&] { return done.load(); });
  client.join();
  server.join();
  EXPECT_EQ(server_got, data.size());
  ASSERT_EQ(client_got.size(), data.size() + 3);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), client_got.begin()));
  EXPECT_EQ(client_got.substr(data.size()), "bye");
  spin([&] { return proxies_[0]->connections() == 0; });
  EXPECT_EQ(proxies_[0]->connections(), 0u);
  EXPECT_EQ(proxies_[0]->stats().closed, 1u);
  EXPECT_EQ(proxies_[0]->stats().bytes_in, data.size());
  EXPECT_EQ(proxies_[0]->stats().bytes_out, data.size() + 3);
}

TEST_F(ProxyTest, TakenPortAndUdpAreClearErrors) {
  ASSERT_TRUE(proxy(18080));
  auto again = proxy(18080);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), "bind 127.0.0.1:18080: Address already in use");
  netns::ProxyOptions o;
  o.proto = netns::Proto::kUdp;
  o.host_port = 53;
  o.container_port = 53;
  auto udp = netns::PortProxy::start(*r_, o);
  ASSERT_FALSE(udp);
  EXPECT_EQ(udp.error().code(), Code::kNotSupported);
  EXPECT_EQ(udp.error().message(),
            "proxy udp 0.0.0.0:53: not supported (published UDP ports are served by NAT only)");
}

TEST_F(ProxyTest, RefusedAndResetCloseBothSides) {
  ASSERT_TRUE(proxy(18081, 81));  // nothing listens on the container's 81
  std::atomic<bool> done{false};
  std::string got = "x";
  std::thread client([&] {
    unique_fd c = tcp_connect(host_.get(), ip("127.0.0.1"), 18081);
    if (c) got = read_to_eof(c.get());
    done = true;
  });
  spin([&] { return done.load(); });
  client.join();
  EXPECT_EQ(got, "");
  EXPECT_EQ(proxies_[0]->stats().connect_failed, 1u);

  // The container resets mid-way: the client's side is closed too.
  ASSERT_TRUE(proxy(18080));
  unique_fd srv = tcp_listen(c1_.get(), ip("10.99.0.2"), 80);
  done = false;
  std::thread server([&] {
    unique_fd conn;
    if (tcp_accept_peer(srv.get(), 10000, &conn).empty()) return;
    char buf[16];
    (void)::recv(conn.get(), buf, sizeof buf, 0);
    linger l{1, 0};  // close with RST
    ::setsockopt(conn.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  });
  std::thread client2([&] {
    unique_fd c = tcp_connect(host_.get(), ip("127.0.0.1"), 18080);
    if (c) {
      write_all_fd(c.get(), "ping", 4);
      got = read_to_eof(c.get());
    }
    done = true;
  });
  spin([&] { return done.load(); });
  client2.join();
  server.join();
  EXPECT_EQ(got, "");
  spin([&] { return proxies_[1]->connections() == 0; });
  EXPECT_EQ(proxies_[1]->connections(), 0u);
  EXPECT_EQ(proxies_[1]->stats().aborted, 1u);
}

TEST_F(ProxyTest, ConnectionsAreBounded) {
  ASSERT_TRUE(proxy(18080, 80, 2));
  unique_fd srv = tcp_listen(c1_.get(), ip("10.99.0.2"), 80);
  std::vector<unique_fd> clients;
  for (int i = 0; i < 3; i++) clients.push_back(tcp_connect(host_.get(), ip("127.0.0.1"), 18080));
  std::vector<unique_fd> conns(3);
  for (int i = 0; i < 2; i++) {
    std::string peer;
    spin([&] { return !(peer = tcp_accept_peer(srv.get(), 0, &conns[i])).empty(); });
    EXPECT_EQ(peer, "10.99.0.1");
  }
  spin([&] { return proxies_[0]->stats().paused == 1; }, 100);
  EXPECT_EQ(proxies_[0]->connections(), 2u);
  EXPECT_EQ(proxies_[0]->stats().accepted, 2u);
  // The third waits in the backlog until one ends (both of its sides). The
  // server may accept the two in either order: a byte from the first client
  // says which accepted socket is its other end.
  ASSERT_EQ(::send(clients[0].get(), "x", 1, MSG_NOSIGNAL), 1);
  int pair = -1;
  spin([&] {
    char b;
    for (int i = 0; i < 2; i++)
      if (::recv(conns[i].get(), &b, 1, MSG_DONTWAIT) == 1) pair = i;
    return pair >= 0;
  });
  ASSERT_GE(pair, 0);
  clients[0].reset();
  conns[pair].reset();
  std::string peer;
  spin([&] { return !(peer = tcp_accept_peer(srv.get(), 0, &conns[2])).empty(); });
  EXPECT_EQ(peer, "10.99.0.1") << proxies_[0]->describe();
  EXPECT_EQ(proxies_[0]->stats().accepted, 3u);
}

}  // namespace
}  // namespace berth::test
