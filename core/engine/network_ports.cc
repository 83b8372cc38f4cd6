// Published ports at a start: each host port bound on the reactor before
// anything else is made (a TCP port by its loopback proxy, a UDP port by a
// socket held for the container's life), so a port taken by another
// program or container fails the start at once, with the bind's error and
// nothing left half-set; the DNAT elements follow in the start's job.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "core/engine/engine.h"
#include "core/engine/network_internal.h"

namespace berth::engine {

namespace {

// A UDP port held (not read: routed datagrams are DNATed before they
// would reach it). Port 0: an ephemeral one, returned in *port.
Result<unique_fd> hold_udp(netns::Ip4 ip, uint16_t* port) {
  unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::sys(errno, "socket");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(*port);
  sa.sin_addr = netns::to_in_addr(ip);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return Error::sys(errno, "bind {}:{}", netns::to_string(ip), *port);
  socklen_t len = sizeof sa;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) < 0) return Error::sys(errno, "getsockname");
  *port = ntohs(sa.sin_port);
  return fd;
}

}  // namespace

// What the container publishes: its PortBindings, and with -P every
// exposed port not bound there, on an ephemeral host port.
static std::vector<PortSpec> wanted_ports(const NetworkSpec& net) {
  std::vector<PortSpec> out = net.ports;
  if (!net.publish_all) return out;
  for (const auto& key : net.exposed) {
    auto k = parse_port_key(key);
    if (!k) continue;
    bool bound = std::any_of(out.begin(), out.end(),
                             [&](const PortSpec& p) { return p.container_port == k->port && p.proto == k->proto; });
    if (!bound) out.push_back({k->port, k->proto, "", 0, 0});
  }
  return out;
}

Result<void> NetworkService::bind_ports(const Container& c, Running& run) {
  std::vector<PortSpec> want = wanted_ports(c.spec.net);
  if (want.empty()) return ok();
  netns::Ip4 target = run.endpoints[0].ip;
  for (const PortSpec& spec : want) {
    Published p;
    p.m.proto = spec.proto == "udp" ? netns::Proto::kUdp : netns::Proto::kTcp;
    netns::Ip4 host_ip{0};
    if (!spec.host_ip.empty()) host_ip = *netns::parse_ip4(spec.host_ip);
    if (host_ip.value) p.m.host_ip = host_ip;
    p.m.container_ip = target;
    p.m.container_port = spec.container_port;
    // A range gives the first free port of it; 0 an ephemeral one.
    uint16_t first = spec.host_first, last = spec.host_first ? std::max(spec.host_last, spec.host_first) : 0;
    Result<void> bound = Error(Code::kSystem, "no port");
    for (uint32_t port = first; port <= last; port++) {
      p.m.host_port = uint16_t(port);
      bound = bind_port(p.m, &p);
      if (bound || bound.error().sys_errno() != EADDRINUSE) break;
    }
    if (!bound) {
      std::string where = fmt::format("{}:{}", spec.host_ip.empty() ? "0.0.0.0" : spec.host_ip,
                                      first == last ? std::to_string(first) : fmt::format("{}-{}", first, last));
      // The ports bound before this one are in run.ports: stopped() undoes them.
      return std::move(bound.error())
          .context("publish {} {} -> {}: port is already allocated or unavailable", spec.proto, where,
                   port_key(spec.container_port, spec.proto));
    }
    run.ports.push_back(std::move(p));
  }
  return ok();
}

// The host side of one published port, on m.host_port (0: an ephemeral
// one): the loopback proxy of a TCP port, the held socket of a UDP one.
// Sets p->m.host_port to the port bound.
Result<void> NetworkService::bind_port(const netns::PortMapping& m, Published* p) {
  netns::Ip4 host_ip = m.host_ip ? *m.host_ip : netns::Ip4{0};
  if (m.proto == netns::Proto::kTcp) {
    netns::ProxyOptions o;
    o.host_ip = host_ip;
    o.host_port = m.host_port;
    o.container_ip = m.container_ip;
    o.container_port = m.container_port;
    auto proxy = BERTH_TRY(netns::PortProxy::start(e_.r_, o));
    p->m.host_port = proxy->options().host_port;
    p->proxy = std::move(proxy);
    return ok();
  }
  uint16_t got = m.host_port;
  p->udp = BERTH_TRY(hold_udp(host_ip, &got));
  p->m.host_port = got;
  return ok();
}

void NetworkService::stop_proxy(std::unique_ptr<netns::PortProxy> p) {
  netns::PortProxy* raw = p.get();
  stopping_proxies_.push_back(std::move(p));
  raw->stop([this, raw, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    stopping_proxies_.remove_if([raw](const auto& q) { return q.get() == raw; });
    settle();
  });
}

}  // namespace berth::engine
