#include "netns/subnet.h"

#include <arpa/inet.h>

#include <vector>

#include <fmt/format.h>

namespace berth::netns {

namespace {

// One decimal octet, Go-strict: 1-3 digits, no leading zero, <= 255.
std::optional<uint32_t> parse_octet(std::string_view s) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint32_t(c - '0');
  }
  if (v > 255) return std::nullopt;
  return v;
}

std::optional<uint8_t> parse_prefix_len(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > max) return std::nullopt;
  return uint8_t(v);
}

bool looks_ipv6(std::string_view s) { return s.find(':') != std::string_view::npos; }

// Docker's validateAddress for a gateway: empty is fine (defaulted later).
std::optional<std::string> check_gateway(std::string_view gw, const Subnet& subnet) {
  if (gw.empty()) return std::nullopt;
  auto ip = parse_ip4(gw);
  if (!ip) {
    if (looks_ipv6(gw)) return fmt::format("invalid gateway {}: parent subnet is an IPv4 block", gw);
    return fmt::format("invalid gateway {}: invalid address", gw);
  }
  if (!subnet.contains(*ip))
    return fmt::format("invalid gateway {}: parent subnet {} doesn't contain this address", gw,
                       to_string(subnet));
  if (*ip == subnet.network || *ip == subnet.broadcast())
    return fmt::format("invalid gateway {}: the network or broadcast address of {} can't be a gateway",
                       gw, to_string(subnet));
  return std::nullopt;
}

// Docker's validateIPRange.
std::vector<std::string> check_range(std::string_view r, const Subnet& subnet) {
  if (r.empty()) return {};
  auto c = parse_cidr(r);
  if (!c) {
    if (looks_ipv6(r)) return {fmt::format("invalid ip-range {}: parent subnet is an IPv4 block", r)};
    return {fmt::format("invalid ip-range {}: invalid CIDR block notation", r)};
  }
  std::vector<std::string> errs;
  if (c->prefix < subnet.prefix)
    errs.push_back(fmt::format("invalid ip-range {}: CIDR block is bigger than its parent subnet {}", r,
                               to_string(subnet)));
  if (c->addr != c->subnet().network)
    errs.push_back(fmt::format("invalid ip-range {}: it should be {}", r, to_string(c->subnet())));
  if (!subnet.overlaps(c->subnet()))
    errs.push_back(fmt::format("invalid ip-range {}: parent subnet {} doesn't contain ip-range", r,
                               to_string(subnet)));
  return errs;
}

}  // namespace

std::optional<Ip4> parse_ip4(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    size_t dot = i < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto o = parse_octet(s.substr(0, dot));
    if (!o) return std::nullopt;
    v = (v << 8) | *o;
    s.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  if (!s.empty()) return std::nullopt;
  return Ip4{v};
}

std::string to_string(Ip4 ip) {
  uint32_t v = ip.value;
  return fmt::format("{}.{}.{}.{}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

in_addr to_in_addr(Ip4 ip) { return in_addr{htonl(ip.value)}; }
Ip4 from_in_addr(in_addr a) { return Ip4{ntohl(a.s_addr)}; }
bool is_loopback(Ip4 ip) { return (ip.value >> 24) == 127; }

bool Subnet::overlaps(const Subnet& o) const {
  uint8_t p = prefix < o.prefix ? prefix : o.prefix;
  uint32_t m = p == 0 ? 0 : ~uint32_t(0) << (32 - p);
  return (network.value & m) == (o.network.value & m);
}

std::string to_string(const Subnet& s) { return fmt::format("{}/{}", to_string(s.network), s.prefix); }

Subnet Cidr::subnet() const {
  Subnet s;
  s.prefix = prefix;
  s.network = Ip4{addr.value & s.mask()};
  return s;
}

std::optional<Cidr> parse_cidr(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = parse_ip4(s.substr(0, slash));
  auto p = parse_prefix_len(s.substr(slash + 1), 32);
  if (!ip || !p) return std::nullopt;
  return Cidr{*ip, *p};
}

std::string to_string(const Cidr& c) { return fmt::format("{}/{}", to_string(c.addr), c.prefix); }

Result<Subnet> parse_subnet(std::string_view s) {
  if (looks_ipv6(s))
    return Error::make(Code::kNotSupported, "invalid subnet {}: IPv6 networks are not supported", s);
  auto c = parse_cidr(s);
  if (!c) return Error::invalid("invalid subnet {}: invalid CIDR block notation", s);
  Subnet net = c->subnet();
  if (net.network != c->addr)
    return Error::invalid("invalid subnet {}: it should be {}", s, to_string(net));
  if (net.prefix > 30)
    return Error::invalid("invalid subnet {}: smaller than /30 has no room for a gateway and a container", s);
  if (net.prefix < 8) return Error::invalid("invalid subnet {}: larger than /8 is not supported", s);
  return net;
}

Result<NetworkAddressing> parse_addressing(std::string_view subnet, std::string_view ip_range,
                                           std::string_view gateway) {
  Subnet net = BERTH_TRY(parse_subnet(subnet));
  std::vector<std::string> errs = check_range(ip_range, net);
  if (auto e = check_gateway(gateway, net)) errs.push_back(*e);
  if (!errs.empty()) {
    std::string msg = "invalid network config:";
    for (const auto& e : errs) msg += "\n" + e;
    return Error(Code::kInvalidArgument, std::move(msg));
  }
  NetworkAddressing a;
  a.subnet = net;
  a.gateway = gateway.empty() ? Ip4{net.network.value + 1} : *parse_ip4(gateway);
  a.ip_range = ip_range.empty() ? net : parse_cidr(ip_range)->subnet();
  return a;
}

Mac mac_for(Ip4 ip) {
  uint32_t v = ip.value;
  return Mac{0x02, 0x42, uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
}

std::string to_string(const Mac& m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

}  // namespace berth::netns
