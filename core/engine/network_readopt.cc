// A running container's networks across a berthd restart (networks.h,
// "Re-adoption"): what persist() saves with its state, and how open()
// takes it back for a container the keeper kept.
//
// Saved: each endpoint (network, endpoint id, interface, host veth,
// address, MAC) and each published port as resolved at its start (the
// host port an ephemeral request got). The kernel side outlives berthd on
// its own: the veths live in the container's namespace and on the
// bridges, the nftables table stays until the next berthd replaces it.
// Taken back at open: the veths and addresses are kept by the
// reconciliation, the host ports bound again (the loopback proxy and the
// held UDP sockets died with the old berthd), the DNAT elements added to
// the new table, the DNS names registered again. A container whose
// network cannot be taken back (its network was removed, its veth is gone,
// its host port was taken meanwhile) is killed, loudly: it would run
// unreachable, which is worse than an exit its restart policy can act on.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>

#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/network_internal.h"
#include "core/engine/process.h"
#include "core/runtime/exit.h"

namespace berth::engine {

namespace {

using json = nlohmann::json;

std::optional<netns::Mac> parse_mac(const std::string& s) {
  netns::Mac m{};
  unsigned b[6];
  char tail;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
    return std::nullopt;
  for (size_t i = 0; i < 6; i++) m[i] = uint8_t(b[i]);
  return m;
}

}  // namespace

std::string NetworkService::runtime_state(const Container& c) const {
  auto it = running_.find(c.id);
  if (it == running_.end() || !it->second->ready) return "";
  const Running& run = *it->second;
  json eps = json::array(), ports = json::array();
  for (const Endpoint& ep : run.endpoints) {
    if (!ep.attached) continue;
    eps.push_back({{"network", ep.network_id},
                   {"endpoint", ep.endpoint_id},
                   {"if", ep.ifname},
                   {"veth", ep.host_veth},
                   {"ip", netns::to_string(ep.ip)},
                   {"mac", netns::to_string(ep.mac)}});
  }
  for (const Published& p : run.ports)
    ports.push_back({{"proto", netns::proto_name(p.m.proto)},
                     {"host_ip", p.m.host_ip ? netns::to_string(*p.m.host_ip) : ""},
                     {"host_port", p.m.host_port},
                     {"container_ip", netns::to_string(p.m.container_ip)},
                     {"container_port", p.m.container_port}});
  if (eps.empty() && ports.empty()) return "";
  return json{{"next_link", c.veth_links}, {"published", run.published}, {"endpoints", eps}, {"ports", ports}}
      .dump();
}

// The saved state of a container the keeper kept. Errors: the state does
// not parse (a berthd that cannot read it cannot take the container back).
Result<std::unique_ptr<NetworkService::Running>> NetworkService::decode_running(const std::string& text,
                                                                                unsigned* veth_links) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::make(Code::kCorrupt, "network state is not valid JSON");
  auto run = std::make_unique<Running>();
  try {
    *veth_links = j.value("next_link", 0u);
    run->published = j.value("published", false);
    for (const json& e : j.value("endpoints", json::array())) {
      Endpoint ep;
      ep.network_id = e.at("network").get<std::string>();
      ep.endpoint_id = e.value("endpoint", "");
      ep.ifname = e.at("if").get<std::string>();
      ep.host_veth = e.at("veth").get<std::string>();
      auto ip = netns::parse_ip4(e.at("ip").get<std::string>());
      auto mac = parse_mac(e.value("mac", ""));
      if (!ip) return Error::make(Code::kCorrupt, "network state: bad address {}", e.at("ip").dump());
      ep.ip = *ip;
      ep.mac = mac ? *mac : netns::mac_for(*ip);
      run->endpoints.push_back(std::move(ep));
    }
    for (const json& p : j.value("ports", json::array())) {
      Published pub;
      pub.m.proto = p.at("proto").get<std::string>() == "udp" ? netns::Proto::kUdp : netns::Proto::kTcp;
      std::string host_ip = p.value("host_ip", "");
      if (!host_ip.empty()) pub.m.host_ip = netns::parse_ip4(host_ip);
      pub.m.host_port = p.at("host_port").get<uint16_t>();
      auto cip = netns::parse_ip4(p.at("container_ip").get<std::string>());
      if (!cip || pub.m.host_port == 0 || (!host_ip.empty() && !pub.m.host_ip))
        return Error::make(Code::kCorrupt, "network state: bad published port {}", p.dump());
      pub.m.container_ip = *cip;
      pub.m.container_port = p.at("container_port").get<uint16_t>();
      run->ports.push_back(std::move(pub));
    }
  } catch (const json::exception& e) {
    return Error::make(Code::kCorrupt, "network state: {}", e.what());
  }
  return run;
}

