// BridgeNetwork::attach() and detach(): a batch of containers' veth pairs.
#include <linux/if.h>

#include <optional>
#include <unordered_set>

#include <fmt/format.h>

#include "netns/link.h"
#include "netns/link_internal.h"
#include "netns/link_msgs.h"

namespace berth::netns {

std::string leaf_name(std::string_view tag, unsigned n, std::string_view kind) {
  return fmt::format("{}{}.{}", kind, tag, n);
}

unsigned parse_leaf_number(std::string_view tag, std::string_view kind, std::string_view name) {
  if (name.size() <= kind.size() + tag.size() + 1 || name.substr(0, kind.size()) != kind) return 0;
  name.remove_prefix(kind.size());
  if (name.substr(0, tag.size()) != tag || name[tag.size()] != '.') return 0;
  name.remove_prefix(tag.size() + 1);
  if (name.empty() || name.size() > 4 || name[0] == '0') return 0;
  unsigned n = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + unsigned(c - '0');
  }
  return n;
}

std::string veth_name(std::string_view container_id, unsigned index) {
  std::string suffix = fmt::format("{:x}", index);
  size_t room = IFNAMSIZ - 1 - 4 - suffix.size();
  return fmt::format("veth{}{}", container_id.substr(0, room), suffix);
}

namespace {

bool valid_ifname(const std::string& n) {
  if (n.empty() || n.size() >= IFNAMSIZ || n == "." || n == "..") return false;
  for (char c : n)
    if (c == '/' || c == ':' || c <= ' ' || c == 127) return false;
  return true;
}

}  // namespace

// One attachment on its way through the batches.
struct AttachRun {
  size_t index;            // into the request span
  const Attachment* req;
  unsigned bridge = 0;
  nl::Socket inside;       // bound in the container's namespace
  int peer_ifindex = 0;
  Attached done;
  bool veth_made = false;
  std::optional<Error> error;
};

namespace {

Result<void> check_request(const Attachment& a, const Subnet& subnet, Ip4 gateway) {
  if (a.netns_fd < 0) return Error::invalid("attach {}: no network namespace given", a.host_name);
  if (!valid_ifname(a.host_name)) return Error::invalid("attach: bad host interface name \"{}\"", a.host_name);
  if (!valid_ifname(a.ifname)) return Error::invalid("attach {}: bad interface name \"{}\"", a.host_name, a.ifname);
  if (!subnet.contains(a.ip) || a.ip == gateway || a.ip == subnet.network || a.ip == subnet.broadcast())
    return Error::invalid("attach {}: address {} is not a host address of {} other than the gateway",
                          a.host_name, to_string(a.ip), to_string(subnet));
  return ok();
}

// The netlink socket inside the container's namespace. (Not a
// /proc/sys write there: every lookup under /proc/sys/net walks one dentry
// per namespace of that name, so at thousands of namespaces it was a
// quarter of the whole attach; IPv6 is switched off by netlink instead.)
Result<nl::Socket> prepare_inside(const Attachment& a) {
  return BERTH_TRY_CTX(nl::Socket::open(a.netns_fd), "attach {}", a.host_name);
}

void fail(AttachRun& r, Error e) {
  if (!r.error) r.error = std::move(e);
}

}  // namespace

