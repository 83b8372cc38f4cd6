#include "ipc/server/network_views.h"

#include "core/base/strings.h"

namespace berth::ipc {

namespace {

// Docker's EndpointSettings.
void write_endpoint(JsonWriter& w, const engine::EndpointView& v) {
  w.begin_object().key("IPAMConfig");
  if (v.ipam_ipv4.empty()) w.null();
  else w.begin_object().member("IPv4Address", v.ipam_ipv4).end_object();
  w.key("Links").null();
  w.key("Aliases").strings(v.aliases, true);
  w.member("MacAddress", v.mac);
  w.key("DriverOpts").null();
  w.member("GwPriority", 0)
      .member("NetworkID", v.network_id)
      .member("EndpointID", v.endpoint_id)
      .member("Gateway", v.gateway)
      .member("IPAddress", v.ip)
      .member("IPPrefixLen", v.prefix)
      .member("IPv6Gateway", "")
      .member("GlobalIPv6Address", "")
      .member("GlobalIPv6PrefixLen", 0);
  w.key("DNSNames").strings(v.dns_names, true);
  w.end_object();
}

void write_networks(JsonWriter& w, const engine::NetworkService& n, const engine::Container& c) {
  w.begin_object();
  for (const auto& v : n.endpoints(c)) {
    w.key(v.network_name);
    write_endpoint(w, v);
  }
  w.end_object();
}

OrderedJson networks_json(const engine::NetworkService& n, const engine::Container& c) {
  return written_tree([&](JsonWriter& w) { write_networks(w, n, c); });
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

void write_summary_ports(JsonWriter& w, const engine::NetworkService& n, const engine::Container& c) {
  w.begin_array();
  for (const auto& p : n.ports(c)) {
    w.begin_object();
    if (p.host_port == 0) {
      w.member("PrivatePort", unsigned(p.container_port)).member("Type", p.proto).end_object();
      continue;
    }
    w.member("IP", p.host_ip)
        .member("PrivatePort", unsigned(p.container_port))
        .member("PublicPort", unsigned(p.host_port))
        .member("Type", p.proto)
        .end_object();
  }
  w.end_array();
}

void write_summary_network_settings(JsonWriter& w, const engine::NetworkService& n, const engine::Container& c) {
  w.begin_object().key("Networks");
  write_networks(w, n, c);
  w.end_object();
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
