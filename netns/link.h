// Links of a bridge network, made with route netlink (libnl): the bridges,
// the containers' veth pairs, their addresses, routes and neighbours, and
// the interface counters for stats.
//
// Topology (see ports.h): a root bridge (the network's name for it, e.g.
// "berth0") carries the gateway address and a fixed MAC (02:42 + gateway
// address, so it never changes as ports come and go); it takes the first
// `ports_per_bridge` containers. More containers go on leaf bridges
// "bl<tag>.<n>", each joined to the root by a veth pair "bd<tag>.<n>" (on the
// root) / "bu<tag>.<n>" (on the leaf), where <tag> is 6 hex digits derived
// from the root's name. Leaves are made on demand and deleted when empty.
// The gateway's MAC is pinned (static, sticky) on each leaf's uplink port.
//
// Leaves only switch; the root routes. With br_netfilter a frame bridged by
// a leaf goes through the IPv4 netfilter hooks too, and conntrack would
// make its NAT decision there, at the first bridge, before the packet is
// routed (a masquerade chosen on a leaf takes the gateway's own address as
// source, and the root then drops the packet as a martian). berth's nft
// table therefore skips connection tracking for what enters a leaf
// (leaf_pattern(): raw prerouting "iifname bl<tag>.* notrack"), and every
// packet is tracked and NATed once, at the root, as for containers there.
//
// A container's link is a veth pair whose container end is created
// DIRECTLY inside the container's network namespace (IFLA_NET_NS_FD in the
// RTM_NEWLINK request; moving a link afterwards costs an RCU barrier per
// container), named eth0 (or eth1...), MAC 02:42:<ip>, up; the host end,
// named veth_name(container id, n), is enslaved to a bridge with free ports,
// in hairpin mode if that bridge is the root, and up. Hairpin mode (as Kubernetes' kubelet and Docker
// without its userland proxy set it) lets a frame leave by the port it came
// in: with br_netfilter (bridge-nf-call-iptables=1, the default wherever
// the module is loaded or built in), a container's packet to its own
// published port is DNATed at the bridge and sent back out its own port. Inside the container: the address, lo up, the default route via
// the gateway. Both ends get no IPv6 link-local address (addr_gen_mode
// none, set before they go up), and the host end no IPv6 at all
// (disable_ipv6): an IPv4 network then has no DAD, router solicitation or
// MLD traffic, which at 10,000 ports would fill the bridges' multicast
// tables, and the host's IPv6 table no ff00::/8 route per port (every
// link's removal walks that table: quadratic at 10,000 ports).
//
// Neighbour tables: gc_thresh1/2/3 (default 128/512/1024) are NOT per
// network namespace: they exist only in the initial namespace's
// /proc/sys/net/ipv4/neigh/default and bound the ARP table of every
// namespace together. A network of N busy containers needs N entries on the
// host side plus one per container for its gateway, so past ~1,000
// containers the kernel starts dropping with "neighbour table overflow".
// berth avoids that without touching the global limits: both entries are
// created PERMANENT from the start (container ip -> 02:42:ip on the root
// bridge; gateway -> root MAC in the container), and permanent entries are
// exempt from the gc thresholds (Linux >= 4.19, neigh_add). Only
// container-to-container ARP uses the table. raise_neighbour_limits() is
// there for hosts that need more of that.
//
// Batching: attach() and detach() take many containers at once. attach()
// creates every veth of the batch with one sendmsg per 64 requests, then
// configures them with one more batch on the host side and one sendmsg per
// container inside its namespace. detach() deletes veths as one group:
// RTM_SETLINK IFLA_GROUP on each, then one RTM_DELLINK by group, which the
// kernel unregisters with one RCU synchronisation for all (deleting 500
// veths one by one took 8.9 s here, as one group 0.21 s).
//
// Costs here (berth-bench-links; bench/RESULTS.md): a veth made and
// configured in 0.6-1.5 ms whether batched or not (the kernel's own work
// dominates: two netdevs, sysfs, the bridge port); removed in 0.5-0.8 ms
// in groups of 100 against about 20 ms one by one. 10,000 veths on one
// network work (one root and nine leaves); the average per veth then rises
// to about 2.4 ms, mostly the kernel's linear search of namespace ids
// (peernet2id: idr_for_each, for every link message about a veth whose
// peer is in another namespace). Two quadratic costs were found on the way
// and removed: a /proc/sys write per container namespace (a /proc/sys/net
// lookup compares one dentry per namespace of the host) and IPv6 on the
// host ends (an ff00::/8 route per port, and each removal walks them all).
//
// Threads: every function and method here BLOCKS on netlink (and rtnl_lock):
// job-pool threads only. A BridgeNetwork serialises its own methods with a
// mutex, so jobs of one network may run on several workers. Functions that
// take a netns_fd briefly move the calling thread into that namespace (see
// enter.h). The caller keeps the netns fds open for the call.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "netns/nl.h"
#include "netns/ports.h"
#include "netns/subnet.h"