// open(): the running containers berthd re-adopted (Engine::readopt) that
// had networks. What each one holds, by network, tells the reconciliation
// what to keep.
std::map<std::string, std::unique_ptr<NetworkService::Running>> NetworkService::kept_running() {
  std::map<std::string, std::unique_ptr<Running>> out;
  for (const auto& [id, c] : e_.containers()) {
    if (!c->proc || c->net_state.empty()) continue;
    unsigned links = 0;
    auto run = decode_running(c->net_state, &links);
    c->veth_links = std::max(c->veth_links, links);
    if (!run) {
      log::error("engine", "id={}: {}", id, run.error().message());
      kill_unreachable(*c, run.error().message());
      continue;
    }
    out[id] = std::move(*run);
  }
  return out;
}

// open(), after the networks and their responders: each kept container's
// endpoints, host ports, DNAT elements and DNS names. Blocks (nftables).
void NetworkService::readopt(std::map<std::string, std::unique_ptr<Running>> kept) {
  std::vector<netns::PortMapping> dnat;
  int64_t rebind_deadline = now_ns() + 3'000'000'000;
  for (auto& [id, run] : kept) {
    Container* c = e_.by_id(id);
    if (!c) continue;
    std::string why;
    for (Endpoint& ep : run->endpoints) {
      Network* n = by_id(ep.network_id);
      if (!n) {
        why = fmt::format("network {} is gone", ep.network_id.substr(0, 12));
        continue;
      }
      for (const EndpointSpec& spec : c->spec.net.endpoints)
        if (spec.network == ep.network_id) ep.aliases = spec.aliases;
      ep.has_ip = n->ipam && n->ipam->is_allocated(ep.ip);
      ep.attached = n->bridge && n->bridge->has_port(ep.host_veth);
      if (!n->bridge) why = fmt::format("network {} is unavailable: {}", n->config.name, n->error);
      else if (!ep.attached) why = fmt::format("its interface {} ({}) is gone", ep.ifname, ep.host_veth);
      else add_names(*c, *n, ep);
    }
    for (Published& p : run->ports) {
      if (!why.empty()) break;
      auto bound = bind_port(p.m, &p);
      // The killed berthd's listening sockets close only once the kernel
      // has torn its io_uring down (a work item, shortly after its death):
      // a port in use is tried again for a while.
      while (!bound && bound.error().sys_errno() == EADDRINUSE && now_ns() < rebind_deadline) {
        ::usleep(50000);   // before the loop: it may wait
        bound = bind_port(p.m, &p);
      }
      if (!bound)
        why = fmt::format("publish {}: {}", netns::to_string(p.m), bound.error().message());
    }
    run->ready = true;
    Running& r = *run;
    running_[id] = std::move(run);
    if (!why.empty()) {
      r.published = false;   // nothing of it is in the new table
      kill_unreachable(*c, "its network could not be taken back: " + why);
      continue;
    }
    for (const Published& p : r.ports) dnat.push_back(p.m);
    r.published = !r.ports.empty();
    log::info("engine", "id={}: network re-adopted ({} interfaces, {} published ports)", id, r.endpoints.size(),
              r.ports.size());
  }
  if (dnat.empty() || !nat_) return;
  if (auto r = nat_->add_ports(dnat); !r) {
    // The containers run and are reachable on their addresses and through
    // the loopback proxy; not from other hosts until they restart.
    log::error("engine", "{} published ports of re-adopted containers not restored in the nftables table: {}",
               dnat.size(), r.error().message());
    for (auto& [id, run] : running_) run->published = false;
  }
}

// A clean exit with live restore: the container runs on under the
// keeper, so its veths, addresses and DNAT elements stay (and with them
// the bridges and the table, settle()); only what lives in berthd goes:
// its loopback proxies, held UDP ports and DNS names.
void NetworkService::let_go(const Container& c) {
  auto it = running_.find(c.id);
  if (it == running_.end()) return;
  std::unique_ptr<Running> run = std::move(it->second);
  running_.erase(it);
  left_running_++;
  for (Endpoint& ep : run->endpoints) {
    Network* n = by_id(ep.network_id);
    if (n && n->dns)
      for (const auto& name : ep.dns_names) n->dns->remove_name(name, ep.ip);
  }
  for (Published& p : run->ports)
    if (p.proxy) stop_proxy(std::move(p.proxy));
  settle();
}

void NetworkService::kill_unreachable(Container& c, const std::string& why) {
  log::error("engine", "id={}: killed after the restart: {}", c.id, why);
  c.state.error = why;
  if (c.proc) (void)signal_process(*c.proc, SIGKILL);
}

}  // namespace berth::engine
