// A container's /etc/hosts, /etc/hostname and /etc/resolv.conf: bound
// from files in its directory (as Docker does), written at create and, on
// bridge networks, again at each start (its address is known then); and
// the job side of a start's network part (NetworkStart).
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include "core/base/file.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/network_internal.h"

namespace berth::engine {

namespace {

constexpr std::pair<const char*, const char*> kEtcFiles[] = {
    {"hosts", "/etc/hosts"}, {"hostname", "/etc/hostname"}, {"resolv.conf", "/etc/resolv.conf"}};

std::string host_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) < 0) return "localhost";
  return buf;
}

}  // namespace

Result<void> make_etc_files(const std::string& dir) {
  for (auto [file, target] : kEtcFiles) {
    std::string path = dir + "/" + file;
    auto fd = open_fd(path, O_WRONLY | O_CREAT, 0644);
    if (!fd) return std::move(fd.error()).context("create {}", path);
  }
  return ok();
}

std::string NetworkService::hostname(const Container& c) const {
  if (!c.spec.hostname.empty()) return c.spec.hostname;
  const std::string& mode = c.spec.network_mode;
  if (mode == "host") return host_hostname();
  if (is_container_mode(mode)) {
    auto other = e_.find(mode.substr(10));
    if (other && *other != &c) return hostname(**other);
  }
  return c.id.substr(0, 12);
}

Result<void> NetworkService::add_to_spec(const Container& c, runtime::Spec& spec) {
  const std::string& mode = c.spec.network_mode;
  spec.new_netns = mode != "host";
  std::string dir = c.dir;
  if (is_container_mode(mode)) {
    Container* other = BERTH_TRY_CTX(e_.find(mode.substr(10)), "join the network of container {}", mode.substr(10));
    dir = other->dir;
  }
  for (auto [file, target] : kEtcFiles) {
    // A mount of the user's own on that file wins (Docker skips its own).
    bool taken = false;
    for (const auto& m : spec.mounts) taken = taken || m.target == target;
    if (taken) continue;
    runtime::Mount m;
    m.kind = runtime::Mount::Kind::kBind;
    m.source = dir + "/" + file;
    m.target = target;
    m.file = true;
    m.recursive = false;
    spec.mounts.push_back(std::move(m));
  }
  return ok();
}

NetworkStart::File NetworkService::hostname_file(const Container& c) const {
  return {c.dir + "/hostname", netns::hostname_file(hostname(c)), ""};
}

Result<std::vector<NetworkService::LinkTarget>> NetworkService::link_targets(const Container& c) const {
  std::vector<LinkTarget> out;
  if (c.spec.links.empty()) return out;
  const Network* bridge = nullptr;
  for (const auto& [id, n] : networks_)
    if (n->config.name == "bridge") bridge = n.get();
  if (!bridge) return out;
  bool on_bridge = false;
  for (const EndpointSpec& ep : c.spec.net.endpoints) on_bridge = on_bridge || ep.network == bridge->config.id;
  if (!on_bridge) return out;
  for (const auto& [target, alias] : c.spec.links) {
    auto t = e_.find(target);
    if (!t) return Error::not_found("could not get container for {} (linked as {})", target, alias);
    const Container& tc = **t;
    auto run = running_.find(tc.id);
    if (!is_running(tc.state.status) || run == running_.end() || !run->second->ready)
      return Error::conflict("Cannot link to a non running container: /{} AS /{}/{}", tc.name, c.name, alias);
    const Endpoint* ep = nullptr;
    for (const Endpoint& e : run->second->endpoints)
      if (e.network_id == bridge->config.id) ep = &e;
    if (!ep) return Error::invalid("Cannot link to /{}, as it does not belong to the default network", tc.name);
    out.push_back({alias, tc.name, hostname(tc), netns::to_string(ep->ip), &tc});
  }
  return out;
}

