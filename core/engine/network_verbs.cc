// docker network create, rm and prune: user-defined bridge networks, each
// a bridge (its name from com.docker.network.bridge.name or "br-" and the
// id's first 12 characters), a place in berth's nftables table, an
// allocator and a DNS responder on its gateway.
#include <unistd.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/network_internal.h"

namespace berth::engine {

namespace {

constexpr const char* kBridgeNameOption = "com.docker.network.bridge.name";
constexpr const char* kMtuOption = "com.docker.network.driver.mtu";

Result<void> check_options(const std::map<std::string, std::string>& opts) {
  for (const auto& [k, v] : opts) {
    if (k == kBridgeNameOption) {
      if (v.empty() || v.size() > 15) return Error::invalid("invalid bridge name \"{}\": 1 to 15 characters", v);
      continue;
    }
    if (k == kMtuOption) {
      auto n = parse_int(v);
      if (!n || *n < 68 || *n > 65535) return Error::invalid("invalid MTU \"{}\": a number from 68 to 65535", v);
      continue;
    }
    return Error::invalid("network option {} is not supported by berth", k);
  }
  return ok();
}

}  // namespace

// The first 10.N.0.0/16 (N from 89) that no network of ours overlaps.
static Result<netns::NetworkAddressing> choose_subnet(const std::vector<netns::Subnet>& taken) {
  for (unsigned n = 89; n < 255; n++) {
    netns::Subnet s{netns::Ip4{(10u << 24) | (n << 16)}, 16};
    bool free = true;
    for (const auto& t : taken) free = free && !t.overlaps(s);
    if (free) return netns::parse_addressing(netns::to_string(s));
  }
  return Error::make(Code::kConflict, "could not find an available, non-overlapping IPv4 address pool among the defaults "
                                      "to assign to the network");
}

void NetworkService::create(NetworkCreate req, DoneWith<std::string> done) {
  if (shutting_down_) return done(Error::conflict("berthd is shutting down"));
  if (!valid_name(req.name)) return done(Error::invalid("invalid network name \"{}\"", req.name));
  for (const auto& [id, n] : networks_)
    if (n->config.name == req.name) return done(Error::conflict("network with name {} already exists", req.name));
  if (pending_names_.count(req.name)) return done(Error::conflict("network with name {} already exists", req.name));
  if (req.driver.empty()) req.driver = "bridge";
  if (req.driver == "host" || req.driver == "null")
    return done(Error::conflict("only one instance of \"{}\" network is allowed", req.driver));
  if (req.driver != "bridge") return done(Error::not_found("plugin \"{}\" not found", req.driver));
  if (auto r = check_options(req.options); !r) return done(std::move(r.error()));
  if (!nat_) return done(Error::make(Code::kSystem, "bridge networks are unavailable: {}", nat_error_));

  std::vector<netns::Subnet> taken;
  for (const auto& [id, n] : networks_)
    if (n->addr) taken.push_back(n->addr->subnet);
  Result<netns::NetworkAddressing> addr = Error(Code::kCancelled, "");
  if (req.subnet.empty()) {
    if (!req.gateway.empty() || !req.ip_range.empty())
      return done(Error::invalid("invalid pool request: a gateway or an IP range needs a subnet"));
    addr = choose_subnet(taken);
  } else {
    addr = netns::parse_addressing(req.subnet, req.ip_range, req.gateway);
    if (addr)
      for (const auto& t : taken)
        if (t.overlaps(addr->subnet))
          return done(Error::conflict("invalid pool request: Pool overlaps with other one on this address space"));
  }
  if (!addr) return done(std::move(addr.error()));

  NetworkConfig cfg;
  cfg.id = random_id();
  cfg.name = req.name;
  cfg.driver = "bridge";
  cfg.created_ns = now_ns();
  cfg.internal = req.internal;
  cfg.attachable = req.attachable;
  cfg.labels = req.labels;
  cfg.options = req.options;
  auto bn = req.options.find(kBridgeNameOption);
  cfg.bridge = bn != req.options.end() ? bn->second : "br-" + cfg.id.substr(0, 12);
  for (const auto& [id, n] : networks_)
    if (n->config.bridge == cfg.bridge)
      return done(Error::conflict("bridge {} is already used by network {}", cfg.bridge, n->config.name));
  cfg.subnet = netns::to_string(addr->subnet);
  cfg.gateway = netns::to_string(addr->gateway);
  if (!req.ip_range.empty()) cfg.ip_range = netns::to_string(addr->ip_range);

  struct Job {
    NetworkConfig cfg;
    netns::NetworkAddressing addr;
    netns::BridgeOptions bo;
    std::shared_ptr<netns::Nat> nat;
    std::string file, ipam_file, ipam_text;
    std::unique_ptr<netns::BridgeNetwork> bridge;
    Result<void> result = ok();
  };
  auto job = std::make_shared<Job>();
  job->cfg = cfg;
  job->addr = *addr;
  job->bo.name = cfg.bridge;
  job->bo.gateway = {addr->gateway, addr->subnet.prefix};
  if (auto m = cfg.options.find(kMtuOption); m != cfg.options.end()) job->bo.mtu = unsigned(*parse_int(m->second));
  job->bo.ports_per_bridge = opts_.ports_per_bridge;
  job->nat = nat_;
  job->file = network_file(dir_, cfg.id);
  job->ipam_file = netns::ipam_path(dir_, cfg.id);
  job->ipam_text = netns::Ipam(*addr).encode();
  pending_names_.insert(cfg.name);
  jobs_++;
  auto work = [job] {
    job->result = [&]() -> Result<void> {
      auto b = BERTH_TRY(netns::BridgeNetwork::open(job->bo));
      netns::NatNetwork nn{job->cfg.bridge, job->addr.subnet, job->addr.gateway, job->cfg.internal};
      if (auto r = job->nat->add_network(nn); !r) {
        (void)b->destroy();
        return r;
      }
      auto w = write_file_atomic(job->ipam_file, job->ipam_text, 0600);
      if (w) w = write_file_atomic(job->file, encode_network(job->cfg), 0600);
      if (!w) {
        (void)job->nat->remove_network(nn);
        (void)b->destroy();
        ::unlink(job->ipam_file.c_str());
        return w;
      }
      job->bridge = std::move(b);
      return ok();
    }();
  };
  auto finish = [this, job, done, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    jobs_--;
    pending_names_.erase(job->cfg.name);
    if (!job->result) {
      settle();
      return done(std::move(job->result.error()).context("create network {}", job->cfg.name));
    }
    auto n = std::make_unique<Network>();
    n->config = job->cfg;
    n->addr = job->addr;
    n->ipam.emplace(job->addr);
    n->bridge = std::shared_ptr<netns::BridgeNetwork>(std::move(job->bridge));
    Network& nw = *n;
    networks_[job->cfg.id] = std::move(n);
    start_dns(nw);
    log::info("engine", "network create id={} name={} subnet={} bridge={}", nw.config.id, nw.config.name,
              nw.config.subnet, nw.config.bridge);
    settle();
    done(nw.config.id);
  };
  if (!e_.r_.run_job(work, finish)) {
    jobs_--;
    pending_names_.erase(cfg.name);
    done(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
  }
}

void NetworkService::remove(std::string_view ref, Done done) {
  auto found = resolve(ref);
  if (!found) return done(std::move(found.error()));
  Network* n = *found;
  if (n->config.predefined())
    return done(Error::conflict("{} is a pre-defined network and cannot be removed", n->config.name));
  if (in_use(n->config.id))
    return done(Error::conflict("error while removing network: network {} id {} has active endpoints", n->config.name,
                                n->config.id));
  if (n->removing) return done(Error::conflict("network {} is already being removed", n->config.name));
  n->removing = true;
  std::string id = n->config.id;
  // The last veths of its containers go first: the bridge is theirs.
  if (n->detaching || !n->detach_q.empty()) {
    n->after_detach.push_back([this, id, done] {
      Network* nw = by_id(id);
      if (!nw) return done(ok());
      nw->removing = false;
      remove(id, done);
    });
    return;
  }
  auto after_dns = [this, id, done, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    Network* nw = by_id(id);
    if (!nw) return done(ok());
    struct Job {
      std::shared_ptr<netns::BridgeNetwork> bridge;
      std::shared_ptr<netns::Nat> nat;
      netns::NatNetwork nn;
      std::string file, ipam_file;
      Result<void> result = ok();
    };
    auto job = std::make_shared<Job>();
    job->bridge = std::move(nw->bridge);
    job->nat = nat_;
    if (nw->addr) job->nn = {nw->config.bridge, nw->addr->subnet, nw->addr->gateway, nw->config.internal};
    job->file = network_file(dir_, id);
    job->ipam_file = nw->ipam_file(dir_);
    jobs_++;
    auto work = [job] {
      // Its file goes first: a crash after it leaves a bridge that no
      // network claims, never a network without its bridge.
      if (::unlink(job->file.c_str()) < 0 && errno != ENOENT) {
        job->result = Error::sys(errno, "remove {}", job->file);
        return;
      }
      ::unlink(job->ipam_file.c_str());
      if (job->nat && job->bridge) (void)job->nat->remove_network(job->nn);
      if (job->bridge)
        if (auto r = job->bridge->destroy(); !r) log::warn("engine", "delete bridge: {}", r.error().message());
    };
    auto finish = [this, id, job, done, life] {
      if (life.expired()) return;
      jobs_--;
      Network* nw = by_id(id);
      if (!job->result) {
        if (nw) {
          nw->removing = false;
          nw->bridge = job->bridge;
        }
        settle();
        return done(std::move(job->result.error()));
      }
      if (nw) log::info("engine", "network destroy id={} name={}", id, nw->config.name);
      networks_.erase(id);
      settle();
      done(ok());
    };
    if (!e_.r_.run_job(work, finish)) {
      jobs_--;
      nw->removing = false;
      nw->bridge = job->bridge;
      done(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
    }
  };
  if (!n->dns) return after_dns();
  netns::DnsServer* raw = n->dns.get();
  stopping_dns_.push_back(std::move(n->dns));
  raw->stop([this, raw, after_dns] {
    stopping_dns_.remove_if([raw](const auto& p) { return p.get() == raw; });
    after_dns();
  });
}

namespace {

struct PruneRun {
  std::vector<std::string> ids, removed;
  DoneWith<std::vector<std::string>> done;
};

// One network after the other: the next removal starts when the last ends.
void prune_next(NetworkService& s, std::shared_ptr<PruneRun> run, size_t i) {
  for (; i < run->ids.size(); i++) {
    auto n = s.find(run->ids[i]);
    if (n && !(*n)->predefined() && !s.in_use((*n)->id)) break;
  }
  if (i >= run->ids.size()) return run->done(std::move(run->removed));
  std::string name = (*s.find(run->ids[i]))->name;
  s.remove(run->ids[i], [&s, run, name, i](Result<void> r) {
    if (r) run->removed.push_back(name);
    prune_next(s, run, i + 1);
  });
}

}  // namespace

void NetworkService::prune(std::vector<std::string> ids, DoneWith<std::vector<std::string>> done) {
  auto run = std::make_shared<PruneRun>();
  run->ids = std::move(ids);
  run->done = std::move(done);
  prune_next(*this, run, 0);
}

}  // namespace berth::engine
