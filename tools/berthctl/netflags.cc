#include "tools/berthctl/netflags.h"

#include <fmt/format.h>

#include "core/base/strings.h"

namespace berth::ctl {

namespace {

using json = nlohmann::json;

struct Range {
  unsigned first = 0, last = 0;
  unsigned size() const { return last - first + 1; }
};

// "80" or "80-90"; `what` names the part in errors.
Result<Range> parse_range(std::string_view s, std::string_view what) {
  auto bad = [&] { return Error::invalid("invalid {}: {}", what, s); };
  auto dash = s.find('-');
  auto num = [](std::string_view n) -> std::optional<unsigned> {
    auto v = parse_int(n);
    if (n.empty() || !v || *v < 0 || *v > 65535) return std::nullopt;
    return unsigned(*v);
  };
  Range r;
  if (dash == std::string_view::npos) {
    auto v = num(s);
    if (!v) return bad();
    r.first = r.last = *v;
    return r;
  }
  auto a = num(s.substr(0, dash)), b = num(s.substr(dash + 1));
  if (!a || !b || *b < *a) return bad();
  r.first = *a;
  r.last = *b;
  return r;
}

Result<std::string> parse_proto(std::string_view& spec) {
  std::string proto = "tcp";
  if (auto slash = spec.rfind('/'); slash != std::string_view::npos) {
    proto = std::string(spec.substr(slash + 1));
    spec = spec.substr(0, slash);
  }
  if (proto != "tcp" && proto != "udp" && proto != "sctp") return Error::invalid("invalid proto: {}", proto);
  return proto;
}

}  // namespace

Result<std::vector<PortBinding>> parse_publish(std::string_view value) {
  std::string_view spec = value;
  std::string proto = BERTH_TRY(parse_proto(spec));
  // [ip:][hostPort:]containerPort, the ip maybe an [IPv6] in brackets.
  std::string ip, host, container;
  std::string_view rest = spec;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find("]:");
    if (close == std::string_view::npos) return Error::invalid("invalid IP address: {}", rest);
    ip = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 2);
  }
  auto parts = split(rest, ':');
  if (!ip.empty()) parts.insert(parts.begin(), ip);
  if (parts.size() == 1) {
    container = parts[0];
  } else if (parts.size() == 2) {
    host = parts[0];
    container = parts[1];
  } else if (parts.size() == 3) {
    ip = parts[0];
    host = parts[1];
    container = parts[2];
  } else {
    return Error::invalid("invalid port format for --publish: {}", value);
  }
  if (container.empty()) return Error::invalid("no port specified: {}<empty>", value);
  Range c = BERTH_TRY(parse_range(container, "containerPort"));
  std::optional<Range> h;
  if (!host.empty()) h = BERTH_TRY(parse_range(host, "hostPort"));
  if (h && c.size() > 1 && h->size() != c.size())
    return Error::invalid("invalid ranges specified for container and host Ports: {} and {}", container, host);
  std::vector<PortBinding> out;
  for (unsigned i = 0; i < c.size(); i++) {
    PortBinding b;
    b.key = fmt::format("{}/{}", c.first + i, proto);
    b.host_ip = ip;
    if (h && c.size() > 1) b.host_port = std::to_string(h->first + i);
    else if (h) b.host_port = h->size() > 1 ? fmt::format("{}-{}", h->first, h->last) : std::to_string(h->first);
    out.push_back(std::move(b));
  }
  return out;
}

Result<std::vector<std::string>> parse_expose(std::string_view value) {
  std::string_view spec = value;
  std::string proto = BERTH_TRY(parse_proto(spec));
  Range r = BERTH_TRY(parse_range(spec, "range format for --expose"));
  std::vector<std::string> out;
  for (unsigned p = r.first; p <= r.last; p++) out.push_back(fmt::format("{}/{}", p, proto));
  return out;
}

Result<void> apply_network_flags(const NetFlags& f, json& config, json& host, json& networking) {
  std::string mode = f.network.empty() ? "default" : f.network;
  host["NetworkMode"] = mode;
  json exposed = json::object();
  json bindings = json::object();
  for (const auto& e : f.expose)
    for (const auto& key : BERTH_TRY(parse_expose(e))) exposed[key] = json::object();
  for (const auto& p : f.publish)
    for (const auto& b : BERTH_TRY(parse_publish(p))) {
      exposed[b.key] = json::object();
      bindings[b.key].push_back({{"HostIp", b.host_ip}, {"HostPort", b.host_port}});
    }
  if (!exposed.empty()) config["ExposedPorts"] = exposed;
  if (!bindings.empty()) host["PortBindings"] = bindings;
  if (f.publish_all) host["PublishAllPorts"] = true;
  if (!f.add_hosts.empty()) host["ExtraHosts"] = f.add_hosts;
  if (!f.links.empty()) host["Links"] = f.links;
  if (!f.dns.empty()) host["Dns"] = f.dns;
  if (!f.dns_search.empty()) host["DnsSearch"] = f.dns_search;
  if (!f.dns_options.empty()) host["DnsOptions"] = f.dns_options;
  json endpoints = json::object();
  if (!f.ip.empty() || !f.aliases.empty()) {
    json ep = json::object();
    if (!f.ip.empty()) ep["IPAMConfig"] = {{"IPv4Address", f.ip}};
    if (!f.aliases.empty()) ep["Aliases"] = f.aliases;
    endpoints[mode] = ep;
  }
  networking["EndpointsConfig"] = endpoints;
  return ok();
}

}  // namespace berth::ctl
