// NetworkService: berth's networks and every container's place on them.
//
// It owns:
//   - the networks: the predefined ones (bridge, on berthd's --bridge and
//     --bip; host; none) and user-defined bridge networks, each persisted
//     as <root>/networks/<id>.json with its allocator <id>.ipam
//     (network_store.h, netns/ipam.h); a bridge network's links are a
//     netns::BridgeNetwork (a root bridge plus leaf bridges past 1,000
//     containers: netns/ports.h), shared with the jobs that use it;
//   - berth's nftables table (netns::Nat): masquerade, isolation between
//     networks, published ports as DNAT;
//   - one DnsServer per user-defined network (netns/dns_server.h: names,
//     short ids and aliases answered on the reactor, the rest forwarded);
//   - each running container's endpoints (address, MAC, host veth, DNS
//     names) and published ports (a PortProxy per TCP port for the host's
//     loopback, a held socket per UDP port, the DNAT elements).
//
// The start path (container_spawn.cc): prepare() on the reactor takes the
// addresses, binds the host ports (a port taken elsewhere fails the start
// before anything else is made) and computes the /etc files; the start's
// job then runs NetworkStart: it writes the files, makes each veth with its
// container end directly in the container's network namespace and adds the
// DNAT elements, while the child mounts its root; the init is released
// only after that. started() records what the job made; stopped() (the
// exit, a failed start) undoes it: veths are deleted in batches (one job
// per network deletes every veth queued meanwhile, as one link group), and
// an address is given back only once its veth is gone.
//
// Re-adoption (network_readopt.cc): a running container's endpoints and
// published ports are saved with its state (runtime_state(), read by
// Engine::persist). At open, the containers the keeper kept through a
// berthd restart keep their veths, addresses and neighbour entries; their
// host ports are bound again, their DNAT elements added to the new table
// and their DNS names registered. Every other veth on berth's bridges,
// DNAT element (the table is made anew) and IPAM entry is a crash's
// leftover and goes. A kept container whose network cannot be taken back
// is killed (logged).
// shutdown() stops the responders and proxies, deletes the bridges and the
// table and saves the allocators (every container has exited or been let
// go by then: with live restore, containers still running keep the
// bridges and the table; see Engine::shutdown).
//
// Thread: reactor thread only, but for NetworkStart's job methods (any job
// lane; they touch only what the NetworkStart holds). open() runs before
// the loop and may block.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/engine/container.h"
#include "core/engine/network_store.h"
#include "core/engine/options.h"
#include "core/runtime/spec.h"
#include "fs/image_config.h"
#include "netns/etc_files.h"
#include "netns/ipam.h"
#include "netns/link.h"
#include "netns/nat.h"

namespace berth::netns {
class DnsServer;
class PortProxy;
}  // namespace berth::netns

namespace berth::engine {

class Engine;

// POST /networks/create, validated by the service.
struct NetworkCreate {
  std::string name, driver;       // driver "" = bridge
  bool internal = false, attachable = false;
  std::map<std::string, std::string> labels, options;
  std::string subnet, gateway, ip_range;   // IPAM.Config[0]; "" = chosen
};

// One container on one network, for inspect, ps and network inspect.
struct EndpointView {
  std::string network_id, network_name, endpoint_id;
  std::string ip, gateway, mac;   // "" while the container is not running
  int prefix = 0;
  std::vector<std::string> aliases;    // as configured
  std::vector<std::string> dns_names;  // what the network's DNS answers for it
  std::string ipam_ipv4;               // IPAMConfig.IPv4Address as configured
};

// A container port: published (host_port > 0) or only exposed.
struct PortView {
  uint16_t container_port = 0;
  std::string proto;
  std::string host_ip;   // "0.0.0.0" for every address
  uint16_t host_port = 0;
};

// A network's member, for GET /networks/{id}.
struct NetworkMember {
  std::string container_id, name, endpoint_id, mac, ipv4;  // ipv4 "10.88.0.2/16"
};

// The network part of one start, carried by its job (values and shared
// handles only). Job methods BLOCK (files, netlink, nftables).
struct NetworkStart {
  struct File {
    std::string path, content;
    std::string copy_from;   // host mode: the host's file instead of `content`
  };
  struct Link {
    std::shared_ptr<netns::BridgeNetwork> bridge;
    netns::Attachment req;   // netns_fd set by connect()
    Result<netns::Attached> made = Error(Code::kCancelled, "not attached");
  };
  std::vector<File> files;
  std::vector<Link> links;
  std::shared_ptr<netns::Nat> nat;
  std::vector<netns::PortMapping> ports;
  Result<void> published = Error(Code::kCancelled, "not published");
  unique_fd join_pidfd;      // container:<id>: the other container's init
  pid_t join_pid = 0;

