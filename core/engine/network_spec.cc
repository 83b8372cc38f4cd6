#include "core/engine/network_spec.h"

#include <algorithm>

#include "core/base/strings.h"
#include "core/engine/json_fields.h"
#include "netns/etc_files.h"
#include "netns/subnet.h"

namespace berth::engine {

using json = nlohmann::json;

namespace {

Result<uint16_t> parse_port_number(std::string_view s, std::string_view whole) {
  auto n = parse_int(s);
  if (s.empty() || !n || *n < 0 || *n > 65535 || (s.size() > 1 && s[0] == '0'))
    return Error::invalid("invalid port specification: \"{}\"", whole);
  return uint16_t(*n);
}

// HostPort: "", "0", "8080" or "8000-8010".
Result<void> parse_host_port(std::string_view s, PortSpec& p) {
  if (s.empty()) return ok();
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    p.host_first = p.host_last = BERTH_TRY(parse_port_number(s, s));
    return ok();
  }
  p.host_first = BERTH_TRY(parse_port_number(s.substr(0, dash), s));
  p.host_last = BERTH_TRY(parse_port_number(s.substr(dash + 1), s));
  if (p.host_first == 0 || p.host_last < p.host_first)
    return Error::invalid("invalid port range: \"{}\"", s);
  return ok();
}

Result<std::vector<std::string>> string_list(const json& obj, const char* field) {
  bool set = false;
  return str_slice(obj, field, &set);
}

// HostConfig.PortBindings: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "443/tcp": null}.
Result<std::vector<PortSpec>> parse_port_bindings(const json& hc) {
  std::vector<PortSpec> out;
  if (!hc.contains("PortBindings") || hc["PortBindings"].is_null()) return out;
  const json& pb = hc["PortBindings"];
  if (!pb.is_object()) return Error::invalid("invalid PortBindings: expected an object");
  for (auto& [key, list] : pb.items()) {
    PortKey k = BERTH_TRY(parse_port_key(key));
    if (k.port == 0) return Error::invalid("invalid port specification: \"{}\"", key);
    if (list.is_null()) continue;
    if (!list.is_array()) return Error::invalid("invalid PortBindings.{}: expected an array", key);
    for (const json& b : list) {
      if (!b.is_object()) return Error::invalid("invalid PortBindings.{}: expected objects", key);
      PortSpec p;
      p.container_port = k.port;
      p.proto = k.proto;
      p.host_ip = BERTH_TRY(str_field(b, "HostIp"));
      if (p.host_ip == "0.0.0.0") p.host_ip.clear();
      if (!p.host_ip.empty() && !netns::parse_ip4(p.host_ip)) {
        if (p.host_ip.find(':') != std::string::npos)
          return Error::invalid("invalid host IP {} for port {}: IPv6 is not supported by berth's networks",
                                p.host_ip, key);
        return Error::invalid("invalid IP address: {}", p.host_ip);
      }
      BERTH_TRY_VOID(parse_host_port(BERTH_TRY(str_field(b, "HostPort")), p));
      if (p.host_first == 0) p.host_last = 0;
      out.push_back(std::move(p));
    }
  }
  return out;
}

Result<std::vector<std::string>> parse_exposed(const json& config) {
  std::vector<std::string> out;
  if (!config.contains("ExposedPorts") || config["ExposedPorts"].is_null()) return out;
  const json& ep = config["ExposedPorts"];
  if (!ep.is_object()) return Error::invalid("invalid ExposedPorts: expected an object");
  for (auto& [key, v] : ep.items()) {
    PortKey k = BERTH_TRY(parse_port_key(key));
    out.push_back(port_key(k.port, k.proto));
  }
  return out;
}

// A field berth does not act on must be absent, null, empty or zero.
Result<void> refuse_set(const json& obj, const char* field, std::string_view what) {
  if (!obj.contains(field)) return ok();
  const json& v = obj[field];
  bool empty = v.is_null() || (v.is_string() && v.get<std::string>().empty()) ||
               ((v.is_array() || v.is_object()) && v.empty()) || (v.is_number() && v.get<double>() == 0) ||
               (v.is_boolean() && !v.get<bool>());
  if (empty) return ok();
  return Error::invalid("{} ({}) is not supported by berth", what, field);
}

Result<void> parse_names(const json& config, const json& hc, NetworkSpec& out) {
  out.dns = BERTH_TRY(string_list(hc, "Dns"));
  out.dns_search = BERTH_TRY(string_list(hc, "DnsSearch"));
  out.dns_options = BERTH_TRY(string_list(hc, "DnsOptions"));
  out.extra_hosts = BERTH_TRY(string_list(hc, "ExtraHosts"));
  for (const auto& h : out.extra_hosts) BERTH_TRY_VOID(netns::parse_add_host(h));
  // resolv.conf's own checks, on a host with no nameserver of its own.
  netns::ResolvInput probe;
  probe.dns = out.dns;
  probe.dns_search = out.dns_search;
  probe.dns_options = out.dns_options;
  BERTH_TRY_VOID(netns::resolv_conf(probe));
  out.domainname = BERTH_TRY(str_field(config, "Domainname"));
  return ok();
}

}  // namespace

std::string port_key(uint16_t port, std::string_view proto) { return fmt::format("{}/{}", port, proto); }

