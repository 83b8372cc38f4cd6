// Interface counters, link deletion by name, neighbour-table limits.
#include <unordered_map>

#include <fmt/format.h>

#include "netns/enter.h"
#include "netns/link.h"
#include "netns/link_msgs.h"

namespace berth::netns {

namespace {

// Up to this many host ends, host_side_stats() asks for each by name;
// more, and one dump of all links is cheaper.
constexpr size_t kLinksAskedByName = 32;

InterfaceStats stats_of(const msg::LinkInfo& l, bool swap) {
  InterfaceStats s;
  s.name = l.name;
  s.rx_bytes = l.rx_bytes;
  s.rx_packets = l.rx_packets;
  s.rx_errors = l.rx_errors;
  s.rx_dropped = l.rx_dropped;
  s.tx_bytes = l.tx_bytes;
  s.tx_packets = l.tx_packets;
  s.tx_errors = l.tx_errors;
  s.tx_dropped = l.tx_dropped;
  if (swap) {
    std::swap(s.rx_bytes, s.tx_bytes);
    std::swap(s.rx_packets, s.tx_packets);
    std::swap(s.rx_errors, s.tx_errors);
    std::swap(s.rx_dropped, s.tx_dropped);
  }
  return s;
}

}  // namespace

Result<std::vector<InterfaceStats>> interface_stats(int container_netns_fd) {
  nl::Socket s = BERTH_TRY_CTX(nl::Socket::open(container_netns_fd), "interface stats");
  auto links = BERTH_TRY_CTX(msg::dump_links(s), "interface stats");
  std::vector<InterfaceStats> out;
  for (const auto& l : links)
    if (l.name != "lo") out.push_back(stats_of(l, false));
  return out;
}

Result<std::vector<InterfaceStats>> host_side_stats(std::span<const std::string> host_names, int host_netns_fd) {
  nl::Socket s = BERTH_TRY_CTX(nl::Socket::open(host_netns_fd), "interface stats");
  std::vector<InterfaceStats> out;
  if (host_names.size() <= kLinksAskedByName) {
    // A few links (one container's first sample): asked for by name, so the
    // cost does not grow with every veth of the host.
    for (const auto& n : host_names)
      if (auto l = BERTH_TRY_CTX(msg::get_link_info(s, n), "interface stats"))
        out.push_back(stats_of(*l, true));
    return out;
  }
  auto links = BERTH_TRY_CTX(msg::dump_links(s), "interface stats");
  std::unordered_map<std::string_view, const msg::LinkInfo*> by_name;
  for (const auto& l : links) by_name[l.name] = &l;
  for (const auto& n : host_names)
    if (auto it = by_name.find(n); it != by_name.end()) out.push_back(stats_of(*it->second, true));
  return out;
}

Result<void> delete_link(std::string_view name, int netns_fd) {
  nl::Socket s = BERTH_TRY_CTX(nl::Socket::open(netns_fd), "delete link {}", name);
  nl::Batch b;
  b.add(msg::del_link(std::string(name)), fmt::format("delete link {}", name));
  auto res = b.run(s);
  if (!res[0] && res[0].error().sys_errno() == ENODEV)
    return Error::not_found("delete link {}: no such link", name);
  return std::move(res[0]);
}

namespace {
constexpr const char* kThresh[3] = {"net/ipv4/neigh/default/gc_thresh1", "net/ipv4/neigh/default/gc_thresh2",
                                    "net/ipv4/neigh/default/gc_thresh3"};
}

Result<NeighbourLimits> read_neighbour_limits() {
  long v[3];
  for (int i = 0; i < 3; i++) {
    std::string s = BERTH_TRY_CTX(read_sysctl(-1, kThresh[i]),
                                  "read neighbour limits (only the initial network namespace has them)");
    v[i] = std::strtol(s.c_str(), nullptr, 10);
  }
  return NeighbourLimits{v[0], v[1], v[2]};
}

Result<NeighbourLimits> raise_neighbour_limits(long entries) {
  NeighbourLimits cur = BERTH_TRY(read_neighbour_limits());
  long want[3] = {entries / 4, entries * 3 / 4, entries};
  long* have[3] = {&cur.gc_thresh1, &cur.gc_thresh2, &cur.gc_thresh3};
  // Highest first: the kernel wants thresh1 <= thresh2 <= thresh3 kept.
  for (int i = 2; i >= 0; i--) {
    if (*have[i] >= want[i]) continue;
    BERTH_TRY_VOID(write_sysctl(-1, kThresh[i], std::to_string(want[i])));
    *have[i] = want[i];
  }
  return cur;
}

}  // namespace berth::netns