  bool needs_netns() const { return !links.empty(); }
  bool joins() const { return join_pid > 0; }
  Result<void> write_files() const;
  // container:<id>: that container's network namespace, checked (through
  // its pidfd) to still be the one of the process the engine knew.
  Result<unique_fd> join_netns() const;
  // Every link made in `netns_fd`, then the published ports' DNAT. Stops
  // at the first error (what was made is recorded for stopped()).
  Result<void> connect(int netns_fd);
};

// The empty /etc/hosts, hostname and resolv.conf a container's directory
// starts with (bound before their content is written). Blocking.
Result<void> make_etc_files(const std::string& dir);

class NetworkService {
 public:
  NetworkService(Engine& e, const Options& o);
  ~NetworkService();
  NetworkService(const NetworkService&) = delete;
  NetworkService& operator=(const NetworkService&) = delete;

  // Before the loop (blocks), after the containers are loaded (re-adopted
  // ones have their Process): loads the networks, makes the default bridge,
  // the nftables table, the responders; takes back the re-adopted
  // containers' networks; reconciles what a crash left.
  // Errors only for a broken root directory; a network whose bridge cannot
  // be made is logged and refuses starts with that reason.
  Result<void> open();
  // First of all, before any descriptor is handed back by the keeper:
  // the nftables context. libnftables waits on its netlink socket with
  // select(), which aborts (FD_SETSIZE) on a descriptor past 1023, and a
  // berthd restarted with hundreds of kept containers is past that soon.
  void open_nat();

  // --- network verbs (network_verbs.cc) ---
  void create(NetworkCreate req, DoneWith<std::string> done);   // the new id
  Result<const NetworkConfig*> find(std::string_view ref) const;  // id, name, unique id prefix
  std::vector<const NetworkConfig*> list() const;
  std::vector<NetworkMember> members(const std::string& network_id) const;
  bool in_use(const std::string& network_id) const;   // running containers on it
  void remove(std::string_view ref, Done done);
  // The networks among `ids` that are user-defined and unused, removed.
  void prune(std::vector<std::string> ids, DoneWith<std::vector<std::string>> done);
  // network_connect.cc: on a running container, a new interface (eth1...)
  // at once; on a stopped one, at its next start.
  void connect(std::string_view network, Container& c, EndpointSpec ep, Done done);
  void disconnect(std::string_view network, Container& c, bool force, Done done);

  // --- the container's life (network_endpoints.cc) ---
  // create: NetworkMode and EndpointsConfig resolved and checked; the
  // image's exposed ports added. Returns Docker's warnings.
  Result<std::vector<std::string>> check_create(CreateSpec& spec, const fs::ImageConfig& img);
  // init_spec: host network or not, and /etc/hosts, hostname, resolv.conf
  // bound from the container's directory (or the joined container's).
  Result<void> add_to_spec(const Container& c, runtime::Spec& spec);
  // create's job: the /etc files a container without bridge networks
  // gets (with bridge networks they are written at each start).
  std::vector<NetworkStart::File> files_at_create(const Container& c);
  // start: addresses, host ports, DNS names, files. Null when the start
  // needs no job of ours (none or host, files written at create).
  Result<std::shared_ptr<NetworkStart>> prepare(Container& c, bool cold);
  void started(Container& c, NetworkStart& job);
  // The container's process ended or its start failed: everything of
  // prepare() and the job is undone. Idempotent.
  void stopped(const Container& c);
  // A clean exit with live restore let the running container go (it runs
  // on under the keeper): its kernel side stays for the next berthd.
  void let_go(const Container& c);
  // rename: a running container's DNS names on user networks follow its
  // new name (`old` was its name).
  void renamed(const Container& c, const std::string& old);