std::vector<Result<Attached>> BridgeNetwork::attach(std::span<const Attachment> reqs) {
  std::lock_guard lock(mu_);
  std::vector<AttachRun> runs;
  runs.reserve(reqs.size());
  Subnet subnet = opts_.gateway.subnet();
  Ip4 gw = opts_.gateway.addr;
  for (size_t i = 0; i < reqs.size(); i++) {
    AttachRun& r = runs.emplace_back();
    r.index = i;
    r.req = &reqs[i];
    if (destroyed_) {
      fail(r, Error::conflict("bridge {}: destroyed", opts_.name));
      continue;
    }
    if (auto c = check_request(reqs[i], subnet, gw); !c) {
      fail(r, std::move(c.error()));
      continue;
    }
    auto pick = plan_.take();
    if (!pick) {
      fail(r, std::move(pick.error()).context("attach {} to {}", reqs[i].host_name, opts_.name));
      continue;
    }
    r.bridge = pick->bridge;
    if (pick->new_leaf) {
      if (auto m = make_leaf(pick->bridge); !m) {
        plan_.drop_leaf(pick->bridge);
        fail(r, std::move(m.error()).context("attach {}", reqs[i].host_name));
        continue;
      }
    }
    auto inside = prepare_inside(reqs[i]);
    if (!inside) {
      plan_.give_back(r.bridge);
      fail(r, std::move(inside.error()));
      continue;
    }
    r.inside = std::move(*inside);
  }

  // Host side, batch A: every veth, the container end made in its namespace.
  nl::Batch b;
  std::vector<AttachRun*> order;
  for (auto& r : runs) {
    if (r.error) continue;
    r.done.mac = mac_for(r.req->ip);
    r.done.bridge = bridge_name(r.bridge);
    int master = leaf_ifindex_.size() > r.bridge && r.bridge ? leaf_ifindex_[r.bridge] : root_ifindex_;
    b.add(msg::new_veth(r.req->host_name, master, opts_.mtu, r.req->ifname, &r.done.mac, r.req->netns_fd),
          fmt::format("create veth {}", r.req->host_name));
    order.push_back(&r);
  }
  auto res = b.run(sock_);
  for (size_t k = 0; k < order.size(); k++) {
    AttachRun& r = *order[k];
    if (res[k]) {
      r.veth_made = true;
      disable_ipv6(r.req->host_name);  // still down: IPv6 never starts on it
    } else {
      if (res[k].error().sys_errno() == EXFULL) plan_.mark_full(r.bridge);
      else plan_.give_back(r.bridge);
      fail(r, std::move(res[k].error()));
    }
  }

  // Host side, batch B: no IPv6 link-local, up, the peer's index, the
  // container's permanent neighbour entry on the root, hairpin mode on the
  // root's ports only: a leaf's container never needs a frame sent back
  // through its own port (what comes back from the gateway enters the leaf
  // through the uplink), and hairpin there would reflect every flood.
  order.clear();
  for (auto& r : runs) {
    if (r.error) continue;
    const std::string& h = r.req->host_name;
    b.add(msg::no_ipv6_linklocal(h), "switch off IPv6 on " + h);
    b.add(msg::set_up(h), "bring up " + h);
    b.add(msg::get_link(h), "look up " + h);
    b.add(msg::new_neigh(root_ifindex_, r.req->ip, r.done.mac),
          fmt::format("add neighbour {} on {}", to_string(r.req->ip), opts_.name));
    b.add(msg::set_hairpin(h, r.bridge == 0), "set hairpin mode on " + h);
    order.push_back(&r);
  }
  constexpr size_t kPerPort = 5;
  res = b.run(sock_, [&](size_t i, const nlmsghdr* h) {
    if (i % kPerPort != 2) return;
    auto l = msg::parse_link(h);
    order[i / kPerPort]->done.host_ifindex = l.ifindex;
    order[i / kPerPort]->peer_ifindex = l.link;
  });
  for (size_t i = 0; i < res.size(); i++)
    if (!res[i]) fail(*order[i / kPerPort], std::move(res[i].error()));

  // Inside each container: lo and eth0 up, the address, the gateway's permanent
  // neighbour entry, the default route; one sendmsg per container.
  for (auto& r : runs) {
    if (r.error) continue;
    if (r.peer_ifindex <= 0) {
      fail(r, Error::make(Code::kSystem, "attach {}: no peer index for the container end", r.req->host_name));
      continue;
    }
    r.done.container_ifindex = r.peer_ifindex;
    const std::string& ifn = r.req->ifname;
    b.add(msg::set_up("lo", 1), "bring up lo");
    if (r.req->disable_ipv6) b.add(msg::no_ipv6_linklocal(ifn), "switch off IPv6 on " + ifn);
    b.add(msg::set_up(ifn, r.peer_ifindex), "bring up " + ifn);
    b.add(msg::new_addr(r.peer_ifindex, r.req->ip, opts_.gateway.prefix, false),
          fmt::format("add address {}/{} to {}", to_string(r.req->ip), opts_.gateway.prefix, ifn));
    b.add(msg::new_neigh(r.peer_ifindex, gw, root_mac_),
          fmt::format("add neighbour {} on {}", to_string(gw), ifn));
    if (r.req->default_route)
      b.add(msg::new_default_route(r.peer_ifindex, gw), fmt::format("add default route via {}", to_string(gw)));
    auto in = b.run(r.inside);
    if (auto e = nl::first_error(in); !e) fail(r, std::move(e.error()).context("attach {}", r.req->host_name));
    r.inside = nl::Socket();
  }

  // Undo the failed ones that got a veth; count the good ones.
  std::vector<std::string> undo;
  for (auto& r : runs) {
    if (r.error && r.veth_made) {
      undo.push_back(r.req->host_name);
      b.add(msg::del_neigh(root_ifindex_, r.req->ip), "delete neighbour " + to_string(r.req->ip));
      plan_.give_back(r.bridge);
    } else if (!r.error) {
      port_of_[r.req->host_name] = r.bridge;
    }
  }
  if (!undo.empty()) {
    (void)b.run(sock_);
    (void)delete_group(undo, "delete veth of a failed attach");
  }
  std::vector<Result<Attached>> out;
  out.reserve(runs.size());
  for (auto& r : runs) {
    if (r.error) out.emplace_back(std::move(*r.error));
    else out.emplace_back(std::move(r.done));
  }
  return out;
}

