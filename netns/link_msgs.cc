#include "netns/link_msgs.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>

#include <cstring>
#include <memory>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>

namespace berth::netns::msg {

namespace {

ifinfomsg ifi(int index = 0, unsigned flags = 0, unsigned change = 0) {
  ifinfomsg m{};
  m.ifi_family = AF_UNSPEC;
  m.ifi_index = index;
  m.ifi_flags = flags;
  m.ifi_change = change;
  return m;
}

nl::Msg link_msg(int type, int flags, const std::string& name, int index = 0, unsigned ifflags = 0,
                 unsigned change = 0) {
  ifinfomsg m = ifi(index, ifflags, change);
  nl::Msg out(type, flags, &m, sizeof m);
  if (!name.empty() && index == 0) out.put_string(IFLA_IFNAME, name);
  return out;
}

uint32_t be(Ip4 ip) { return to_in_addr(ip).s_addr; }

}  // namespace

nl::Msg new_bridge(const std::string& name, const Mac* mac, unsigned mtu) {
  nl::Msg m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name, 0, IFF_UP, IFF_UP);
  if (mac) m.put(IFLA_ADDRESS, mac->data(), mac->size());
  m.put_u32(IFLA_MTU, mtu);
  void* info = m.begin(IFLA_LINKINFO);
  m.put_string(IFLA_INFO_KIND, "bridge");
  m.end(info);
  return m;
}

nl::Msg new_veth(const std::string& host, int master_ifindex, unsigned mtu, const std::string& peer,
                 const Mac* peer_mac, int peer_netns_fd) {
  nl::Msg m = link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, host);
  m.put_u32(IFLA_MTU, mtu);
  if (master_ifindex > 0) m.put_u32(IFLA_MASTER, uint32_t(master_ifindex));
  void* info = m.begin(IFLA_LINKINFO);
  m.put_string(IFLA_INFO_KIND, "veth");
  void* data = m.begin(IFLA_INFO_DATA);
  void* p = m.begin(VETH_INFO_PEER);
  // The peer's own ifinfomsg, then its attributes (veth_newlink parses
  // them as a link request of its own). Not IFF_UP: the peer is opened
  // before the pair is joined, and veth_open() fails with ENOTCONN.
  ifinfomsg pm = ifi();
  m.append(&pm, sizeof pm);
  m.put_string(IFLA_IFNAME, peer);
  if (peer_mac) m.put(IFLA_ADDRESS, peer_mac->data(), peer_mac->size());
  m.put_u32(IFLA_MTU, mtu);
  if (peer_netns_fd >= 0) m.put_u32(IFLA_NET_NS_FD, uint32_t(peer_netns_fd));
  m.end(p);
  m.end(data);
  m.end(info);
  return m;
}

nl::Msg no_ipv6_linklocal(const std::string& name) {
  nl::Msg m = link_msg(RTM_SETLINK, 0, name);
  void* spec = m.begin(IFLA_AF_SPEC);
  void* v6 = m.begin(AF_INET6);
  m.put_u8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  m.end(v6);
  m.end(spec);
  return m;
}

nl::Msg set_up(const std::string& name, int ifindex, bool up) {
  return link_msg(RTM_SETLINK, 0, name, ifindex, up ? IFF_UP : 0, IFF_UP);
}

nl::Msg set_master(const std::string& name, int master_ifindex) {
  nl::Msg m = link_msg(RTM_SETLINK, 0, name);
  m.put_u32(IFLA_MASTER, uint32_t(master_ifindex));
  return m;
}

nl::Msg set_hairpin(const std::string& name, bool on) {
  nl::Msg m = link_msg(RTM_NEWLINK, 0, name);
  void* info = m.begin(IFLA_LINKINFO);
  m.put_string(IFLA_INFO_SLAVE_KIND, "bridge");
  void* data = m.begin(IFLA_INFO_SLAVE_DATA);
  m.put_u8(IFLA_BRPORT_MODE, on ? 1 : 0);
  m.end(data);
  m.end(info);
  return m;
}

nl::Msg set_mtu(const std::string& name, unsigned mtu) {
  nl::Msg m = link_msg(RTM_SETLINK, 0, name);
  m.put_u32(IFLA_MTU, mtu);
  return m;
}