  // --- views ---
  std::vector<EndpointView> endpoints(const Container& c) const;
  std::vector<PortView> ports(const Container& c) const;
  // (host veth, interface in the container) of a running container.
  std::vector<std::pair<std::string, std::string>> interfaces(const std::string& id) const;
  std::string default_network() const;   // "bridge", or "none" with --bridge none
  // The container's hostname: its own, the host's (host network), the
  // joined container's (container:<id>), or its short id.
  std::string hostname(const Container& c) const;
  // Legacy links (--link target:alias) of a container on the default
  // bridge network: each target, which must be running there too. Empty
  // when the container is not on that network (create warned so).
  struct LinkTarget {
    std::string alias, name, hostname;
    std::string ip;
    const Container* target = nullptr;
  };
  Result<std::vector<LinkTarget>> link_targets(const Container& c) const;

  // A running container's endpoints and published ports as saved with its
  // state ("" when it has none, or before open()).
  std::string runtime_state(const Container& c) const;
  bool opened() const { return opened_; }

  bool busy() const;
  // Every container has exited: responders and proxies stop, bridges and
  // the table go, allocators are saved; then `done` (once; later calls
  // while it is under way do nothing).
  void shutdown(std::function<void()> done);
  bool closed() const { return closed_; }

 private:
  struct Network;
  struct Endpoint;
  struct Published;
  struct Running;

  // networks.cc
  Result<void> open_network(Network& n, std::span<const std::string> keep_veths, std::span<const netns::Ip4> keep_ips);
  Result<void> ensure_predefined();
  Network* by_id(const std::string& id);
  const Network* by_id(const std::string& id) const;
  Result<Network*> resolve(std::string_view ref);
  void save_ipam(Network& n);
  void start_dns(Network& n);
  void release_address(Network& n, netns::Ip4 ip);
  void settle();
  void stop_running(const std::string& id);
  // network_endpoints.cc
  Result<void> take_addresses(Container& c, Running& run);
  Result<void> bind_ports(const Container& c, Running& run);
  void add_names(const Container& c, Network& n, Endpoint& ep);
  void queue_detach(Network& n, Endpoint& ep);
  void flush_detach(Network& n);
  void queue_unpublish(std::vector<netns::PortMapping> ports);
  void flush_unpublish();
  void stop_proxy(std::unique_ptr<netns::PortProxy> p);
  std::string container_name_of(const std::string& id) const;
  Result<void> bind_port(const netns::PortMapping& m, Published* p);
  // network_readopt.cc
  // *veth_links: the container's veth count saved with it (Container::veth_links).
  static Result<std::unique_ptr<Running>> decode_running(const std::string& text, unsigned* veth_links);
  std::map<std::string, std::unique_ptr<Running>> kept_running();
  void readopt(std::map<std::string, std::unique_ptr<Running>> kept);
  void kill_unreachable(Container& c, const std::string& why);
  // network_files.cc
  NetworkStart::File hosts_file(const Container& c, std::optional<netns::Ip4> ip,
                                const std::vector<LinkTarget>& links = {}) const;
  NetworkStart::File resolv_file(const Container& c, const Network* first, Running* run) const;
  NetworkStart::File hostname_file(const Container& c) const;

  Engine& e_;
  Options opts_;
  std::string dir_;                               // <root>/networks
  std::map<std::string, std::unique_ptr<Network>> networks_;   // by id
  std::set<std::string> pending_names_;           // creates under way
  std::shared_ptr<netns::Nat> nat_;
  std::string nat_error_;                         // why there is no table
  netns::ResolvConf host_resolv_;                 // the host's, read at open
  std::map<std::string, std::unique_ptr<Running>> running_;   // by container id
  std::vector<netns::PortMapping> unpublish_q_;
  bool unpublishing_ = false;
  std::list<std::unique_ptr<netns::PortProxy>> stopping_proxies_;
  std::list<std::unique_ptr<netns::DnsServer>> stopping_dns_;
  int jobs_ = 0;                                  // our jobs on the lanes
  std::function<void()> shutdown_done_;
  bool shutting_down_ = false;
  bool closed_ = false;
  bool opened_ = false;
  int left_running_ = 0;       // containers let go with their networks (live restore)
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
};

}  // namespace berth::engine
