// NetworkService (networks.h): open and reconcile, the allocators' files,
// the responders, lookups, shutdown.
#include <algorithm>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/network_internal.h"

namespace berth::engine {

namespace {

bool same_addressing(const netns::NetworkAddressing& a, const netns::NetworkAddressing& b) {
  return a.subnet == b.subnet && a.gateway == b.gateway && a.ip_range == b.ip_range;
}

// --bip: "10.88.0.1/16" (the gateway and the prefix) or "10.88.0.0/16" (a
// subnet: its first host is the gateway).
Result<std::pair<std::string, std::string>> bip_subnet_gateway(const std::string& bip) {
  auto c = netns::parse_cidr(bip);
  if (!c) return Error::invalid("invalid --bip {}: expected an address with a prefix, as 10.88.0.1/16", bip);
  netns::Subnet s = c->subnet();
  std::string gw = c->addr == s.network ? "" : netns::to_string(c->addr);
  auto a = BERTH_TRY_CTX(netns::parse_addressing(netns::to_string(s), "", gw), "--bip {}", bip);
  return std::pair{netns::to_string(a.subnet), netns::to_string(a.gateway)};
}

unsigned mtu_of(const NetworkConfig& c) {
  auto it = c.options.find("com.docker.network.driver.mtu");
  if (it == c.options.end()) return 1500;
  auto n = parse_int(it->second);
  return n && *n >= 68 && *n <= 65535 ? unsigned(*n) : 1500;
}

}  // namespace

NetworkService::NetworkService(Engine& e, const Options& o) : e_(e), opts_(o), dir_(o.root + "/networks") {}

NetworkService::~NetworkService() = default;

Result<void> NetworkService::open() {
  BERTH_TRY_VOID(make_dirs(dir_, 0700));
  if (auto text = read_file("/etc/resolv.conf")) host_resolv_ = netns::parse_resolv_conf(*text);
  for (auto& cfg : BERTH_TRY(load_networks(dir_))) {
    auto n = std::make_unique<Network>();
    n->config = std::move(cfg);
    std::string id = n->config.id;
    networks_[id] = std::move(n);
  }
  BERTH_TRY_VOID(ensure_predefined());
  if (!nat_ && nat_error_.empty()) open_nat();
  auto kept = kept_running();
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<netns::Ip4>>> keep;  // by network
  for (const auto& [cid, run] : kept)
    for (const Endpoint& ep : run->endpoints) {
      keep[ep.network_id].first.push_back(ep.host_veth);
      keep[ep.network_id].second.push_back(ep.ip);
    }
  for (auto& [id, n] : networks_) {
    if (!n->bridge_driver()) continue;
    if (auto r = open_network(*n, keep[id].first, keep[id].second); !r) {
      n->error = r.error().message();
      log::error("engine", "network {} ({}) unavailable: {}", n->config.name, id.substr(0, 12), n->error);
    }
  }
  // Last: nothing below fails, and a responder must be stopped before it
  // is destroyed.
  for (auto& [id, n] : networks_)
    if (n->bridge && n->user_defined()) start_dns(*n);
  readopt(std::move(kept));
  opened_ = true;
  return ok();
}

void NetworkService::open_nat() {
  auto nat = netns::Nat::create({.table = opts_.nat_table,
                                 .netns_fd = -1,
                                 .enable_ip_forward = true,
                                 .loopback_dnat = !opts_.userland_proxy});
  if (nat) nat_ = std::shared_ptr<netns::Nat>(std::move(*nat));
  else nat_error_ = nat.error().message();
  if (!nat_) log::error("engine", "bridge networks unavailable: nftables table {}: {}", opts_.nat_table, nat_error_);
}

Result<void> NetworkService::ensure_predefined() {
  auto named = [this](const std::string& name) -> Network* {
    for (auto& [id, n] : networks_)
      if (n->config.name == name) return n.get();
    return nullptr;
  };
  auto add = [this](NetworkConfig cfg) -> Result<void> {
    BERTH_TRY_VOID(write_file_atomic(network_file(dir_, cfg.id), encode_network(cfg), 0600));
    auto n = std::make_unique<Network>();
    n->config = std::move(cfg);
    std::string id = n->config.id;
    networks_[id] = std::move(n);
    return ok();
  };
  for (const char* name : {"host", "none"}) {
    if (named(name)) continue;
    NetworkConfig c;
    c.id = random_id();
    c.name = name;
    c.driver = std::string(name) == "host" ? "host" : "null";
    c.created_ns = now_ns();
    BERTH_TRY_VOID(add(std::move(c)));
  }
  Network* b = named("bridge");
  if (opts_.bridge == "none") {
    if (b) networks_.erase(b->config.id);  // its file stays for a daemon with a bridge
    return ok();
  }
  auto [subnet, gateway] = BERTH_TRY(bip_subnet_gateway(opts_.bip));
  NetworkConfig c = b ? b->config : NetworkConfig{};
  if (!b) {
    c.id = random_id();
    c.name = "bridge";
    c.created_ns = now_ns();
  }
  c.driver = "bridge";
  c.bridge = opts_.bridge;
  c.subnet = subnet;
  c.gateway = gateway;
  c.options = {{"com.docker.network.bridge.default_bridge", "true"},
               {"com.docker.network.bridge.name", opts_.bridge},
               {"com.docker.network.driver.mtu", "1500"}};
  if (b && encode_network(b->config) == encode_network(c)) return ok();
  if (b) networks_.erase(c.id);
  return add(std::move(c));
}

// A bridge network's allocator (reconciled: only the re-adopted
// containers' addresses stay), its bridges (other veths deleted) and its
// place in the nftables table.
Result<void> NetworkService::open_network(Network& n, std::span<const std::string> keep_veths,
                                          std::span<const netns::Ip4> keep_ips) {
  const NetworkConfig& c = n.config;
  n.addr = BERTH_TRY_CTX(netns::parse_addressing(c.subnet, c.ip_range, c.gateway), "network {}", c.name);
  std::string path = n.ipam_file(dir_);
  auto loaded = netns::Ipam::load(path);
  if (loaded && same_addressing(loaded->addressing(), *n.addr)) n.ipam = std::move(*loaded);
  else n.ipam.emplace(*n.addr);
  auto released = n.ipam->reconcile(keep_ips);
  if (!released.empty())
    log::info("engine", "network {}: {} addresses of containers lost in a crash released", c.name, released.size());
  if (auto r = n.ipam->save(path); !r) log::warn("engine", "network {}: {}", c.name, r.error().message());
  if (!nat_) return Error::make(Code::kSystem, "no nftables table ({})", nat_error_);
  netns::BridgeOptions bo;
  bo.name = c.bridge;
  bo.gateway = {n.addr->gateway, n.addr->subnet.prefix};
  bo.mtu = mtu_of(c);
  bo.ports_per_bridge = opts_.ports_per_bridge;
  auto bridge = BERTH_TRY(netns::BridgeNetwork::open(bo));
  auto rep = bridge->reconcile(keep_veths, keep_ips);
  if (!rep) log::warn("engine", "network {}: reconcile: {}", c.name, rep.error().message());
  else if (!rep->removed_veths.empty() || !rep->removed_neighbours.empty())
    log::info("engine", "network {}: removed {} veths and {} neighbour entries left by a crash", c.name,
              rep->removed_veths.size(), rep->removed_neighbours.size());
  BERTH_TRY_VOID(nat_->add_network({c.bridge, n.addr->subnet, n.addr->gateway, c.internal}));
  n.bridge = std::shared_ptr<netns::BridgeNetwork>(std::move(bridge));
  return ok();
}

// The responder of a user-defined network, on its gateway; it forwards
// other names to the host's nameservers (those berthd itself can reach).
void NetworkService::start_dns(Network& n) {
  netns::ResolvInput in;
  in.host = host_resolv_;
  in.internal_dns = n.addr->gateway;
  n.upstreams.clear();
  if (auto rc = netns::resolv_conf(in))
    for (const auto& ns : rc->upstreams)
      if (auto u = netns::parse_upstream(ns)) n.upstreams.push_back(std::move(*u));
  netns::DnsServerOptions o;
  o.address = n.addr->gateway;
  o.upstreams = n.upstreams;
  auto s = netns::DnsServer::start(e_.r_, o);
  if (!s) {
    log::error("engine", "network {}: no DNS responder: {}", n.config.name, s.error().message());
    return;
  }
  n.dns = std::move(*s);
}

NetworkService::Network* NetworkService::by_id(const std::string& id) {
  auto it = networks_.find(id);
  return it == networks_.end() ? nullptr : it->second.get();
}

const NetworkService::Network* NetworkService::by_id(const std::string& id) const {
  auto it = networks_.find(id);
  return it == networks_.end() ? nullptr : it->second.get();
}

// Docker's lookup order: full id, then name, then a unique id prefix.
Result<NetworkService::Network*> NetworkService::resolve(std::string_view ref) {
  if (ref.empty()) return Error::not_found("network not found");
  if (Network* n = by_id(std::string(ref))) return n;
  for (auto& [id, n] : networks_)
    if (n->config.name == ref) return n.get();
  Network* found = nullptr;
  for (auto& [id, n] : networks_) {
    if (!starts_with(id, ref)) continue;
    if (found) return Error::invalid("network {} is ambiguous ({} matches found based on ID prefix)", ref, 2);
    found = n.get();
  }
  if (found) return found;
  return Error::not_found("network {} not found", ref);
}

Result<const NetworkConfig*> NetworkService::find(std::string_view ref) const {
  Network* n = BERTH_TRY(const_cast<NetworkService*>(this)->resolve(ref));
  return &n->config;
}

std::vector<const NetworkConfig*> NetworkService::list() const {
  std::vector<const NetworkConfig*> out;
  for (const auto& [id, n] : networks_) out.push_back(&n->config);
  return out;
}

std::string NetworkService::default_network() const {
  for (const auto& [id, n] : networks_)
    if (n->config.name == "bridge") return "bridge";
  return "none";
}

// The allocator's file, written on the job lane; a change while a write
// is under way is followed by one more write.
void NetworkService::save_ipam(Network& n) {
  if (!n.ipam) return;
  if (n.ipam_saving) {
    n.ipam_dirty = true;
    return;
  }
  n.ipam_saving = true;
  n.ipam_dirty = false;
  auto text = std::make_shared<std::string>(n.ipam->encode());
  auto result = std::make_shared<Result<void>>(ok());
  std::string path = n.ipam_file(dir_), id = n.config.id;
  jobs_++;
  bool queued = e_.r_.run_job([text, path, result] { *result = write_file_atomic(path, *text, 0600, false); },
                              [this, id, result, life = std::weak_ptr<int>(life_)] {
                                if (life.expired()) return;
                                jobs_--;
                                Network* nw = by_id(id);
                                if (!*result) log::warn("engine", "save ipam {}: {}", id, result->error().message());
                                if (nw) {
                                  nw->ipam_saving = false;
                                  if (nw->ipam_dirty) save_ipam(*nw);
                                }
                                settle();
                              });
  if (!queued) {
    jobs_--;
    n.ipam_saving = false;
    log::error("engine", "network {}: the job backlog is full; its allocator is saved later", n.config.name);
  }
}

void NetworkService::release_address(Network& n, netns::Ip4 ip) {
  if (n.ipam && n.ipam->release(ip)) save_ipam(n);
}

bool NetworkService::busy() const {
  if (jobs_ > 0 || unpublishing_ || !unpublish_q_.empty() || !stopping_proxies_.empty() || !stopping_dns_.empty())
    return true;
  for (const auto& [id, n] : networks_)
    if (n->detaching || !n->detach_q.empty() || n->ipam_saving) return true;
  return false;
}

void NetworkService::shutdown(std::function<void()> done) {
  if (shutting_down_) return;  // under way: its own callback comes
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  std::vector<std::string> ids;
  for (const auto& [id, run] : running_) ids.push_back(id);
  for (const auto& id : ids) stop_running(id);
  for (auto& [id, n] : networks_) {
    if (!n->dns) continue;
    netns::DnsServer* raw = n->dns.get();
    stopping_dns_.push_back(std::move(n->dns));
    raw->stop([this, raw] {
      stopping_dns_.remove_if([raw](const auto& p) { return p.get() == raw; });
      settle();
    });
  }
  settle();
}

// Once nothing of ours is in flight during a shutdown: the bridges and the
// table go, and the allocators (empty by now) are saved, in one last job.
void NetworkService::settle() {
  if (!shutdown_done_ || busy()) return;
  struct Final {
    std::vector<std::shared_ptr<netns::BridgeNetwork>> bridges;
    std::shared_ptr<netns::Nat> nat;
    std::vector<std::pair<std::string, std::string>> ipams;  // path, text
  };
  auto f = std::make_shared<Final>();
  for (auto& [id, n] : networks_) {
    if (n->bridge) f->bridges.push_back(std::move(n->bridge));
    if (n->ipam) f->ipams.emplace_back(n->ipam_file(dir_), n->ipam->encode());
  }
  f->nat = std::move(nat_);
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  jobs_++;
  if (left_running_ > 0) {
    // Containers run on with their veths and ports: the bridges and the
    // table stay for the next berthd (network_readopt.cc).
    log::info("engine", "networks: bridges and the nftables table stay for {} containers left running",
              left_running_);
    f->bridges.clear();
    f->nat.reset();
  }
  auto work = [f] {
    for (auto& b : f->bridges)
      if (auto r = b->destroy(); !r) log::warn("engine", "delete bridge {}: {}", b->name(), r.error().message());
    if (f->nat)
      if (auto r = f->nat->destroy(); !r) log::warn("engine", "delete nftables table: {}", r.error().message());
    for (auto& [path, text] : f->ipams) (void)write_file_atomic(path, text, 0600, true);
  };
  auto finish = [this, done, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    jobs_--;
    closed_ = true;
    done();
  };
  if (!e_.r_.run_job(work, finish)) {
    log::error("engine", "networks: the job backlog is full at shutdown; bridges and the table stay");
    finish();
  }
}

}  // namespace berth::engine
