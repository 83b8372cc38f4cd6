// docker network connect and disconnect. A stopped container only changes
// its configuration (its next start joins or leaves); a running one gets
// or loses an interface at once: eth1 (the lowest free ethN), made like
// eth0 directly in its namespace by a job, without a default route.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/network_internal.h"
#include "core/engine/process.h"

namespace berth::engine {

namespace {

// Whether the container's mode lets it join or leave bridge networks.
Result<void> check_mode(const Container& c) {
  const std::string& mode = c.spec.network_mode;
  if (mode == "host" || is_container_mode(mode))
    return Error::invalid("container sharing network namespace with another container or host cannot be "
                          "connected to any other network");
  if (mode == "none")
    return Error::invalid("container cannot be connected to multiple networks with one of the networks in private "
                          "(none) mode");
  return ok();
}

std::string free_ifname(const std::vector<std::string>& used) {
  for (unsigned i = 0;; i++) {
    std::string name = fmt::format("eth{}", i);
    if (std::find(used.begin(), used.end(), name) == used.end()) return name;
  }
}

}  // namespace

void NetworkService::connect(std::string_view ref, Container& c, EndpointSpec ep, Done done) {
  if (auto ok_ = can(Verb::kConnect, c.state.status, c.id); !ok_) return done(std::move(ok_));
  if (c.starting) return done(Error::conflict("container {} is being started; connect it when it runs", c.id));
  auto found = resolve(ref);
  if (!found) return done(std::move(found.error()));
  Network& n = **found;
  if (!n.bridge_driver())
    return done(Error::invalid("{}", n.config.driver == "host"
                                         ? "container cannot be disconnected from host network or connected to host "
                                           "network"
                                         : "container cannot be connected to multiple networks with one of the "
                                           "networks in private (none) mode"));
  if (auto r = check_mode(c); !r) return done(std::move(r));
  for (const auto& e : c.spec.net.endpoints)
    if (e.network == n.config.id)
      return done(Error::conflict("endpoint with name {} already exists in network {}", c.name, n.config.name));
  if (!n.user_defined() && !ep.ipv4.empty())
    return done(Error::invalid("user specified IP address is supported on user defined networks only"));
  if (!n.user_defined() && !ep.aliases.empty())
    return done(Error::invalid("network-scoped alias is supported only for containers in user defined networks"));
  ep.network = n.config.id;
  if (!is_running(c.state.status) || !c.proc || c.proc->exited) {
    c.spec.net.endpoints.push_back(std::move(ep));
    e_.persist(c);
    return e_.when_persisted(c, [done] { done(ok()); });
  }
  if (!n.bridge) return done(Error::make(Code::kSystem, "network {} is unavailable: {}", n.config.name, n.error));
  if (n.removing) return done(Error::conflict("network {} is being removed", n.config.name));
  auto& slot = running_[c.id];
  if (!slot) {
    slot = std::make_unique<Running>();  // it started with every network disconnected
    slot->ready = true;
  }
  Running& run = *slot;
  Endpoint e;
  e.network_id = n.config.id;
  e.endpoint_id = random_id();
  std::vector<std::string> used;
  for (const auto& x : run.endpoints) used.push_back(x.ifname);
  e.ifname = free_ifname(used);
  e.host_veth = netns::veth_name(c.id, c.veth_links++ % 256);
  e.aliases = ep.aliases;
  if (!ep.ipv4.empty()) {
    if (auto r = n.ipam->reserve(*netns::parse_ip4(ep.ipv4)); !r) return done(std::move(r.error()));
    e.ip = *netns::parse_ip4(ep.ipv4);
  } else {
    auto ip = n.ipam->allocate();
    if (!ip) return done(std::move(ip.error()).context("network {}", n.config.name));
    e.ip = *ip;
  }
  e.has_ip = true;
  e.mac = netns::mac_for(e.ip);
  e.attached = true;
  save_ipam(n);
  add_names(c, n, e);

  struct Job {
    unique_fd pidfd;
    pid_t pid = 0;
    std::shared_ptr<netns::BridgeNetwork> bridge;
    netns::Attachment req;
    Result<netns::Attached> made = Error(Code::kCancelled, "not attached");
  };
  auto job = std::make_shared<Job>();
  if (auto fd = pidfd_of(*c.proc); fd) job->pidfd = std::move(*fd);
  job->pid = c.proc->pid;
  job->bridge = n.bridge;
  job->req.host_name = e.host_veth;
  job->req.ifname = e.ifname;
  job->req.ip = e.ip;
  job->req.default_route = false;
  run.endpoints.push_back(std::move(e));
  jobs_++;
  auto work = [job] {
    auto ns = open_fd(fmt::format("/proc/{}/ns/net", job->pid), O_RDONLY);
    if (!ns || ::syscall(SYS_pidfd_send_signal, job->pidfd.get(), 0, nullptr, 0) < 0) {
      job->made = Error::conflict("the container stopped");
      return;
    }
    job->req.netns_fd = ns->get();
    job->made = std::move(job->bridge->attach(std::span<const netns::Attachment>(&job->req, 1))[0]);
  };
  std::string id = c.id, net_id = n.config.id, host_veth = job->req.host_name;
  auto finish = [this, job, id, net_id, host_veth, ep, done, life = std::weak_ptr<int>(life_)]() mutable {
    if (life.expired()) return;
    jobs_--;
    Container* ct = e_.by_id(id);
    auto it = running_.find(id);
    Endpoint* e = nullptr;
    if (it != running_.end())
      for (auto& x : it->second->endpoints)
        if (x.host_veth == host_veth) e = &x;
    if (!job->made || !ct || !e) {
      if (e) {
        e->attached = job->made.has_value();
        Running& run = *it->second;
        Network* nw = by_id(net_id);
        if (nw && nw->dns)
          for (const auto& name : e->dns_names) nw->dns->remove_name(name, e->ip);
        if (nw && e->attached) queue_detach(*nw, *e);
        else if (nw) release_address(*nw, e->ip);
        run.endpoints.erase(run.endpoints.begin() + (e - run.endpoints.data()));
      }
      settle();
      return done(job->made ? Error::conflict("container {} stopped", id)
                            : std::move(job->made.error()).context("connect container {}", id));
    }
    e->mac = job->made->mac;
    ct->spec.net.endpoints.push_back(std::move(ep));
    log::info("engine", "connect id={} network={} if={} ip={}", id, net_id, e->ifname, netns::to_string(e->ip));
    e_.persist(*ct);
    e_.when_persisted(*ct, [done] { done(ok()); });
    settle();
  };
  if (!e_.r_.run_job(work, finish)) {
    job->made = Error(Code::kSystem, "berthd is too busy (job backlog full); try again");
    finish();
  }
}

void NetworkService::disconnect(std::string_view ref, Container& c, bool force, Done done) {
  if (auto ok_ = can(Verb::kDisconnect, c.state.status, c.id); !ok_) return done(std::move(ok_));
  if (c.starting) return done(Error::conflict("container {} is being started; disconnect it when it runs", c.id));
  auto found = resolve(ref);
  if (!found) return done(std::move(found.error()));
  Network& n = **found;
  if (!n.bridge_driver() || c.spec.network_mode == "host" || is_container_mode(c.spec.network_mode))
    return done(Error::invalid("container cannot be disconnected from host network or connected to host network"));
  auto& eps = c.spec.net.endpoints;
  auto it = std::find_if(eps.begin(), eps.end(), [&](const EndpointSpec& e) { return e.network == n.config.id; });
  if (it == eps.end())
    return done(Error::conflict("container {} is not connected to network {}", c.id, n.config.name));
  (void)force;  // a forced disconnect is the same here: nothing of it can refuse
  eps.erase(it);
  bool detaching = false;
  if (auto r = running_.find(c.id); r != running_.end()) {
    auto& rep = r->second->endpoints;
    for (size_t i = 0; i < rep.size(); i++) {
      if (rep[i].network_id != n.config.id) continue;
      Endpoint& e = rep[i];
      if (n.dns) {
        for (const auto& name : e.dns_names) n.dns->remove_name(name, e.ip);
        n.dns->clear_client_upstreams(e.ip);
      }
      if (e.attached && n.bridge) {
        queue_detach(n, e);
        detaching = true;
      } else if (e.has_ip) {
        release_address(n, e.ip);
      }
      rep.erase(rep.begin() + ptrdiff_t(i));
      break;
    }
  }
  log::info("engine", "disconnect id={} network={}", c.id, n.config.id);
  e_.persist(c);
  // The answer once the state is saved and the interface is gone.
  auto reply = [this, id = c.id, done] {
    Container* ct = e_.by_id(id);
    if (!ct) return done(ok());
    e_.when_persisted(*ct, [done] { done(ok()); });
  };
  if (detaching && n.detaching) n.after_detach.push_back(std::move(reply));
  else reply();
}

}  // namespace berth::engine
