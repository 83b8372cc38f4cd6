// berth-bench-proxy: throughput through netns/'s PortProxy (splice on the
// reactor) against a direct TCP connection, inside network namespaces the
// program makes (root). One client streams N MiB to a server that counts
// them; the same transfer goes direct and through the proxy, alternating,
// R rounds. By default the server is a "container" (its own namespace on a
// BridgeNetwork): direct is host -> container address, proxied is host ->
// 127.0.0.1:port -> proxy -> container, which is what a published port's
// loopback user sees. --loopback puts the server on the host's loopback
// instead (direct: one loopback hop; proxied: two).
//
//   build/bin/berth-bench-proxy [--mib N] [--rounds R] [--pipe BYTES] [--loopback] [--proxy-only|--direct-only] [--kernel]
//
// (--proxy-only and --direct-only run one kind, for profiling.) --kernel
// measures berthd's default loopback path instead of the proxy: nftables
// DNAT of 127.0.0.1:port with route_localnet (netns/nat.h, "Loopback").
//
// Prints MiB/s and the CPU seconds per GiB of the whole process (client,
// server, proxy and its io-wq workers) of each round, and the ratio of the
// medians (proxy / direct).
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"
#include "netns/enter.h"
#include "netns/link.h"
#include "netns/nat.h"
#include "netns/proxy.h"

using namespace berth;

namespace {

constexpr uint16_t kServerPort = 19000, kProxyPort = 19001;

sockaddr_in addr(uint32_t ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(ip);
  return a;
}

unique_fd make_netns() {
  unique_fd ns;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) == 0) ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
  return ns;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Accepts connections and reads each to EOF, then closes it.
void serve(int lfd, std::atomic<bool>* stop) {
  std::vector<char> buf(1 << 20);
  while (!*stop) {
    int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    while (::recv(c, buf.data(), buf.size(), 0) > 0) {
    }
    ::close(c);
  }
}

