// What a container asks of the network, as create and connect received it:
// the networks it joins (NetworkingConfig.EndpointsConfig, HostConfig.
// NetworkMode), its published ports (HostConfig.PortBindings,
// PublishAllPorts; Config.ExposedPorts and the image's EXPOSE), its names
// (Dns, DnsSearch, DnsOptions, ExtraHosts, Config.Domainname).
//
// parse_network_request() reads those fields of POST /containers/create
// with Docker's rules and messages (400s); net_to_json()/net_from_json()
// persist a NetworkSpec with the container (state_store.h). Port forms:
//   "80", "80/tcp", "53/udp"                        (ExposedPorts keys)
//   {"HostIp": "", "HostPort": "8080"}              one host port
//   {"HostPort": ""} or "0"                         an ephemeral port
//   {"HostPort": "8000-8010"}                       one free port of that range
// (the docker CLI expands "-p 8000-8010:80-90" into one binding per port,
// and "-p 8000-8010:80" into a range for container port 80, which Docker
// serves with the first free port of the range, as berth does).
//
// Pure; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::engine {

// One network a container is on (or will be when it starts).
struct EndpointSpec {
  std::string network;               // the network's id (names are resolved at create and connect)
  std::string ipv4;                  // IPAMConfig.IPv4Address: a static address; "" = from the pool
  std::vector<std::string> aliases;  // DNS names on that network, beside the container's name
  bool operator==(const EndpointSpec&) const = default;
};

// A container port ("80/tcp") and where it is published on the host.
struct PortSpec {
  uint16_t container_port = 0;
  std::string proto = "tcp";         // "tcp" or "udp"
  std::string host_ip;               // "" = every address
  uint16_t host_first = 0;           // 0 = an ephemeral port
  uint16_t host_last = 0;            // == host_first, or a range to pick one from
  bool operator==(const PortSpec&) const = default;
};

struct NetworkSpec {
  // The networks joined at start, the first one's gateway the default route
  // (eth0, eth1... in this order). Filled at create from NetworkMode and
  // EndpointsConfig for bridge-driver networks; empty for none, host and
  // container:<id>.
  std::vector<EndpointSpec> endpoints;
  // EndpointsConfig entries as the client keyed them (by name or id), until
  // create resolves them into `endpoints`; not persisted.
  std::map<std::string, EndpointSpec> requested;
  std::vector<PortSpec> ports;       // PortBindings, one entry per binding
  bool publish_all = false;          // -P: every exposed port, ephemeral
  std::vector<std::string> exposed;  // "80/tcp": the container's and (after create) the image's
  std::vector<std::string> dns, dns_search, dns_options;
  std::vector<std::string> extra_hosts;  // "name:ip" as given (validated)
  std::string domainname;            // Config.Domainname
};

// "80/tcp" and "53/udp" (a missing protocol is tcp). Errors name the text:
// "invalid port specification: \"x\"", "invalid proto: sctp" (SCTP is not
// supported).
struct PortKey {
  uint16_t port = 0;
  std::string proto;
};
Result<PortKey> parse_port_key(std::string_view s);
std::string port_key(uint16_t port, std::string_view proto);  // "80/tcp"

// The network fields of a create request. `network_mode` is HostConfig.
// NetworkMode as given (the engine resolves "", "default" and names at
// create); the endpoints are left in `requested` for it too ("default" is
// the key the docker CLI gives the default network's).
Result<void> parse_network_request(const nlohmann::json& config, const nlohmann::json& host_config,
                                   const nlohmann::json& networking_config, std::string& network_mode,
                                   NetworkSpec& out);
// One EndpointSettings object (EndpointsConfig's values, network connect's
// EndpointConfig): IPAMConfig.IPv4Address and Aliases; fields berth cannot
// act on (Links, MacAddress, IPv6 or link-local addresses, DriverOpts) are
// refused by name when set.
Result<EndpointSpec> parse_endpoint_settings(const nlohmann::json& j, std::string_view network);

nlohmann::json net_to_json(const NetworkSpec& n);
NetworkSpec net_from_json(const nlohmann::json& j);

}  // namespace berth::engine
