// Nat: berth's own nftables table (libnftables): outbound masquerade,
// isolation between networks, and published ports as DNAT.
//
// berth only ever touches its own table, "ip <name>" (default "berth"):
// created at daemon start (a leftover of a crash is replaced in the same
// transaction, so there is no moment without rules), deleted at shutdown.
// Everything that changes per network or per container is a set or map
// element, so starting or removing a container adds or deletes elements and
// never rewrites the ruleset:
//
//   table ip berth {
//     set bridges   { type ifname }          # root bridges; each element's
//                                             # comment holds its network
//     set internal  { type ifname }          # bridges of internal networks
//     set same      { type ifname . ifname }  # (b, b) for each bridge
//     set nets      { type ipv4_addr; flags interval }  # every subnet
//     set masq_nets { type ipv4_addr; flags interval }  # non-internal ones
//     set gateways  { type ipv4_addr }       # where the DNS responders are
//     set leaves    { type ifname; flags interval }  # "bl<tag>.*": every leaf
//                                             # bridge of a network (link.h)
//     map pub_ip    { inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service }
//     map pub_any   { inet_proto . inet_service : ipv4_addr . inet_service }
//     chain raw         (filter, raw): drop what comes in on a berth
//                       bridge for 127.0.0.0/8 (the guard that makes
//                       route_localnet safe, below); no connection tracking
//                       for what a leaf bridge switches (br_netfilter runs
//                       the IPv4 hooks at every bridge; the root's pass is
//                       the one that routes, so it alone tracks and NATs)
//     chain prerouting  (nat, dstnat): DNAT by pub_ip, then by pub_any for
//                       local destinations; gateway:53 is never DNATed
//     chain output      (nat, -100): the same for the host's own traffic;
//                       without loopback_dnat, not for 127.0.0.0/8 (the
//                       reactor's proxy serves loopback then)
//     chain postrouting (nat, srcnat): with loopback_dnat, masquerade what
//                       leaves a bridge from 127.0.0.0/8; masquerade what
//                       leaves masq_nets for a non-berth interface, and
//                       DNATed traffic from a container to a container
//                       (hairpin: the reply must come back through the host)
//     chain forward     (filter): same bridge -> accept; in or out of an
//                       internal bridge -> drop; DNATed -> accept
//                       (published ports are public, also to containers of
//                       other networks); bridge to other bridge -> drop
//   }
//
// A port range maps one to one (host 8000-8010 -> container 80-90) and is
// expanded to one element per port. UDP and TCP alike.
//
// Sysctls: net.ipv4.ip_forward=1 in the namespace holding the bridges (per
// namespace; berthd's own, normally the host's), needed to route the
// containers' traffic out and published ports in; set by create() when
// NatOptions::enable_ip_forward.
//
// Loopback (NatOptions::loopback_dnat): the host's own connections to
// 127.0.0.1:<published port> are DNATed in the kernel like any other, as
// Podman's netavark does and Docker with --userland-proxy=false: no proxy
// in the path, no second TCP connection. Such a packet leaves through a
// bridge with source 127.0.0.1 (masqueraded to the gateway) and its replies
// come back to 127.0.0.1, which the kernel allows only on an interface with
// net.ipv4.conf.<bridge>.route_localnet=1: add_network() sets it on the
// root bridge (and sets it to 0 without loopback_dnat), remove_network()
// and destroy() set it back to 0. route_localnet alone would let a
// container reach the host's 127.0.0.1 services by sending to 127.0.0.1
// through its gateway (CVE-2020-8558): the raw chain drops every packet
// that comes in on a berth bridge for 127.0.0.0/8, in both modes. Replies
// pass it: at the raw hook they are still addressed to the gateway.
// Another firewall whose forward chain drops by default (iptables' FORWARD
// policy DROP, as Docker sets it) still drops berth's traffic: berth never
// edits other tables; such hosts must allow the bridges there.
//
// Threads: every method BLOCKS on netlink (one nftables transaction each,
// about 0.2-0.3 ms here with 1,000 ports published: NatTest.UpdateCost):
// job-pool threads only. A Nat
// serialises its methods with a mutex. With a netns_fd, each call moves the
// calling thread into that namespace for its duration (enter.h).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "netns/subnet.h"

struct nft_ctx;

namespace berth::netns {

struct NatOptions {
  std::string table = "berth";  // [A-Za-z][A-Za-z0-9_]*, at most 31 characters
  int netns_fd = -1;            // the namespace holding the bridges (-1: the caller's)
  bool enable_ip_forward = true;
  bool loopback_dnat = false;   // see "Loopback" above
};

struct NatNetwork {
  std::string bridge;  // the network's root bridge
  Subnet subnet;
  Ip4 gateway;
  bool internal = false;  // no masquerade, nothing in or out of the bridge
  bool operator==(const NatNetwork&) const = default;
};

enum class Proto { kTcp, kUdp };
const char* proto_name(Proto p);  // "tcp", "udp"

struct PortMapping {
  Proto proto = Proto::kTcp;
  std::optional<Ip4> host_ip;  // none: every local address (Docker's 0.0.0.0)
  uint16_t host_port = 0;
  uint16_t host_port_last = 0;  // 0 or host_port: one port; else a range
  Ip4 container_ip;
  uint16_t container_port = 0;  // the first one, for a range
  bool operator==(const PortMapping&) const = default;
};
// "tcp 0.0.0.0:8080 -> 10.88.0.2:80", for errors and logs.
std::string to_string(const PortMapping& m);

struct NatListing {
  std::vector<NatNetwork> networks;
  std::vector<PortMapping> ports;  // one per port (ranges come back expanded)
};

class Nat {
 public:
  // Creates (or replaces) the table and, if asked, sets ip_forward.
  static Result<std::unique_ptr<Nat>> create(const NatOptions& o);
  ~Nat();
  Nat(const Nat&) = delete;
  Nat& operator=(const Nat&) = delete;

  // Deletes the table (a missing one is fine).
  Result<void> destroy();

  // Errors: "add network berth1: File exists" if its bridge is there.
  Result<void> add_network(const NatNetwork& n);
  Result<void> remove_network(const NatNetwork& n);
  // All in one transaction: all or none. A host port already published
  // (same proto, host ip and port) is "publish tcp 0.0.0.0:8080 -> ...:
  // File exists"; mappings are checked first ("publish tcp ...: host port
  // range 8000-8010 and container port 80 give a container port past 65535").
  Result<void> add_ports(std::span<const PortMapping> ports);
  // Removing mappings that are not there is not an error.
  Result<void> remove_ports(std::span<const PortMapping> ports);
  // What the table holds (for reconciliation after a crash).
  Result<NatListing> list();

  const std::string& table() const { return opts_.table; }

 private:
  explicit Nat(const NatOptions& o) : opts_(o) {}
  // Runs one nftables script (one transaction): its output, or an error
  // with nft's message ("nftables table berth: File exists").
  Result<std::string> run(const std::string& script);

  NatOptions opts_;
  std::mutex mu_;
  nft_ctx* ctx_ = nullptr;
};

}  // namespace berth::netns
