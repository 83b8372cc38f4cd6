// A container on its networks: checked at create, set up at each start
// (prepare() here, NetworkStart in its job), undone at its exit, and the
// views of it for inspect, ps and stats.
#include <fcntl.h>

#include <algorithm>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/network_internal.h"
#include "core/engine/process.h"

namespace berth::engine {

namespace {

Error conflicting(std::string_view what) {
  return Error::invalid("conflicting options: {} and the network mode", what);
}

}  // namespace

// --- create ---

Result<std::vector<std::string>> NetworkService::check_create(CreateSpec& spec, const fs::ImageConfig& img) {
  std::vector<std::string> warnings;
  NetworkSpec& net = spec.net;
  std::string& mode = spec.network_mode;
  if (mode.empty() || mode == "default") mode = default_network();
  net.endpoints.clear();
  auto requested = std::move(net.requested);
  net.requested.clear();
  if (is_container_mode(mode)) {
    Container* other = BERTH_TRY_CTX(e_.find(mode.substr(10)), "join the network of container {}", mode.substr(10));
    if (!net.ports.empty() || net.publish_all) return conflicting("port publishing");
    if (!spec.hostname.empty()) return conflicting("hostname");
    if (!net.dns.empty() || !net.dns_search.empty() || !net.dns_options.empty()) return conflicting("dns");
    if (!net.extra_hosts.empty()) return conflicting("custom host-to-IP mapping");
    if (!requested.empty()) return conflicting("networks (EndpointsConfig)");
    mode = "container:" + other->id;
    return warnings;
  }
  Network* n = BERTH_TRY(resolve(mode));
  if (!n->bridge_driver()) {
    mode = n->config.name;  // "host" or "none", also when given by id
    for (const auto& [name, ep] : requested)
      if (name != mode && name != n->config.id && name != "default")
        return Error::invalid("container cannot be connected to network {} with one of its networks in {} mode",
                              name, mode);
    if (mode == "host" && (!net.ports.empty() || net.publish_all)) {
      warnings.push_back("Published ports are discarded when using host network mode");
      net.ports.clear();
      net.publish_all = false;
    }
    if (mode == "none" && (!net.ports.empty() || net.publish_all))
      return Error::invalid("published ports need a network: the container's network mode is none");
    return warnings;
  }
  // The mode's network first (eth0, the default route), then the others.
  auto take = [&](Network& nw) -> Result<void> {
    EndpointSpec ep;
    for (const std::string& key : {mode, std::string("default"), nw.config.name, nw.config.id})
      if (auto it = requested.find(key); it != requested.end()) {
        ep = it->second;
        requested.erase(it);
        break;
      }
    if (!nw.user_defined() && !ep.ipv4.empty())
      return Error::invalid("user specified IP address is supported on user defined networks only");
    if (!nw.user_defined() && !ep.aliases.empty())
      return Error::invalid("network-scoped alias is supported only for containers in user defined networks");
    if (!ep.ipv4.empty() && nw.addr && !nw.addr->subnet.contains(*netns::parse_ip4(ep.ipv4)))
      return Error::invalid("no configured subnet or ip-range contain the IP address {}", ep.ipv4);
    for (const auto& e : net.endpoints)
      if (e.network == nw.config.id) return Error::invalid("container joins network {} twice", nw.config.name);
    ep.network = nw.config.id;
    net.endpoints.push_back(std::move(ep));
    return ok();
  };
  BERTH_TRY_VOID(take(*n));
  while (!requested.empty()) {
    std::string name = requested.begin()->first;
    Network* other = BERTH_TRY(resolve(name));
    if (!other->bridge_driver())
      return Error::invalid("container cannot be connected to network {} with one of its networks in bridge mode",
                            other->config.name);
    BERTH_TRY_VOID(take(*other));
    requested.erase(name);
  }
  if (n->config.internal && (!net.ports.empty() || net.publish_all))
    return Error::invalid("published ports cannot be reached on internal network {}", n->config.name);
  if (net.publish_all)
    for (const auto& e : img.exposed_ports) {
      auto k = parse_port_key(e);
      if (!k) continue;
      std::string key = port_key(k->port, k->proto);
      if (std::find(net.exposed.begin(), net.exposed.end(), key) == net.exposed.end()) net.exposed.push_back(key);
    }
  return warnings;
}

// --- start ---

Result<std::shared_ptr<NetworkStart>> NetworkService::prepare(Container& c, bool cold) {
  stop_running(c.id);  // nothing should be left, but a start begins clean
  auto job = std::make_shared<NetworkStart>();
  const std::string& mode = c.spec.network_mode;
  if (is_container_mode(mode)) {
    Container* other = BERTH_TRY_CTX(e_.find(mode.substr(10)), "join the network of container {}", mode.substr(10));
    if (!other->proc || other->proc->exited || !is_running(other->state.status))
      return Error::conflict("cannot join network of a non running container: {}", other->id);
    job->join_pidfd = BERTH_TRY_CTX(pidfd_of(*other->proc), "join the network of container {}", other->id);
    job->join_pid = other->proc->pid;
    return job;
  }
  if (c.spec.net.endpoints.empty()) {
    // none, host, or every network disconnected: the files of create, or
    // (a cold start: a container made before berth wrote them) now.
    if (!cold) return std::shared_ptr<NetworkStart>();
    job->files = files_at_create(c);
    return job;
  }
  auto links = link_targets(c);
  if (!links) return std::move(links.error());
  auto& run = running_[c.id];
  run = std::make_unique<Running>();
  Result<void> r = take_addresses(c, *run);
  if (r) r = bind_ports(c, *run);
  if (!r) {
    stop_running(c.id);
    return std::move(r.error());
  }
  const Network* first = by_id(run->endpoints[0].network_id);
  job->files = {hostname_file(c), hosts_file(c, run->endpoints[0].ip, *links), resolv_file(c, first, run.get())};
  for (size_t i = 0; i < run->endpoints.size(); i++) {
    Endpoint& ep = run->endpoints[i];
    Network& n = *by_id(ep.network_id);
    add_names(c, n, ep);
    netns::Attachment a;
    a.host_name = ep.host_veth;
    a.ifname = ep.ifname;
    a.ip = ep.ip;
    a.default_route = i == 0;
    job->links.push_back({n.bridge, a, Error(Code::kCancelled, "not attached")});
    ep.attached = true;  // from now on stopped() deletes it (a veth never made is no error)
  }
  for (const auto& p : run->ports) job->ports.push_back(p.m);
  job->nat = nat_;
  run->published = !job->ports.empty();
  return job;
}

// Addresses from each network's allocator: a static one (--ip) or the next
// free one; veth names and interface names in order.
Result<void> NetworkService::take_addresses(Container& c, Running& run) {
  for (const EndpointSpec& spec : c.spec.net.endpoints) {
    Network* n = by_id(spec.network);
    if (!n) return Error::not_found("network {} not found", spec.network);
    if (!n->bridge) return Error::make(Code::kSystem, "network {} is unavailable: {}", n->config.name, n->error);
    if (n->removing) return Error::conflict("network {} is being removed", n->config.name);
    Endpoint ep;
    ep.network_id = n->config.id;
    ep.endpoint_id = random_id();
    ep.ifname = fmt::format("eth{}", run.endpoints.size());
    ep.host_veth = netns::veth_name(c.id, c.veth_links++ % 256);
    ep.aliases = spec.aliases;
    if (!spec.ipv4.empty()) {
      netns::Ip4 ip = *netns::parse_ip4(spec.ipv4);
      BERTH_TRY_VOID(n->ipam->reserve(ip));
      ep.ip = ip;
    } else {
      ep.ip = BERTH_TRY_CTX(n->ipam->allocate(), "network {}", n->config.name);
    }
    ep.has_ip = true;
    ep.mac = netns::mac_for(ep.ip);
    run.endpoints.push_back(std::move(ep));
    save_ipam(*n);
  }
  return ok();
}

void NetworkService::add_names(const Container& c, Network& n, Endpoint& ep) {
  if (!n.dns) return;
  ep.dns_names = {c.name, c.id.substr(0, 12)};
  for (const auto& a : ep.aliases)
    if (std::find(ep.dns_names.begin(), ep.dns_names.end(), a) == ep.dns_names.end()) ep.dns_names.push_back(a);
  for (const auto& name : ep.dns_names) n.dns->add_name(name, ep.ip);
}

void NetworkService::renamed(const Container& c, const std::string& old) {
  auto it = running_.find(c.id);
  if (it == running_.end()) return;
  for (Endpoint& ep : it->second->endpoints) {
    Network* n = by_id(ep.network_id);
    if (!n || !n->dns) continue;
    for (std::string& name : ep.dns_names) {
      if (name != old) continue;
      n->dns->remove_name(name, ep.ip);
      name = c.name;
      n->dns->add_name(name, ep.ip);
    }
  }
}

void NetworkService::started(Container& c, NetworkStart& job) {
  auto it = running_.find(c.id);
  if (it == running_.end()) return;
  Running& run = *it->second;
  for (size_t i = 0; i < job.links.size() && i < run.endpoints.size(); i++) {
    // A link that failed deleted its own veth; one never tried has none.
    run.endpoints[i].attached = job.links[i].made.has_value();
    if (job.links[i].made) run.endpoints[i].mac = job.links[i].made->mac;
  }
  if (!job.published) run.published = false;  // one transaction: nothing was added
  run.ready = true;
}

// --- the end ---

void NetworkService::stopped(const Container& c) { stop_running(c.id); }

void NetworkService::stop_running(const std::string& id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  std::unique_ptr<Running> run = std::move(it->second);
  running_.erase(it);
  for (Endpoint& ep : run->endpoints) {
    Network* n = by_id(ep.network_id);
    if (!n) continue;
    if (n->dns) {
      for (const auto& name : ep.dns_names) n->dns->remove_name(name, ep.ip);
      n->dns->clear_client_upstreams(ep.ip);
    }
    if (ep.attached && n->bridge) queue_detach(*n, ep);
    else if (ep.has_ip) release_address(*n, ep.ip);
  }
  std::vector<netns::PortMapping> unpublish;
  for (Published& p : run->ports) {
    if (p.proxy) stop_proxy(std::move(p.proxy));
    p.udp.reset();
    unpublish.push_back(p.m);
  }
  if (run->published) queue_unpublish(std::move(unpublish));
  settle();
}

void NetworkService::queue_detach(Network& n, Endpoint& ep) {
  n.detach_q.push_back({ep.host_veth, ep.ip});
  flush_detach(n);
}

// Every veth queued meanwhile goes in one job (one link group: the kernel
// unregisters them after one RCU synchronisation); their addresses are
// given back after it. On the tidy lane: the job mostly waits for RCU
// grace periods (~20 ms for one veth here), which must neither hold back
// the idle-time warm inits nor take a job thread from starts.
void NetworkService::flush_detach(Network& n) {
  if (n.detaching || n.detach_q.empty()) return;
  auto batch = std::make_shared<std::vector<netns::Detachment>>(std::move(n.detach_q));
  n.detach_q.clear();
  n.detaching = true;
  jobs_++;
  auto result = std::make_shared<Result<void>>(ok());
  std::shared_ptr<netns::BridgeNetwork> bridge = n.bridge;
  std::string id = n.config.id;
  bool queued = e_.r_.run_tidy([bridge, batch, result] { *result = bridge->detach(*batch); },
                              [this, id, batch, result, life = std::weak_ptr<int>(life_)] {
                                if (life.expired()) return;
                                jobs_--;
                                Network* nw = by_id(id);
                                if (!*result) log::warn("engine", "delete veths: {}", result->error().message());
                                if (nw) {
                                  nw->detaching = false;
                                  for (const auto& d : *batch) release_address(*nw, d.ip);
                                  flush_detach(*nw);
                                  if (!nw->detaching) {
                                    auto fns = std::move(nw->after_detach);
                                    nw->after_detach.clear();
                                    for (auto& fn : fns) e_.r_.defer(std::move(fn));
                                  }
                                }
                                settle();
                              });
  if (!queued) {
    jobs_--;
    n.detaching = false;
    log::error("engine", "network {}: the job backlog is full; {} veths stay until restart", n.config.name,
               batch->size());
    for (const auto& d : *batch) release_address(n, d.ip);
    auto fns = std::move(n.after_detach);
    n.after_detach.clear();
    for (auto& fn : fns) e_.r_.defer(std::move(fn));
  }
}

void NetworkService::queue_unpublish(std::vector<netns::PortMapping> ports) {
  unpublish_q_.insert(unpublish_q_.end(), ports.begin(), ports.end());
  flush_unpublish();
}

void NetworkService::flush_unpublish() {
  if (unpublishing_ || unpublish_q_.empty() || !nat_) return;
  auto batch = std::make_shared<std::vector<netns::PortMapping>>(std::move(unpublish_q_));
  unpublish_q_.clear();
  unpublishing_ = true;
  jobs_++;
  std::shared_ptr<netns::Nat> nat = nat_;
  auto done = [this, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    jobs_--;
    unpublishing_ = false;
    flush_unpublish();
    settle();
  };
  bool queued = e_.r_.run_job(
      [nat, batch] {
        if (auto r = nat->remove_ports(*batch); !r) log::warn("engine", "unpublish ports: {}", r.error().message());
      },
      done);
  if (!queued) {
    log::error("engine", "the job backlog is full; {} published ports stay in the table until restart", batch->size());
    done();
  }
}

// --- views ---

std::vector<EndpointView> NetworkService::endpoints(const Container& c) const {
  std::vector<EndpointView> out;
  const Running* run = nullptr;
  if (auto it = running_.find(c.id); it != running_.end() && it->second->ready) run = it->second.get();
  const std::string& mode = c.spec.network_mode;
  if (c.spec.net.endpoints.empty() && (mode == "host" || mode == "none")) {
    for (const auto& [id, n] : networks_)
      if (n->config.name == mode) out.push_back({.network_id = id, .network_name = mode});
    return out;
  }
  for (const EndpointSpec& spec : c.spec.net.endpoints) {
    EndpointView v;
    v.network_id = spec.network;
    const Network* n = by_id(spec.network);
    v.network_name = n ? n->config.name : spec.network;
    v.aliases = spec.aliases;
    v.ipam_ipv4 = spec.ipv4;
    if (run)
      for (const Endpoint& ep : run->endpoints) {
        if (ep.network_id != spec.network) continue;
        v.endpoint_id = ep.endpoint_id;
        v.ip = netns::to_string(ep.ip);
        v.mac = netns::to_string(ep.mac);
        v.dns_names = ep.dns_names;
        if (n && n->addr) {
          v.gateway = netns::to_string(n->addr->gateway);
          v.prefix = n->addr->subnet.prefix;
        }
      }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<PortView> NetworkService::ports(const Container& c) const {
  std::vector<PortView> out;
  auto it = running_.find(c.id);
  if (it == running_.end() || !it->second->ready) return out;
  for (const Published& p : it->second->ports)
    out.push_back({p.m.container_port, netns::proto_name(p.m.proto),
                   p.m.host_ip ? netns::to_string(*p.m.host_ip) : "0.0.0.0", p.m.host_port});
  for (const auto& key : c.spec.net.exposed) {
    auto k = parse_port_key(key);
    if (!k) continue;
    bool published = std::any_of(out.begin(), out.end(), [&](const PortView& v) {
      return v.container_port == k->port && v.proto == k->proto && v.host_port != 0;
    });
    if (!published) out.push_back({k->port, k->proto, "", 0});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> NetworkService::interfaces(const std::string& id) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = running_.find(id);
  if (it == running_.end() || !it->second->ready) return out;
  for (const Endpoint& ep : it->second->endpoints)
    if (ep.attached) out.emplace_back(ep.host_veth, ep.ifname);
  return out;
}

std::vector<NetworkMember> NetworkService::members(const std::string& network_id) const {
  std::vector<NetworkMember> out;
  const Network* n = by_id(network_id);
  for (const auto& [id, run] : running_) {
    if (!run->ready) continue;
    for (const Endpoint& ep : run->endpoints) {
      if (ep.network_id != network_id) continue;
      std::string ipv4 = netns::to_string(ep.ip);
      if (n && n->addr) ipv4 += fmt::format("/{}", n->addr->subnet.prefix);
      out.push_back({id, container_name_of(id), ep.endpoint_id, netns::to_string(ep.mac), ipv4});
    }
  }
  return out;
}

bool NetworkService::in_use(const std::string& network_id) const {
  for (const auto& [id, run] : running_)
    for (const Endpoint& ep : run->endpoints)
      if (ep.network_id == network_id) return true;
  return false;
}

std::string NetworkService::container_name_of(const std::string& id) const {
  auto it = e_.containers().find(id);
  return it == e_.containers().end() ? "" : it->second->name;
}

}  // namespace berth::engine