namespace berth::netns {

// The interface-name wildcard ("bl<tag>.*") matching every leaf bridge of
// the network whose root bridge is `root`, for nftables.
std::string leaf_pattern(const std::string& root);

struct BridgeOptions {
  std::string name;                 // root bridge, 1..15 characters
  Cidr gateway;                     // the gateway address and the subnet's prefix
  unsigned mtu = 1500;              // bridges and veths
  unsigned ports_per_bridge = 1000; // see ports.h
  int netns_fd = -1;                // where the bridges live (-1: the calling thread's)
};

struct Attachment {
  int netns_fd = -1;        // the container's network namespace (required)
  std::string host_name;    // host end, veth_name(container_id, index)
  std::string ifname = "eth0";
  Ip4 ip;                   // in the network's subnet, from its Ipam
  bool default_route = true;  // false for a second network (eth1)
  bool disable_ipv6 = true; // no IPv6 link-local address on the container end
};

struct Attached {
  std::string bridge;       // where the host end is enslaved
  int host_ifindex = 0;
  int container_ifindex = 0;
  Mac mac{};
};

struct Detachment {
  std::string host_name;
  Ip4 ip;                   // its permanent neighbour entry goes too
};

struct TopologyEntry {
  std::string bridge;
  unsigned ports = 0;       // container ports (uplinks not counted)
};

struct ReconcileReport {
  std::vector<std::string> removed_veths;
  std::vector<Ip4> removed_neighbours;
  std::vector<std::string> removed_leaves;
};

class BridgeNetwork {
 public:
  // Makes the root bridge if missing (MAC 02:42:<gateway>, MTU, the gateway
  // address, up), or takes the existing one: it must be a bridge ("bridge
  // berth0: exists and is a veth, not a bridge"); its address is added if
  // missing. Counts the ports already on it and its leaves (a restart).
  static Result<std::unique_ptr<BridgeNetwork>> open(const BridgeOptions& o);
  ~BridgeNetwork();
  BridgeNetwork(const BridgeNetwork&) = delete;
  BridgeNetwork& operator=(const BridgeNetwork&) = delete;

  // One result per attachment, in order. A failed one leaves nothing behind
  // (its veth is deleted). Errors name the link: "create veth vethab12:
  // File exists", "network is full: ...".
  std::vector<Result<Attached>> attach(std::span<const Attachment> reqs);
  // Deletes the host ends (their container ends go with them), the
  // permanent neighbour entries of their addresses, and leaves that become
  // empty. A veth already gone (its namespace died) is not an error.
  Result<void> detach(std::span<const Detachment> reqs);
  // After a crash: deletes veths on this network's bridges whose name is
  // not in `keep_veths`, permanent neighbour entries on the root whose
  // address is not in `keep_ips`, and empty leaves.
  Result<ReconcileReport> reconcile(std::span<const std::string> keep_veths, std::span<const Ip4> keep_ips);
  // Deletes every veth on the network's bridges, the leaves, their uplinks
  // and the root bridge. The object is unusable afterwards.
  Result<void> destroy();

