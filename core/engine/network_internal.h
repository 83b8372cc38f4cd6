// NetworkService's own state (networks.h), shared by its files
// (networks.cc, network_verbs.cc, network_endpoints.cc, network_connect.cc,
// network_files.cc). Engine-internal. Thread: reactor thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/engine/networks.h"
#include "netns/dns_server.h"
#include "netns/proxy.h"

namespace berth::engine {

// --network container:<name|id>
inline bool is_container_mode(const std::string& mode) { return mode.starts_with("container:"); }

struct NetworkService::Network {
  NetworkConfig config;
  std::optional<netns::NetworkAddressing> addr;   // bridge driver
  std::optional<netns::Ipam> ipam;                 // bridge driver
  std::shared_ptr<netns::BridgeNetwork> bridge;    // null: unavailable (see error)
  std::string error;                               // why it is unavailable
  std::unique_ptr<netns::DnsServer> dns;           // user-defined bridge networks
  std::vector<netns::Upstream> upstreams;          // where its responder forwards
  // Veths of stopped containers, deleted by one job per batch; their
  // addresses are given back once they are gone.
  std::vector<netns::Detachment> detach_q;
  bool detaching = false;
  bool ipam_saving = false, ipam_dirty = false;
  bool removing = false;                           // rm under way: no new endpoints
  std::vector<std::function<void()>> after_detach; // rm waits for the last batch

  bool bridge_driver() const { return config.driver == "bridge"; }
  bool user_defined() const { return !config.predefined(); }
  std::string ipam_file(const std::string& dir) const { return netns::ipam_path(dir, config.id); }
};

// One network of a running (or starting) container.
struct NetworkService::Endpoint {
  std::string network_id, endpoint_id;
  std::string ifname;                  // eth0, eth1...
  std::string host_veth;
  netns::Ip4 ip;
  netns::Mac mac{};
  bool has_ip = false;                 // taken from the network's Ipam
  bool attached = false;               // its veth exists (or may: a job is making it)
  std::vector<std::string> aliases;    // as configured
  std::vector<std::string> dns_names;  // registered on the network's responder
};

// One published host port of a running container.
struct NetworkService::Published {
  netns::PortMapping m;                        // host port resolved (never 0)
  std::unique_ptr<netns::PortProxy> proxy;     // tcp: the loopback proxy
  unique_fd udp;                               // udp: the port held
};

struct NetworkService::Running {
  std::vector<Endpoint> endpoints;
  std::vector<Published> ports;
  bool published = false;      // DNAT elements added (or being added by the start's job)
  bool ready = false;          // started() ran: running with its network
};

}  // namespace berth::engine
