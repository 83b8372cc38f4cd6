// Route-netlink requests and dumps used by link.cc (internal to netns/).
//
// The builders return requests for nl::Batch; they never touch the kernel.
// The dumps BLOCK (job-pool threads, like everything in link.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "netns/nl.h"
#include "netns/subnet.h"

namespace berth::netns::msg {

// RTM_NEWLINK kind=bridge; `mac` may be null (kernel's random one).
nl::Msg new_bridge(const std::string& name, const Mac* mac, unsigned mtu);
// RTM_NEWLINK kind=veth: `host` (down, enslaved to `master_ifindex` if > 0)
// with its peer `peer` created in `peer_netns_fd` (or beside it if < 0),
// down, with `peer_mac` (may be null) and the same MTU.
nl::Msg new_veth(const std::string& host, int master_ifindex, unsigned mtu, const std::string& peer,
                 const Mac* peer_mac, int peer_netns_fd);
// RTM_SETLINK by name or index: IPv6 address generation off (before up).
nl::Msg no_ipv6_linklocal(const std::string& name);
// RTM_SETLINK: IFF_UP on (or off) by name (ifindex 0) or index.
nl::Msg set_up(const std::string& name, int ifindex = 0, bool up = true);
nl::Msg set_master(const std::string& name, int master_ifindex);
// RTM_NEWLINK on an existing bridge port by name: hairpin mode on (frames
// may leave by the port they came in: a container reaching its own
// published port when br_netfilter bridges the DNATed packet).
nl::Msg set_hairpin(const std::string& name, bool on = true);
nl::Msg set_mtu(const std::string& name, unsigned mtu);
nl::Msg set_group(const std::string& name, uint32_t group);
// RTM_GETLINK by name (the reply is an RTM_NEWLINK; parse with parse_link).
nl::Msg get_link(const std::string& name);
// RTM_DELLINK by name, or of every link in a group.
nl::Msg del_link(const std::string& name);
nl::Msg del_group(uint32_t group);
// RTM_NEWADDR: ip/prefix on ifindex (broadcast set); `replace` for
// NLM_F_REPLACE (idempotent) instead of NLM_F_EXCL.
nl::Msg new_addr(int ifindex, Ip4 ip, uint8_t prefix, bool replace);
// RTM_NEWROUTE: default via `gw` out of ifindex, main table.
nl::Msg new_default_route(int ifindex, Ip4 gw);
// RTM_NEWNEIGH: a permanent entry ip -> mac on ifindex (replacing any).
nl::Msg new_neigh(int ifindex, Ip4 ip, const Mac& mac);
nl::Msg del_neigh(int ifindex, Ip4 ip);
// A static, sticky forwarding entry on the bridge port `port_ifindex`: frames
// for `mac` leave through that port, and learning never moves the entry.
nl::Msg new_fdb(int port_ifindex, const Mac& mac);

struct LinkReply {
  int ifindex = 0;
  int link = 0;  // IFLA_LINK: a veth's peer index (in the peer's namespace)
};
LinkReply parse_link(const nlmsghdr* h);

// One link of a dump.
struct LinkInfo {
  std::string name;
  std::string kind;  // "bridge", "veth", ... ("" for none)
  int ifindex = 0;
  int master = 0;
  Mac mac{};
  uint32_t group = 0;
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};
Result<std::vector<LinkInfo>> dump_links(nl::Socket& s);
// One link by name (RTM_GETLINK, no dump); nullopt if there is none.
Result<std::optional<LinkInfo>> get_link_info(nl::Socket& s, const std::string& name);
// IPv4 addresses of the permanent neighbour entries on ifindex.
Result<std::vector<Ip4>> dump_permanent_neighbours(nl::Socket& s, int ifindex);
// IPv4 addresses (with prefix) on ifindex.
Result<std::vector<Cidr>> dump_addresses(nl::Socket& s, int ifindex);

}  // namespace berth::netns::msg