  std::vector<TopologyEntry> topology() const;
  // Whether a veth of that host-end name is on one of the bridges (as
  // counted at open or attached since).
  bool has_port(const std::string& host_name) const;
  const std::string& name() const { return opts_.name; }
  const Mac& gateway_mac() const { return root_mac_; }

 private:
  explicit BridgeNetwork(const BridgeOptions& o);
  Result<void> create_or_adopt_root();
  Result<void> count_ports();
  Result<int> bridge_ifindex(unsigned bridge);
  Result<void> make_leaf(unsigned leaf);
  Result<void> make_uplink(unsigned leaf);
  Result<void> pin_gateway(unsigned leaf);
  std::string bridge_name(unsigned bridge) const;
  // Deletes links by name as one group (one unregister batch); links
  // already gone are not an error.
  Result<void> delete_group(const std::vector<std::string>& names, const char* what) {
    return delete_group(sock_, names, what);
  }
  static Result<void> delete_group(nl::Socket& sock, const std::vector<std::string>& names, const char* what);

  void disable_ipv6(const std::string& link);

  BridgeOptions opts_;
  std::string tag_;
  // /proc/sys/net/ipv6/conf of the bridges' namespace, opened once: a
  // lookup from /proc/sys walks one "net" dentry per namespace of the host
  // (thousands with containers), one from here does not.
  unique_fd ipv6_conf_;
  mutable std::mutex mu_;
  nl::Socket sock_;         // bound in opts_.netns_fd
  // detach() deletes containers' veths on a socket of its own and outside
  // mu_: an unregister waits for RCU grace periods (about 20 ms for one
  // veth here), and an attach of the next container must not wait behind
  // it. del_mu_ serialises the deletions themselves.
  std::mutex del_mu_;
  nl::Socket del_sock_;
  int root_ifindex_ = 0;
  Mac root_mac_{};
  PortPlan plan_;
  std::vector<int> leaf_ifindex_;  // by leaf number; 0 = none
  std::unordered_map<std::string, unsigned> port_of_;  // host end -> bridge number
  bool destroyed_ = false;

  friend struct AttachRun;
};

// "veth" + the first 10 characters of the container id + the interface
// index in hex: "vethab12cd34ef0" (15 characters, IFNAMSIZ - 1).
std::string veth_name(std::string_view container_id, unsigned index);

// Deletes a bridge or any link by name in `netns_fd`; ENODEV is kNotFound.
Result<void> delete_link(std::string_view name, int netns_fd = -1);

struct InterfaceStats {
  std::string name;
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};
// Counters of every interface of a container's namespace but lo, as the
// container sees them (Docker's stats "networks"). One netlink dump.
Result<std::vector<InterfaceStats>> interface_stats(int container_netns_fd);
// The same counters read from the host ends in `host_netns_fd`, with rx and
// tx swapped so they read as the container's: each asked for by name when
// they are few, else one dump for every container of the host. Names not
// found are left out.
Result<std::vector<InterfaceStats>> host_side_stats(std::span<const std::string> host_names, int host_netns_fd = -1);

// The global neighbour-table thresholds (initial namespace only; see above).
struct NeighbourLimits {
  long gc_thresh1 = 0, gc_thresh2 = 0, gc_thresh3 = 0;
};
Result<NeighbourLimits> read_neighbour_limits();
// Raises (never lowers) gc_thresh3 to `entries`, gc_thresh2 to 3/4 and
// gc_thresh1 to 1/4 of it. Host-wide: meant for berthd at start, not tests.
Result<NeighbourLimits> raise_neighbour_limits(long entries);

}  // namespace berth::netns
