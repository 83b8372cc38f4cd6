#include "ipc/server/network_views.h"

#include "core/base/strings.h"

namespace berth::ipc {

namespace {

OrderedJson strings_or_null(const std::vector<std::string>& v) {
  return v.empty() ? OrderedJson(nullptr) : OrderedJson(v);
}

// Docker's EndpointSettings.
OrderedJson endpoint_json(const engine::EndpointView& v) {
  OrderedJson ipam = v.ipam_ipv4.empty() ? OrderedJson(nullptr) : OrderedJson{{"IPv4Address", v.ipam_ipv4}};
  return {{"IPAMConfig", ipam},
          {"Links", nullptr},
          {"Aliases", strings_or_null(v.aliases)},
          {"MacAddress", v.mac},
          {"DriverOpts", nullptr},
          {"GwPriority", 0},
          {"NetworkID", v.network_id},
          {"EndpointID", v.endpoint_id},
          {"Gateway", v.gateway},
          {"IPAddress", v.ip},
          {"IPPrefixLen", v.prefix},
          {"IPv6Gateway", ""},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"DNSNames", strings_or_null(v.dns_names)}};
}

OrderedJson networks_json(const engine::NetworkService& n, const engine::Container& c) {
  OrderedJson out = OrderedJson::object();
  for (const auto& v : n.endpoints(c)) out[v.network_name] = endpoint_json(v);
  return out;
}

// Docker's nat.PortMap: {"80/tcp": [{"HostIp", "HostPort"}], "443/tcp": null}.
OrderedJson port_map(const engine::NetworkService& n, const engine::Container& c) {
  OrderedJson out = OrderedJson::object();
  for (const auto& p : n.ports(c)) {
    std::string key = engine::port_key(p.container_port, p.proto);
    if (p.host_port == 0) {
      if (!out.contains(key)) out[key] = nullptr;
      continue;
    }
    if (!out.contains(key) || out[key].is_null()) out[key] = OrderedJson::array();
    out[key].push_back({{"HostIp", p.host_ip}, {"HostPort", std::to_string(p.host_port)}});
  }
  return out;
}

}  // namespace

std::string etc_file_path(const engine::Container& c, const char* file) {
  if (starts_with(c.spec.network_mode, "container:")) return "";
  return c.dir + "/" + file;
}

OrderedJson network_settings(const engine::NetworkService& n, const engine::Container& c) {
  engine::EndpointView bridge;
  for (const auto& v : n.endpoints(c))
    if (v.network_name == "bridge") bridge = v;
  bool running = c.state.status == engine::Status::kRunning || c.state.status == engine::Status::kPaused;
  return {{"Bridge", ""},
          {"SandboxID", running && !bridge.endpoint_id.empty() ? c.id : ""},
          {"SandboxKey", running && c.state.pid > 0 ? fmt::format("/proc/{}/ns/net", c.state.pid) : ""},
          {"Ports", port_map(n, c)},
          {"HairpinMode", false},
          {"LinkLocalIPv6Address", ""},
          {"LinkLocalIPv6PrefixLen", 0},
          {"SecondaryIPAddresses", nullptr},
          {"SecondaryIPv6Addresses", nullptr},
          {"EndpointID", bridge.endpoint_id},
          {"Gateway", bridge.gateway},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"IPAddress", bridge.ip},
          {"IPPrefixLen", bridge.prefix},
          {"IPv6Gateway", ""},
          {"MacAddress", bridge.mac},
          {"Networks", networks_json(n, c)}};
}

OrderedJson summary_ports(const engine::NetworkService& n, const engine::Container& c) {
  OrderedJson arr = OrderedJson::array();
  for (const auto& p : n.ports(c)) {
    if (p.host_port == 0) {
      arr.push_back({{"PrivatePort", p.container_port}, {"Type", p.proto}});
      continue;
    }
    arr.push_back({{"IP", p.host_ip}, {"PrivatePort", p.container_port}, {"PublicPort", p.host_port}, {"Type", p.proto}});
  }
  return arr;
}

OrderedJson summary_network_settings(const engine::NetworkService& n, const engine::Container& c) {
  return {{"Networks", networks_json(n, c)}};
}

OrderedJson network_json(const engine::NetworkService& n, const engine::NetworkConfig& cfg, bool members) {
  OrderedJson ipam_config = OrderedJson::array();
  if (cfg.driver == "bridge") {
    OrderedJson one = {{"Subnet", cfg.subnet}};
    if (!cfg.ip_range.empty()) one["IPRange"] = cfg.ip_range;
    one["Gateway"] = cfg.gateway;
    ipam_config.push_back(one);
  }
  OrderedJson containers = OrderedJson::object();
  if (members)
    for (const auto& m : n.members(cfg.id))
      containers[m.container_id] = {{"Name", m.name},
                                    {"EndpointID", m.endpoint_id},
                                    {"MacAddress", m.mac},
                                    {"IPv4Address", m.ipv4},
                                    {"IPv6Address", ""}};
  return {{"Name", cfg.name},
          {"Id", cfg.id},
          {"Created", format_rfc3339_nano(cfg.created_ns)},
          {"Scope", "local"},
          {"Driver", cfg.driver},
          {"EnableIPv4", cfg.driver == "bridge"},
          {"EnableIPv6", false},
          {"IPAM", {{"Driver", "default"}, {"Options", OrderedJson::object()}, {"Config", ipam_config}}},
          {"Internal", cfg.internal},
          {"Attachable", cfg.attachable},
          {"Ingress", false},
          {"ConfigFrom", {{"Network", ""}}},
          {"ConfigOnly", false},
          {"Containers", containers},
          {"Options", cfg.options},
          {"Labels", cfg.labels}};
}

}  // namespace berth::ipc
