#include "netns/etc_files.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "core/base/strings.h"

namespace berth::netns {

namespace {

const std::vector<std::string> kDefaultNs4 = {"8.8.8.8", "8.8.4.4"};
const std::vector<std::string> kDefaultNs6 = {"2001:4860:4860::8888", "2001:4860:4860::8844"};

bool is_ipv6(std::string_view s) {
  in6_addr a;
  std::string z(s);
  if (auto pct = z.find('%'); pct != std::string::npos) z.resize(pct);  // fe80::1%eth0
  return inet_pton(AF_INET6, z.c_str(), &a) == 1;
}

bool is_ip(std::string_view s) { return parse_ip4(s).has_value() || is_ipv6(s); }

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') j++;
    if (j > i) out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 255) return false;
  if (d.back() == '.') d.remove_suffix(1);
  for (const auto& label : split(d, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// An "ndots:N" with a bad N is dropped when berth needs its own ndots.
std::vector<std::string> without_bad_ndots(const std::vector<std::string>& opts) {
  std::vector<std::string> out;
  for (const auto& o : opts) {
    if (starts_with(o, "ndots:")) {
      auto n = parse_int(o.substr(6));
      if (!n || *n < 0) continue;
    }
    out.push_back(o);
  }
  return out;
}

bool has_option(const std::vector<std::string>& opts, std::string_view name) {
  for (const auto& o : opts)
    if (o == name || starts_with(o, std::string(name) + ":")) return true;
  return false;
}

Result<void> check_overrides(const ResolvInput& in) {
  for (const auto& d : in.dns)
    if (!is_ip(d)) return Error::invalid("--dns \"{}\": not an IP address", d);
  for (const auto& s : in.dns_search)
    if (s != "." && !valid_domain(s)) return Error::invalid("--dns-search \"{}\": not a valid domain", s);
  for (const auto& o : in.dns_options) {
    if (o.empty()) return Error::invalid("--dns-option \"\": empty");
    if (fields(o).size() != 1) return Error::invalid("--dns-option \"{}\": has spaces", o);
  }
  return ok();
}

}  // namespace

Result<HostEntry> parse_add_host(std::string_view s) {
  // The host name ends at the first ':' or '='; the rest is the address
  // (which may itself hold colons: IPv6).
  size_t sep = s.find_first_of(":=");
  if (sep == std::string_view::npos || sep == 0 || sep + 1 >= s.size())
    return Error::invalid("--add-host \"{}\": expected host:ip", s);
  HostEntry e{std::string(s.substr(0, sep)), std::string(s.substr(sep + 1))};
  if (e.ip.size() > 2 && e.ip.front() == '[' && e.ip.back() == ']') e.ip = e.ip.substr(1, e.ip.size() - 2);
  if (e.ip != "host-gateway" && !is_ip(e.ip))
    return Error::invalid("--add-host \"{}\": invalid IP address \"{}\"", s, e.ip);
  if (fields(e.host).size() != 1 || e.host.find('#') != std::string::npos)
    return Error::invalid("--add-host \"{}\": invalid host name \"{}\"", s, e.host);
  return e;
}

std::string hosts_file(const HostsInput& in) {
  std::string out = "127.0.0.1\tlocalhost\n";
  if (in.ipv6)
    out += "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\n"
           "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
  for (const auto& e : in.extra) out += fmt::format("{}\t{}\n", e.ip, e.host);
  if (in.ip) {
    // A FQDN (given whole or split over hostname and domainname) and the
    // bare name after it.
    std::string fqdn = in.hostname;
    if (!in.domainname.empty()) fqdn += "." + in.domainname;
    std::string names = fqdn;
    if (auto dot = fqdn.find('.'); dot != std::string::npos) names += " " + fqdn.substr(0, dot);
    out += fmt::format("{}\t{}\n", *in.ip, names);
  }
  return out;
}

std::string hostname_file(std::string_view hostname) { return std::string(hostname) + "\n"; }

bool is_loopback_nameserver(std::string_view ns) {
  if (auto v4 = parse_ip4(ns)) return is_loopback(*v4);
  in6_addr a;
  std::string s(ns);
  return inet_pton(AF_INET6, s.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
}

bool is_ipv6_nameserver(std::string_view ns) { return !parse_ip4(ns) && is_ipv6(ns); }

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf rc;
  for (const auto& line : split(text, '\n')) {
    auto f = fields(line);
    if (f.empty() || f[0][0] == '#' || f[0][0] == ';') continue;
    if (f[0] == "nameserver") {
      if (f.size() < 2) continue;
      if (is_ip(f[1])) rc.nameservers.push_back(f[1]);
      else rc.invalid_nameservers.push_back(f[1]);
    } else if (f[0] == "search" || f[0] == "domain") {
      if (f.size() < 2) continue;
      rc.search.assign(f.begin() + 1, f.end());
    } else if (f[0] == "options") {
      rc.options.insert(rc.options.end(), f.begin() + 1, f.end());
    } else {
      std::string l = line;
      if (!l.empty() && l.back() == '\r') l.pop_back();
      rc.other.push_back(l);
    }
  }
  return rc;
}

Result<ResolvOutput> resolv_conf(const ResolvInput& in) {
  BERTH_TRY_VOID(check_overrides(in));
  ResolvConf rc = in.host;
  std::vector<std::string> overrides;
  bool ns_override = !in.dns.empty();
  if (ns_override) {
    rc.nameservers = in.dns;
    overrides.push_back("nameservers");
  }
  if (!in.dns_search.empty()) {
    rc.search.clear();
    for (const auto& s : in.dns_search)
      if (s != ".") rc.search.push_back(s);
    overrides.push_back("search");
  }
  std::string ndots_from;
  if (!in.dns_options.empty()) {
    rc.options = in.dns_options;
    overrides.push_back("options");
    if (has_option(rc.options, "ndots")) ndots_from = "override";
  }
  ResolvOutput out;
  bool used_default = false;
  std::string transform;
  if (in.internal_dns) {
    transform = "internal resolver";
    for (const auto& ns : rc.nameservers)
      if (ns_override || !is_loopback_nameserver(ns)) out.upstreams.push_back(ns);
    if (out.upstreams.empty()) {
      out.upstreams = kDefaultNs4;
      if (in.ipv6) out.upstreams.insert(out.upstreams.end(), kDefaultNs6.begin(), kDefaultNs6.end());
      used_default = true;
    }
    rc.nameservers = {to_string(*in.internal_dns)};
    rc.options = without_bad_ndots(rc.options);
    if (!has_option(rc.options, "ndots")) {
      rc.options.push_back("ndots:0");
      ndots_from = "internal";
    } else if (ndots_from.empty()) {
      ndots_from = "host";
    }
  } else {
    transform = "legacy";
    if (!ns_override) {
      std::vector<std::string> kept;
      for (const auto& ns : rc.nameservers)
        if (!is_loopback_nameserver(ns) && (in.ipv6 || !is_ipv6_nameserver(ns))) kept.push_back(ns);
      rc.nameservers = kept;
      if (rc.nameservers.empty()) {
        rc.nameservers = kDefaultNs4;
        if (in.ipv6) rc.nameservers.insert(rc.nameservers.end(), kDefaultNs6.begin(), kDefaultNs6.end());
        used_default = true;
      }
    }
  }
  std::string& s = out.content;
  for (const auto& ns : rc.nameservers) s += "nameserver " + ns + "\n";
  if (!rc.search.empty()) s += "search " + join(rc.search, " ") + "\n";
  if (!rc.options.empty()) s += "options " + join(rc.options, " ") + "\n";
  for (const auto& o : rc.other) s += o + "\n";
  s += fmt::format("\n# Based on host file: '{}' ({})\n", in.host_path, transform);
  if (used_default) s += "# Used default nameservers.\n";
  if (in.internal_dns) s += "# ExtServers: [" + join(out.upstreams, " ") + "]\n";
  if (!rc.invalid_nameservers.empty()) s += "# Invalid nameservers: [" + join(rc.invalid_nameservers, " ") + "]\n";
  s += "# Overrides: [" + join(overrides, " ") + "]\n";
  if (!ndots_from.empty()) s += "# Option ndots from: " + ndots_from + "\n";
  return out;
}

}  // namespace berth::netns
