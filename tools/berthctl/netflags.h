// The network flags of run and create, turned into the create body the way
// the docker CLI does (docker-cli opts/network.go, go-connections nat):
//   --network NET                → HostConfig.NetworkMode ("default" if not given)
//   --ip A, --network-alias N    → NetworkingConfig.EndpointsConfig[NET]
//                                  {IPAMConfig{IPv4Address}, Aliases}
//   -p [ip:][hostPort:]containerPort[/proto]
//                                → HostConfig.PortBindings{"80/tcp": [{HostIp, HostPort}]}
//                                  and Config.ExposedPorts; ranges as the CLI expands
//                                  them ("8000-8010:80-90": one binding per port;
//                                  "8000-8010:80": one binding with HostPort "8000-8010")
//   -P, --publish-all            → HostConfig.PublishAllPorts
//   --expose 80[-90][/proto]     → Config.ExposedPorts
//   --add-host h:ip, --dns, --dns-search, --dns-option
//                                → HostConfig.ExtraHosts, Dns, DnsSearch, DnsOptions
// The daemon validates the rest. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::ctl {

struct NetFlags {
  std::string network;                      // --network, --net
  std::string ip;                           // --ip
  std::vector<std::string> aliases;         // --network-alias
  std::vector<std::string> publish;         // -p, --publish
  bool publish_all = false;                 // -P, --publish-all
  std::vector<std::string> expose;          // --expose
  std::vector<std::string> add_hosts;       // --add-host
  std::vector<std::string> links;           // --link name[:alias]
  std::vector<std::string> dns, dns_search, dns_options;
};

// One -p value: its bindings as {"80/tcp", HostIp, HostPort} triples.
// Errors as the docker CLI's: "invalid containerPort: x", "invalid
// hostPort: x", "invalid ranges specified for container and host Ports:
// 80-90 and 8000-8005", "invalid proto: sctp".
struct PortBinding {
  std::string key;        // "80/tcp"
  std::string host_ip;    // "" = every address
  std::string host_port;  // "", "8080" or "8000-8010"
  bool operator==(const PortBinding&) const = default;
};
Result<std::vector<PortBinding>> parse_publish(std::string_view value);
// One --expose value: its "80/tcp" keys.
Result<std::vector<std::string>> parse_expose(std::string_view value);

// Adds the fields of `f` to the create body's Config, HostConfig and
// NetworkingConfig objects.
Result<void> apply_network_flags(const NetFlags& f, nlohmann::json& config, nlohmann::json& host,
                                 nlohmann::json& networking);

}  // namespace berth::ctl