// Streams `bytes` to `to`, half-closes, waits for the server's close.
// *cpu_per_gib: CPU seconds of the whole process per GiB.
double transfer_mib_s(int netns_fd, sockaddr_in to, size_t bytes, double* cpu_per_gib) {
  auto fd = netns::socket_in_netns(netns_fd, AF_INET, SOCK_STREAM, 0);
  if (!fd || ::connect(fd->get(), reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return 0;
  std::vector<char> buf(1 << 20, 'b');
  double cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  size_t left = bytes;
  while (left) {
    ssize_t n = ::send(fd->get(), buf.data(), std::min(left, buf.size()), MSG_NOSIGNAL);
    if (n <= 0) return 0;
    left -= size_t(n);
  }
  ::shutdown(fd->get(), SHUT_WR);
  char c;
  (void)::recv(fd->get(), &c, 1, 0);  // 0 once the server has read everything and closed
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  *cpu_per_gib = (cpu_seconds() - cpu0) / (double(bytes) / (1 << 30));
  return double(bytes) / (1 << 20) / s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Setup {
  unique_fd host, box;
  std::unique_ptr<netns::BridgeNetwork> net;
  uint32_t server_ip = INADDR_LOOPBACK;
  unique_fd listener;
};

Result<void> set_up(Setup& s, bool on_loopback) {
  s.host = make_netns();
  if (!s.host) return Error::sys(errno, "unshare (run as root)");
  BERTH_TRY_VOID(netns::in_netns(s.host.get(), [] {
    return std::system("ip link set lo up") == 0 ? ok() : Result<void>(Error::make(Code::kSystem, "lo up"));
  }));
  if (!on_loopback) {
    netns::BridgeOptions bo;
    bo.name = "bb0";
    bo.gateway = netns::Cidr{*netns::parse_ip4("10.77.0.1"), 16};
    bo.netns_fd = s.host.get();
    s.net = BERTH_TRY(netns::BridgeNetwork::open(bo));
    s.box = make_netns();
    netns::Attachment a;
    a.netns_fd = s.box.get();
    a.host_name = "vethbench0";
    a.ip = *netns::parse_ip4("10.77.0.2");
    auto r = s.net->attach(std::span<const netns::Attachment>(&a, 1));
    if (!r[0]) return std::move(r[0].error());
    s.server_ip = a.ip.value;
  }
  s.listener = BERTH_TRY(netns::in_netns(on_loopback ? s.host.get() : s.box.get(), [&]() -> Result<unique_fd> {
    unique_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = addr(s.server_ip, kServerPort);
    if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(l.get(), 16) < 0)
      return Error::sys(errno, "listen");
    return l;
  }));
  return ok();
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 2048;
  int rounds = 5;
  unsigned pipe_bytes = 1 << 20;
  bool on_loopback = false;
  bool do_direct = true, do_proxy = true, kernel = false;
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--mib") && i + 1 < argc) mib = size_t(std::atol(argv[++i]));
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--pipe") && i + 1 < argc) pipe_bytes = unsigned(std::atol(argv[++i]));
    else if (!std::strcmp(argv[i], "--loopback")) on_loopback = true;
    else if (!std::strcmp(argv[i], "--proxy-only")) do_direct = false;
    else if (!std::strcmp(argv[i], "--direct-only")) do_proxy = false;
    else if (!std::strcmp(argv[i], "--kernel")) kernel = true;
    else {
      std::fprintf(stderr, "usage: %s [--mib N] [--rounds R] [--pipe BYTES] [--loopback] [--proxy-only|--direct-only] [--kernel]\n", argv[0]);
      return 2;
    }
  }
  Setup s;
  if (auto r = set_up(s, on_loopback); !r) {
    std::fprintf(stderr, "%s\n", r.error().message().c_str());
    return r.error().sys_errno() == EPERM ? 77 : 1;
  }
  std::atomic<bool> stop{false};
  std::thread server(serve, s.listener.get(), &stop);

  auto r = reactor::Reactor::create(256, 1);
  if (!r) return 1;
  netns::ProxyOptions o;
  o.host_ip = *netns::parse_ip4("127.0.0.1");
  o.host_port = kProxyPort;
  o.container_ip = netns::Ip4{s.server_ip};
  o.container_port = kServerPort;
  o.netns_fd = s.host.get();
  o.pipe_bytes = pipe_bytes;
  Result<std::unique_ptr<netns::PortProxy>> proxy = std::unique_ptr<netns::PortProxy>();
  std::unique_ptr<netns::Nat> nat;
  if (kernel) {
    if (on_loopback) {
      std::fprintf(stderr, "--kernel needs the server in a container (no --loopback)\n");
      return 2;
    }
    auto n = netns::Nat::create({.table = "berthbench", .netns_fd = s.host.get(), .loopback_dnat = true});
    netns::PortMapping m;
    m.host_ip = *netns::parse_ip4("127.0.0.1");
    m.host_port = kProxyPort;
    m.container_ip = netns::Ip4{s.server_ip};
    m.container_port = kServerPort;
    Result<void> added = n ? (*n)->add_network({"bb0", netns::Cidr{*netns::parse_ip4("10.77.0.1"), 16}.subnet(),
                                                *netns::parse_ip4("10.77.0.1"), false})
                           : Result<void>(n.error());
    if (added) added = (*n)->add_ports(std::span<const netns::PortMapping>(&m, 1));
    if (!added) {
      std::fprintf(stderr, "%s\n", added.error().message().c_str());
      return 1;
    }
    nat = std::move(*n);
  } else {
    proxy = netns::PortProxy::start(**r, o);
    if (!proxy) {
      std::fprintf(stderr, "%s\n", proxy.error().message().c_str());
      return 1;
    }
  }
  // The proxy's reactor runs on this thread; transfers run on another.
  std::vector<double> direct, proxied, direct_cpu, proxied_cpu;
  std::atomic<bool> done{false};
  std::thread client([&] {
    size_t bytes = mib << 20;
    for (int i = 0; i < rounds; i++) {
      double dc = 0, pc = 0;
      direct.push_back(do_direct ? transfer_mib_s(s.host.get(), addr(s.server_ip, kServerPort), bytes, &dc) : 0);
      proxied.push_back(do_proxy ? transfer_mib_s(s.host.get(), addr(INADDR_LOOPBACK, kProxyPort), bytes, &pc) : 0);
      direct_cpu.push_back(dc);
      proxied_cpu.push_back(pc);
      std::printf("round %d: direct %6.0f MiB/s (%.2f CPU s/GiB)  %s %6.0f MiB/s (%.2f CPU s/GiB)\n", i + 1,
                  direct.back(), dc, kernel ? "kernel NAT" : "proxy", proxied.back(), pc);
      std::fflush(stdout);
    }
    done = true;
  });
  while (!done) (*r)->run_once(50);
  client.join();
  if (*proxy) {
    bool stopped = false;
    (*proxy)->stop([&] { stopped = true; });
    while (!stopped) (*r)->run_once(50);
    proxy->reset();
  }
  if (nat) (void)nat->destroy();
  stop = true;
  ::shutdown(s.listener.get(), SHUT_RDWR);
  server.join();
  if (s.net) (void)s.net->destroy();
  double d = median(direct), p = median(proxied);
  const char* via = kernel ? "kernel NAT" : "proxy";
  std::printf("%s: %zu MiB x %d rounds, pipe %u bytes: median direct %.0f MiB/s, %s %.0f MiB/s, ratio %.2f; "
              "CPU s/GiB direct %.2f, %s %.2f\n",
              on_loopback ? "loopback server" : "container server", mib, rounds, pipe_bytes, d, via, p, d > 0 ? p / d : 0,
              median(direct_cpu), via, median(proxied_cpu));
  return 0;
}