nl::Msg set_group(const std::string& name, uint32_t group) {
  nl::Msg m = link_msg(RTM_SETLINK, 0, name);
  m.put_u32(IFLA_GROUP, group);
  return m;
}

nl::Msg get_link(const std::string& name) {
  nl::Msg m = link_msg(RTM_GETLINK, 0, name);
  m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return m;
}

nl::Msg del_link(const std::string& name) { return link_msg(RTM_DELLINK, 0, name); }

nl::Msg del_group(uint32_t group) {
  nl::Msg m = link_msg(RTM_DELLINK, 0, "");
  m.put_u32(IFLA_GROUP, group);
  return m;
}

nl::Msg new_addr(int ifindex, Ip4 ip, uint8_t prefix, bool replace) {
  ifaddrmsg a{};
  a.ifa_family = AF_INET;
  a.ifa_prefixlen = prefix;
  a.ifa_scope = RT_SCOPE_UNIVERSE;
  a.ifa_index = uint32_t(ifindex);
  nl::Msg m(RTM_NEWADDR, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), &a, sizeof a);
  uint32_t v = be(ip);
  m.put(IFA_LOCAL, &v, 4);
  m.put(IFA_ADDRESS, &v, 4);
  Subnet s = Cidr{ip, prefix}.subnet();
  uint32_t b = be(s.broadcast());
  if (prefix < 31) m.put(IFA_BROADCAST, &b, 4);
  return m;
}

nl::Msg new_default_route(int ifindex, Ip4 gw) {
  rtmsg r{};
  r.rtm_family = AF_INET;
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = RT_SCOPE_UNIVERSE;
  r.rtm_type = RTN_UNICAST;
  nl::Msg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &r, sizeof r);
  uint32_t v = be(gw);
  m.put(RTA_GATEWAY, &v, 4);
  m.put_u32(RTA_OIF, uint32_t(ifindex));
  return m;
}

nl::Msg new_neigh(int ifindex, Ip4 ip, const Mac& mac) {
  ndmsg n{};
  n.ndm_family = AF_INET;
  n.ndm_ifindex = ifindex;
  n.ndm_state = NUD_PERMANENT;
  nl::Msg m(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &n, sizeof n);
  uint32_t v = be(ip);
  m.put(NDA_DST, &v, 4);
  m.put(NDA_LLADDR, mac.data(), mac.size());
  return m;
}

nl::Msg del_neigh(int ifindex, Ip4 ip) {
  ndmsg n{};
  n.ndm_family = AF_INET;
  n.ndm_ifindex = ifindex;
  nl::Msg m(RTM_DELNEIGH, 0, &n, sizeof n);
  uint32_t v = be(ip);
  m.put(NDA_DST, &v, 4);
  return m;
}

nl::Msg new_fdb(int port_ifindex, const Mac& mac) {
  ndmsg n{};
  n.ndm_family = AF_BRIDGE;
  n.ndm_ifindex = port_ifindex;
  n.ndm_state = NUD_NOARP;  // static; NUD_PERMANENT would mean the bridge's own address
  n.ndm_flags = NTF_MASTER | NTF_STICKY;
  nl::Msg m(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &n, sizeof n);
  m.put(NDA_LLADDR, mac.data(), mac.size());
  return m;
}

LinkReply parse_link(const nlmsghdr* h) {
  LinkReply r;
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return r;
  const auto* m = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  r.ifindex = m->ifi_index;
  const char* p = reinterpret_cast<const char*>(m) + NLMSG_ALIGN(sizeof *m);
  const char* endp = reinterpret_cast<const char*>(h) + h->nlmsg_len;
  while (p + sizeof(rtattr) <= endp) {
    const auto* a = reinterpret_cast<const rtattr*>(p);
    if (a->rta_len < sizeof(rtattr) || p + a->rta_len > endp) break;
    if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= 4) std::memcpy(&r.link, RTA_DATA(a), 4);
    p += RTA_ALIGN(a->rta_len);
  }
  return r;
}