NetworkStart::File NetworkService::hosts_file(const Container& c, std::optional<netns::Ip4> ip,
                                              const std::vector<LinkTarget>& links) const {
  std::string path = c.dir + "/hosts";
  if (c.spec.network_mode == "host") return {path, "", "/etc/hosts"};
  netns::HostsInput in;
  in.hostname = hostname(c);
  in.domainname = c.spec.net.domainname;
  if (ip) in.ip = netns::to_string(*ip);
  // host-gateway: the default bridge's gateway, as Docker's default.
  std::string host_gateway = "127.0.0.1";
  for (const auto& [id, n] : networks_)
    if (n->config.name == "bridge" && n->addr) host_gateway = netns::to_string(n->addr->gateway);
  for (const auto& h : c.spec.net.extra_hosts) {
    auto e = netns::parse_add_host(h);
    if (!e) continue;  // checked at create
    if (e->ip == "host-gateway") e->ip = host_gateway;
    in.extra.push_back(std::move(*e));
  }
  // A link: the alias, the target's hostname and its name (Docker's order).
  for (const LinkTarget& l : links) {
    std::string names = l.alias;
    for (const std::string& n : {l.hostname, l.name})
      if (n != l.alias) names += " " + n;
    in.extra.push_back({names, l.ip});
  }
  return {path, netns::hosts_file(in), ""};
}

// `first`: the container's first network; on a user-defined one the
// nameserver is its responder (and a --dns list becomes this container's
// upstreams there: `run` then has them).
NetworkStart::File NetworkService::resolv_file(const Container& c, const Network* first, Running* run) const {
  std::string path = c.dir + "/resolv.conf";
  if (c.spec.network_mode == "host") return {path, "", "/etc/resolv.conf"};
  netns::ResolvInput in;
  in.host = host_resolv_;
  if (first && first->user_defined() && first->addr) in.internal_dns = first->addr->gateway;
  in.dns = c.spec.net.dns;
  in.dns_search = c.spec.net.dns_search;
  in.dns_options = c.spec.net.dns_options;
  auto out = netns::resolv_conf(in);
  if (!out) return {path, "", "/etc/resolv.conf"};  // checked at create: cannot happen
  if (run && in.internal_dns && !c.spec.net.dns.empty() && first->dns && !run->endpoints.empty()) {
    std::vector<netns::Upstream> ups;
    for (const auto& ns : out->upstreams)
      if (auto u = netns::parse_upstream(ns)) ups.push_back(std::move(*u));
    first->dns->set_client_upstreams(run->endpoints[0].ip, std::move(ups));
  }
  return {path, out->content, ""};
}

std::vector<NetworkStart::File> NetworkService::files_at_create(const Container& c) {
  if (is_container_mode(c.spec.network_mode)) return {};
  const Network* first = c.spec.net.endpoints.empty() ? nullptr : by_id(c.spec.net.endpoints[0].network);
  return {hostname_file(c), hosts_file(c, std::nullopt), resolv_file(c, first, nullptr)};
}

// --- the job's side ---

Result<void> NetworkStart::write_files() const {
  for (const File& f : files) {
    std::string content = f.content;
    if (!f.copy_from.empty()) {
      auto text = read_file(f.copy_from);
      if (text) content = std::move(*text);
    }
    // In place, never renamed: a running container's bind mount holds the
    // file's inode.
    auto fd = open_fd(f.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!fd) return std::move(fd.error()).context("write {}", f.path);
    if (auto w = write_all(fd->get(), content); !w) return std::move(w.error()).context("write {}", f.path);
  }
  return ok();
}

Result<unique_fd> NetworkStart::join_netns() const {
  std::string path = fmt::format("/proc/{}/ns/net", join_pid);
  auto fd = open_fd(path, O_RDONLY);
  // The pid is berthd's unreaped child while its pidfd says it lives, so
  // the namespace opened is that container's.
  if (!fd || ::syscall(SYS_pidfd_send_signal, join_pidfd.get(), 0, nullptr, 0) < 0)
    return Error::conflict("cannot join the network of a container that is not running (pid {})", join_pid);
  return fd;
}

Result<void> NetworkStart::connect(int netns_fd) {
  for (Link& l : links) {
    l.req.netns_fd = netns_fd;
    auto made = l.bridge->attach(std::span<const netns::Attachment>(&l.req, 1));
    l.made = std::move(made[0]);
    if (!l.made) return Error(l.made.error()).context("connect to {}", l.bridge->name());
  }
  if (!ports.empty()) {
    published = nat->add_ports(ports);
    if (!published) return Error(published.error());
  }
  return ok();
}

}  // namespace berth::engine