Result<void> BridgeNetwork::detach(std::span<const Detachment> reqs) {
  // Under mu_: the neighbour entries (quick). Then the veths, outside it
  // (del_mu_, del_sock_): their unregister waits for RCU grace periods,
  // and attach() must not wait behind that. Their ports go back to the
  // plan only once they are gone, so a bridge never holds more than
  // ports_per_bridge; an emptied leaf is deleted afterwards, under mu_ again.
  std::vector<std::string> gone;
  std::vector<unsigned> freed;
  Result<void> first = ok();
  {
    std::lock_guard lock(mu_);
    if (destroyed_) return Error::conflict("bridge {}: destroyed", opts_.name);
    nl::Batch b;
    for (const auto& d : reqs) {
      gone.push_back(d.host_name);
      if (auto it = port_of_.find(d.host_name); it != port_of_.end()) {
        freed.push_back(it->second);
        port_of_.erase(it);
      }
      b.add(msg::del_neigh(root_ifindex_, d.ip), "delete neighbour " + to_string(d.ip));
    }
    for (auto& r : b.run(sock_))
      if (!r && r.error().sys_errno() != ENOENT && first) first = std::move(r.error());
  }
  Result<void> del = ok();
  {
    std::lock_guard lock(del_mu_);
    del = delete_group(del_sock_, gone, "delete veth");
  }
  std::lock_guard lock(mu_);
  for (unsigned n : freed) plan_.give_back(n);
  if (destroyed_) return del ? std::move(first) : std::move(del);
  std::vector<unsigned> empty = plan_.empty_leaves();
  std::vector<std::string> leaves;
  for (unsigned n : empty) {
    leaves.push_back(leaf_name(tag_, n));
    leaves.push_back(leaf_name(tag_, n, "bd"));
  }
  auto dl = delete_group(leaves, "delete empty leaf");
  for (unsigned n : empty) {
    plan_.drop_leaf(n);
    leaf_ifindex_[n] = 0;
  }
  if (!del) return del;
  if (!dl) return dl;
  return first;
}

}  // namespace berth::netns