namespace {

struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Cache = std::unique_ptr<nl_cache, CacheDeleter>;

Mac mac_of(nl_addr* a) {
  Mac m{};
  if (a && nl_addr_get_len(a) == 6) std::memcpy(m.data(), nl_addr_get_binary_addr(a), 6);
  return m;
}

// A dump that raced a change comes back NLE_DUMP_INTR: take it again.
template <class F>
int with_retries(F&& f) {
  int rc = 0;
  for (int i = 0; i < 5; i++)
    if ((rc = f()) != -NLE_DUMP_INTR) break;
  return rc;
}

LinkInfo info_of(rtnl_link* l) {
  LinkInfo i;
  if (const char* n = rtnl_link_get_name(l)) i.name = n;
  if (const char* k = rtnl_link_get_type(l)) i.kind = k;
  i.ifindex = rtnl_link_get_ifindex(l);
  i.master = rtnl_link_get_master(l);
  i.mac = mac_of(rtnl_link_get_addr(l));
  i.group = rtnl_link_get_group(l);
  i.rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES);
  i.rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS);
  i.rx_errors = rtnl_link_get_stat(l, RTNL_LINK_RX_ERRORS);
  i.rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED);
  i.tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES);
  i.tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS);
  i.tx_errors = rtnl_link_get_stat(l, RTNL_LINK_TX_ERRORS);
  i.tx_dropped = rtnl_link_get_stat(l, RTNL_LINK_TX_DROPPED);
  return i;
}

}  // namespace

Result<std::vector<LinkInfo>> dump_links(nl::Socket& s) {
  nl_cache* raw = nullptr;
  int rc = with_retries([&] { return rtnl_link_alloc_cache(s.sk(), AF_UNSPEC, &raw); });
  if (rc < 0) return Error::make(Code::kSystem, "dump links: {}", nl_geterror(rc));
  Cache cache(raw);
  std::vector<LinkInfo> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o))
    out.push_back(info_of(reinterpret_cast<rtnl_link*>(o)));
  return out;
}

Result<std::optional<LinkInfo>> get_link_info(nl::Socket& s, const std::string& name) {
  rtnl_link* l = nullptr;
  int rc = rtnl_link_get_kernel(s.sk(), 0, name.c_str(), &l);
  if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return std::optional<LinkInfo>();
  if (rc < 0) return Error::make(Code::kSystem, "look up link {}: {}", name, nl_geterror(rc));
  LinkInfo i = info_of(l);
  rtnl_link_put(l);
  return std::optional<LinkInfo>(std::move(i));
}

Result<std::vector<Ip4>> dump_permanent_neighbours(nl::Socket& s, int ifindex) {
  nl_cache* raw = nullptr;
  int rc = with_retries([&] { return rtnl_neigh_alloc_cache(s.sk(), &raw); });
  if (rc < 0) return Error::make(Code::kSystem, "dump neighbours: {}", nl_geterror(rc));
  Cache cache(raw);
  std::vector<Ip4> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* n = reinterpret_cast<rtnl_neigh*>(o);
    if (rtnl_neigh_get_ifindex(n) != ifindex || rtnl_neigh_get_family(n) != AF_INET) continue;
    if (!(rtnl_neigh_get_state(n) & NUD_PERMANENT)) continue;
    nl_addr* dst = rtnl_neigh_get_dst(n);
    if (!dst || nl_addr_get_len(dst) != 4) continue;
    in_addr a;
    std::memcpy(&a, nl_addr_get_binary_addr(dst), 4);
    out.push_back(from_in_addr(a));
  }
  return out;
}

Result<std::vector<Cidr>> dump_addresses(nl::Socket& s, int ifindex) {
  nl_cache* raw = nullptr;
  int rc = with_retries([&] { return rtnl_addr_alloc_cache(s.sk(), &raw); });
  if (rc < 0) return Error::make(Code::kSystem, "dump addresses: {}", nl_geterror(rc));
  Cache cache(raw);
  std::vector<Cidr> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET) continue;
    nl_addr* local = rtnl_addr_get_local(a);
    if (!local || nl_addr_get_len(local) != 4) continue;
    in_addr v;
    std::memcpy(&v, nl_addr_get_binary_addr(local), 4);
    out.push_back(Cidr{from_in_addr(v), uint8_t(rtnl_addr_get_prefixlen(a))});
  }
  return out;
}

}  // namespace berth::netns::msg
