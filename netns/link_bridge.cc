// BridgeNetwork: the root bridge, leaves, counting ports, reconcile, destroy.
// attach()/detach() are in link_attach.cc.
#include <fcntl.h>
#include <linux/if.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <unordered_set>

#include <fmt/format.h>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "netns/enter.h"
#include "netns/link.h"
#include "netns/link_internal.h"
#include "netns/link_msgs.h"

namespace berth::netns {

// FNV-1a of the root's name: leaves of different networks never share names.
static std::string name_tag(const std::string& root) {
  uint32_t h = 2166136261u;
  for (unsigned char c : root) h = (h ^ c) * 16777619u;
  return fmt::format("{:06x}", h & 0xffffff);
}

std::string leaf_pattern(const std::string& root) { return fmt::format("bl{}.*", name_tag(root)); }

namespace {


Result<void> check_options(const BridgeOptions& o) {
  if (o.name.empty() || o.name.size() >= IFNAMSIZ)
    return Error::invalid("bridge name \"{}\": must be 1 to {} characters", o.name, IFNAMSIZ - 1);
  for (char c : o.name)
    if (c == '/' || c == ':' || c <= ' ' || c == 127)
      return Error::invalid("bridge name \"{}\": has a character an interface name cannot have", o.name);
  if (o.gateway.prefix < 8 || o.gateway.prefix > 30)
    return Error::invalid("bridge {}: gateway prefix /{} is not between /8 and /30", o.name, o.gateway.prefix);
  if (o.mtu < 68 || o.mtu > 65535) return Error::invalid("bridge {}: MTU {} is not between 68 and 65535", o.name, o.mtu);
  if (o.ports_per_bridge < 1 || o.ports_per_bridge >= kBridgeMaxPorts)
    return Error::invalid("bridge {}: ports per bridge {} is not between 1 and {}", o.name, o.ports_per_bridge,
                          kBridgeMaxPorts - 1);
  return ok();
}

std::atomic<uint32_t> g_group{0};

}  // namespace

uint32_t next_delete_group() {
  // Link groups are plain numbers shared by a namespace; berth takes ones
  // far above what people configure, unique per deletion in this process.
  return 0x62740000u + (g_group.fetch_add(1) & 0xffff);
}

BridgeNetwork::BridgeNetwork(const BridgeOptions& o)
    : opts_(o), tag_(name_tag(o.name)), plan_(o.ports_per_bridge) {
  leaf_ifindex_.assign(plan_.max_leaves() + 1, 0);
}

BridgeNetwork::~BridgeNetwork() = default;

Result<std::unique_ptr<BridgeNetwork>> BridgeNetwork::open(const BridgeOptions& o) {
  BERTH_TRY_VOID(check_options(o));
  std::unique_ptr<BridgeNetwork> n(new BridgeNetwork(o));
  n->sock_ = BERTH_TRY_CTX(nl::Socket::open(o.netns_fd), "bridge {}", o.name);
  n->del_sock_ = BERTH_TRY_CTX(nl::Socket::open(o.netns_fd), "bridge {}", o.name);
  // Without IPv6 in the kernel there is nothing to switch off.
  auto conf = in_netns(o.netns_fd, [] { return open_fd("/proc/sys/net/ipv6/conf", O_PATH | O_DIRECTORY); });
  if (conf) n->ipv6_conf_ = std::move(*conf);
  BERTH_TRY_VOID(n->create_or_adopt_root());
  BERTH_TRY_VOID(n->count_ports());
  return n;
}

// Best effort: a port that keeps IPv6 works, it only costs the kernel more.
void BridgeNetwork::disable_ipv6(const std::string& link) {
  if (!ipv6_conf_) return;
  std::string rel = link + "/disable_ipv6";
  int fd = ::openat(ipv6_conf_.get(), rel.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::write(fd, "1", 1);
  ::close(fd);
}

std::string BridgeNetwork::bridge_name(unsigned bridge) const {
  return bridge == 0 ? opts_.name : leaf_name(tag_, bridge);
}

Result<int> BridgeNetwork::bridge_ifindex(unsigned bridge) {
  int i = bridge == 0 ? root_ifindex_ : leaf_ifindex_[bridge];
  if (i <= 0) return Error::not_found("bridge {}: not made", bridge_name(bridge));
  return i;
}

// The index of `name` from an RTM_GETLINK in the same batch as its creation.
Result<void> BridgeNetwork::create_or_adopt_root() {
  const std::string& name = opts_.name;
  auto links = BERTH_TRY_CTX(msg::dump_links(sock_), "bridge {}", name);
  auto it = std::find_if(links.begin(), links.end(), [&](const msg::LinkInfo& l) { return l.name == name; });
  nl::Batch b;
  if (it == links.end()) {
    root_mac_ = mac_for(opts_.gateway.addr);
    b.add(msg::new_bridge(name, &root_mac_, opts_.mtu), "create bridge " + name);
  } else {
    if (it->kind != "bridge")
      return Error::conflict("bridge {}: exists and is a {} link, not a bridge", name,
                             it->kind.empty() ? "non-virtual" : it->kind);
    root_mac_ = it->mac;
    b.add(msg::set_mtu(name, opts_.mtu), "set MTU of bridge " + name);
    b.add(msg::set_up(name), "bring up bridge " + name);
  }
  size_t get = b.add(msg::get_link(name), "look up bridge " + name);
  auto res = b.run(sock_, [&](size_t i, const nlmsghdr* h) {
    if (i == get) root_ifindex_ = msg::parse_link(h).ifindex;
  });
  BERTH_TRY_VOID(nl::first_error(res));
  if (root_ifindex_ <= 0) return Error::make(Code::kSystem, "bridge {}: no index after creation", name);
  // The gateway address; REPLACE keeps an adopted bridge's one as it is.
  b.add(msg::new_addr(root_ifindex_, opts_.gateway.addr, opts_.gateway.prefix, true),
        fmt::format("add address {} to bridge {}", to_string(opts_.gateway), name));
  res = b.run(sock_);
  return nl::first_error(res);
}

Result<void> BridgeNetwork::count_ports() {
  auto links = BERTH_TRY_CTX(msg::dump_links(sock_), "bridge {}", opts_.name);
  std::unordered_map<int, unsigned> bridge_of_index;  // ifindex -> bridge number
  bridge_of_index[root_ifindex_] = 0;
  std::unordered_set<std::string> names;
  for (const auto& l : links) {
    names.insert(l.name);
    unsigned n = parse_leaf_number(tag_, "bl", l.name);
    if (n && n <= plan_.max_leaves() && l.kind == "bridge") {
      leaf_ifindex_[n] = l.ifindex;
      plan_.set_used(n, 0);
      bridge_of_index[l.ifindex] = n;
    }
  }
  for (const auto& l : links) {
    auto b = bridge_of_index.find(l.master);
    if (l.master == 0 || b == bridge_of_index.end()) continue;
    if (parse_leaf_number(tag_, "bd", l.name) || parse_leaf_number(tag_, "bu", l.name)) continue;
    plan_.set_used(b->second, plan_.used(b->second) + 1);
    port_of_[l.name] = b->second;
  }
  // A leaf whose uplink a crash left half-made gets it made again.
  for (unsigned n : plan_.leaves()) {
    if (names.count(leaf_name(tag_, n, "bd")) && names.count(leaf_name(tag_, n, "bu"))) {
      BERTH_TRY_VOID(pin_gateway(n));  // a leaf made before the entry was pinned
      continue;
    }
    BERTH_TRY_VOID(make_uplink(n));
  }
  return ok();
}

Result<void> BridgeNetwork::make_leaf(unsigned leaf) {
  std::string name = leaf_name(tag_, leaf);
  nl::Batch b;
  b.add(msg::new_bridge(name, nullptr, opts_.mtu), "create bridge " + name);
  size_t get = b.add(msg::get_link(name), "look up bridge " + name);
  int index = 0;
  auto res = b.run(sock_, [&](size_t i, const nlmsghdr* h) {
    if (i == get) index = msg::parse_link(h).ifindex;
  });
  BERTH_TRY_VOID(nl::first_error(res));
  leaf_ifindex_[leaf] = index;
  auto up = make_uplink(leaf);
  if (!up) {
    std::vector<std::string> gone = {name, leaf_name(tag_, leaf, "bd")};
    (void)delete_group(gone, "delete half-made leaf");
    leaf_ifindex_[leaf] = 0;
    return up;
  }
  return ok();
}

// The veth pair joining leaf `leaf` to the root: "bd" end on the root,
// "bu" end on the leaf, both up.
Result<void> BridgeNetwork::make_uplink(unsigned leaf) {
  std::string down = leaf_name(tag_, leaf, "bd"), upl = leaf_name(tag_, leaf, "bu");
  nl::Batch b;
  b.add(msg::del_link(down), "delete " + down);
  b.add(msg::del_link(upl), "delete " + upl);
  (void)b.run(sock_);  // leftovers of a crash, usually absent
  b.add(msg::new_veth(down, root_ifindex_, opts_.mtu, upl, nullptr, -1), "create uplink " + down);
  b.add(msg::set_master(upl, leaf_ifindex_[leaf]), "enslave " + upl + " to " + leaf_name(tag_, leaf));
  b.add(msg::set_up(down), "bring up " + down);
  b.add(msg::set_up(upl), "bring up " + upl);
  auto res = b.run(sock_);
  BERTH_TRY_VOID(nl::first_error(res));
  return pin_gateway(leaf);
}

// The gateway's MAC pinned on leaf `leaf`'s uplink port. Learned, the entry
// ages out between a container's rare frames to the gateway (its neighbour
// entry for the gateway is permanent, so nothing refreshes it), and a frame
// for an unknown MAC is flooded to every port of the leaf, back to its
// sender too on a hairpin port: with hundreds of containers starting at
// once the flood crowded out the frames themselves (measured: a third to
// all of a leaf's containers never reached the gateway).
Result<void> BridgeNetwork::pin_gateway(unsigned leaf) {
  std::string upl = leaf_name(tag_, leaf, "bu");
  nl::Batch b;
  b.add(msg::get_link(upl), "look up " + upl);
  int index = 0;
  auto res = b.run(sock_, [&](size_t, const nlmsghdr* h) { index = msg::parse_link(h).ifindex; });
  BERTH_TRY_VOID(nl::first_error(res));
  if (index <= 0) return Error::not_found("uplink {}: no index", upl);
  b.add(msg::new_fdb(index, root_mac_), fmt::format("pin the gateway's address on {}", upl));
  res = b.run(sock_);
  return nl::first_error(res);
}

Result<void> BridgeNetwork::delete_group(nl::Socket& sock, const std::vector<std::string>& names, const char* what) {
  if (names.empty()) return ok();
  uint32_t group = next_delete_group();
  nl::Batch b;
  for (const auto& n : names) b.add(msg::set_group(n, group), fmt::format("{} {}", what, n));
  auto res = b.run(sock);
  Result<void> first = ok();
  size_t marked = 0;
  for (auto& r : res) {
    if (r) {
      marked++;
    } else if (r.error().sys_errno() != ENODEV && first) {
      first = std::move(r.error());
    }
  }
  if (marked) {
    b.add(msg::del_group(group), fmt::format("{} ({} links)", what, marked));
    auto del = b.run(sock);
    if (!del[0] && first) first = std::move(del[0].error());
  }
  return first;
}

Result<ReconcileReport> BridgeNetwork::reconcile(std::span<const std::string> keep_veths,
                                                 std::span<const Ip4> keep_ips) {
  std::lock_guard lock(mu_);
  if (destroyed_) return Error::conflict("bridge {}: destroyed", opts_.name);
  ReconcileReport rep;
  std::unordered_set<std::string> keep(keep_veths.begin(), keep_veths.end());
  std::vector<std::string> gone;
  for (auto it = port_of_.begin(); it != port_of_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    rep.removed_veths.push_back(it->first);
    gone.push_back(it->first);
    plan_.give_back(it->second);
    it = port_of_.erase(it);
  }
  for (unsigned n : plan_.empty_leaves()) {
    rep.removed_leaves.push_back(leaf_name(tag_, n));
    gone.push_back(leaf_name(tag_, n));
    gone.push_back(leaf_name(tag_, n, "bd"));
  }
  BERTH_TRY_VOID(delete_group(gone, "delete leftover link"));
  for (unsigned n : plan_.empty_leaves()) {
    plan_.drop_leaf(n);
    leaf_ifindex_[n] = 0;
  }
  std::vector<Ip4> neigh = BERTH_TRY(msg::dump_permanent_neighbours(sock_, root_ifindex_));
  std::unordered_set<uint32_t> keep_ip;
  for (Ip4 ip : keep_ips) keep_ip.insert(ip.value);
  nl::Batch b;
  for (Ip4 ip : neigh) {
    if (keep_ip.count(ip.value)) continue;
    rep.removed_neighbours.push_back(ip);
    b.add(msg::del_neigh(root_ifindex_, ip), "delete neighbour " + to_string(ip));
  }
  auto res = b.run(sock_);
  BERTH_TRY_VOID(nl::first_error(res));
  std::sort(rep.removed_veths.begin(), rep.removed_veths.end());
  return rep;
}

Result<void> BridgeNetwork::destroy() {
  std::lock_guard lock(mu_);
  if (destroyed_) return ok();
  auto links = BERTH_TRY_CTX(msg::dump_links(sock_), "delete bridge {}", opts_.name);
  std::unordered_set<int> ours = {root_ifindex_};
  for (int i : leaf_ifindex_)
    if (i > 0) ours.insert(i);
  std::vector<std::string> gone;
  for (const auto& l : links)
    if (ours.count(l.ifindex) || (l.master && ours.count(l.master))) gone.push_back(l.name);
  auto del = delete_group(gone, "delete bridge network link");
  if (!del) return std::move(del.error()).context("delete bridge {}", opts_.name);
  destroyed_ = true;
  port_of_.clear();
  return ok();
}

std::vector<TopologyEntry> BridgeNetwork::topology() const {
  std::lock_guard lock(mu_);
  std::vector<TopologyEntry> out;
  out.push_back({opts_.name, plan_.used(0)});
  for (unsigned n : plan_.leaves()) out.push_back({leaf_name(tag_, n), plan_.used(n)});
  return out;
}

bool BridgeNetwork::has_port(const std::string& host_name) const {
  std::lock_guard lock(mu_);
  return port_of_.count(host_name) > 0;
}

}  // namespace berth::netns