Result<PortKey> parse_port_key(std::string_view s) {
  PortKey k;
  std::string_view num = s;
  k.proto = "tcp";
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    num = s.substr(0, slash);
    k.proto = std::string(s.substr(slash + 1));
    if (k.proto.empty()) k.proto = "tcp";
  }
  if (k.proto != "tcp" && k.proto != "udp") {
    if (k.proto == "sctp") return Error::invalid("invalid proto: sctp is not supported by berth");
    return Error::invalid("invalid proto: {}", k.proto);
  }
  k.port = BERTH_TRY(parse_port_number(num, s));
  return k;
}

Result<EndpointSpec> parse_endpoint_settings(const json& j, std::string_view network) {
  EndpointSpec e;
  if (j.is_null()) return e;
  if (!j.is_object()) return Error::invalid("invalid EndpointsConfig.{}: expected an object", network);
  if (j.contains("IPAMConfig") && !j["IPAMConfig"].is_null()) {
    const json& ipam = j["IPAMConfig"];
    if (!ipam.is_object()) return Error::invalid("invalid IPAMConfig: expected an object");
    e.ipv4 = BERTH_TRY(str_field(ipam, "IPv4Address"));
    if (!e.ipv4.empty() && !netns::parse_ip4(e.ipv4))
      return Error::invalid("invalid IPv4 address: {}", e.ipv4);
    BERTH_TRY_VOID(refuse_set(ipam, "IPv6Address", "an IPv6 address"));
    BERTH_TRY_VOID(refuse_set(ipam, "LinkLocalIPs", "link-local addresses"));
  }
  bool set = false;
  e.aliases = BERTH_TRY(str_slice(j, "Aliases", &set));
  for (const auto& a : e.aliases)
    if (a.empty()) return Error::invalid("invalid alias: empty");
  BERTH_TRY_VOID(refuse_set(j, "Links", "a legacy link"));
  BERTH_TRY_VOID(refuse_set(j, "MacAddress", "a chosen MAC address"));
  BERTH_TRY_VOID(refuse_set(j, "DriverOpts", "endpoint driver options"));
  BERTH_TRY_VOID(refuse_set(j, "GwPriority", "a gateway priority"));
  return e;
}

Result<void> parse_network_request(const json& config, const json& hc, const json& nc, std::string& mode,
                                   NetworkSpec& out) {
  (void)mode;  // "", "default" and names are resolved by the engine at create
  if (hc.is_object()) {
    out.ports = BERTH_TRY(parse_port_bindings(hc));
    out.publish_all = BERTH_TRY(bool_field(hc, "PublishAllPorts", false));
    BERTH_TRY_VOID(parse_names(config.is_object() ? config : json::object(), hc, out));
  }
  if (config.is_object()) {
    out.exposed = BERTH_TRY(parse_exposed(config));
    BERTH_TRY_VOID(refuse_set(config, "MacAddress", "a chosen MAC address"));
  }
  // Published ports are exposed too (the docker CLI sends both).
  for (const auto& p : out.ports) {
    std::string k = port_key(p.container_port, p.proto);
    if (std::find(out.exposed.begin(), out.exposed.end(), k) == out.exposed.end()) out.exposed.push_back(k);
  }
  if (nc.is_object() && nc.contains("EndpointsConfig") && !nc["EndpointsConfig"].is_null()) {
    const json& eps = nc["EndpointsConfig"];
    if (!eps.is_object()) return Error::invalid("invalid EndpointsConfig: expected an object");
    for (auto& [name, v] : eps.items()) {
      EndpointSpec e = BERTH_TRY(parse_endpoint_settings(v, name));
      out.requested[name] = std::move(e);
    }
  }
  return ok();
}

json net_to_json(const NetworkSpec& n) {
  json eps = json::array();
  for (const auto& e : n.endpoints) eps.push_back({{"network", e.network}, {"ipv4", e.ipv4}, {"aliases", e.aliases}});
  json ports = json::array();
  for (const auto& p : n.ports)
    ports.push_back({{"port", p.container_port}, {"proto", p.proto}, {"host_ip", p.host_ip},
                     {"host_first", p.host_first}, {"host_last", p.host_last}});
  return {{"endpoints", eps},         {"ports", ports},
          {"publish_all", n.publish_all}, {"exposed", n.exposed},
          {"dns", n.dns},             {"dns_search", n.dns_search},
          {"dns_options", n.dns_options}, {"extra_hosts", n.extra_hosts},
          {"domainname", n.domainname}};
}

NetworkSpec net_from_json(const json& j) {
  NetworkSpec n;
  if (!j.is_object()) return n;
  using strings = std::vector<std::string>;
  if (j.contains("endpoints") && j["endpoints"].is_array())
    for (const json& e : j["endpoints"])
      n.endpoints.push_back({e.value("network", ""), e.value("ipv4", ""), e.value("aliases", strings{})});
  if (j.contains("ports") && j["ports"].is_array())
    for (const json& p : j["ports"])
      n.ports.push_back({p.value("port", uint16_t(0)), p.value("proto", "tcp"), p.value("host_ip", ""),
                         p.value("host_first", uint16_t(0)), p.value("host_last", uint16_t(0))});
  n.publish_all = j.value("publish_all", false);
  n.exposed = j.value("exposed", strings{});
  n.dns = j.value("dns", strings{});
  n.dns_search = j.value("dns_search", strings{});
  n.dns_options = j.value("dns_options", strings{});
  n.extra_hosts = j.value("extra_hosts", strings{});
  n.domainname = j.value("domainname", "");
  return n;
}

}  // namespace berth::engine
