// The content of a container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, written as Docker writes them (moby's etchosts and
// internal/resolvconf packages: the same lines, order and trailing
// comments), and the parsing of the host's resolv.conf.
//
//   /etc/hosts        127.0.0.1 localhost, the IPv6 lines (if the
//                     container has IPv6 on lo), --add-host entries, then
//                     the container's own address and hostname.
//   /etc/hostname     the hostname and a newline.
//   /etc/resolv.conf  default bridge ("legacy"): the host's file with
//                     loopback nameservers removed (and IPv6 ones without
//                     IPv6), Google's if none is left; user networks
//                     ("internal resolver"): nameserver = the network's
//                     gateway, where berth's DnsServer listens (Docker uses
//                     127.0.0.11 inside the container; berth has no process
//                     there), options ndots:0, and the host's nameservers
//                     become the responder's upstreams (returned).
//                     --dns, --dns-search, --dns-option replace the
//                     nameservers, search domains and options. (One
//                     difference: Docker forwards a loopback --dns of a
//                     user-network container from inside the container;
//                     berth's responder forwards from berthd's namespace.)
//
// Threads: pure functions; any thread; never block (the caller reads the
// host's /etc/resolv.conf and writes the files).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "netns/subnet.h"

namespace berth::netns {

struct HostEntry {
  std::string host;
  std::string ip;  // IPv4, IPv6, or "host-gateway" (the engine substitutes it)
};
// "name:1.2.3.4", "name=1.2.3.4", "name:::1", "name:host-gateway".
// Errors: "--add-host \"x\": expected host:ip", "--add-host \"db:nope\":
// invalid IP address \"nope\"".
Result<HostEntry> parse_add_host(std::string_view s);

struct HostsInput {
  std::string hostname;
  std::string domainname;         // "" for none
  std::optional<std::string> ip;  // the container's own (first network), if any
  std::vector<HostEntry> extra;   // --add-host, in order
  bool ipv6 = true;               // the ::1 and ff02:: lines
};
std::string hosts_file(const HostsInput& in);
std::string hostname_file(std::string_view hostname);

struct ResolvConf {
  std::vector<std::string> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;
  std::vector<std::string> other;            // lines berth does not know, kept
  std::vector<std::string> invalid_nameservers;
};
// resolv.conf(5): comments (# ;) and blank lines dropped, the last
// "search"/"domain" wins, "options" accumulate.
ResolvConf parse_resolv_conf(std::string_view text);
bool is_loopback_nameserver(std::string_view ns);  // 127.0.0.0/8, ::1
bool is_ipv6_nameserver(std::string_view ns);

struct ResolvInput {
  ResolvConf host;
  std::string host_path = "/etc/resolv.conf";  // named in the trailing comment
  std::optional<Ip4> internal_dns;             // set on user networks: the gateway
  std::vector<std::string> dns, dns_search, dns_options;  // --dns ... (empty: not given)
  bool ipv6 = false;                           // the container has IPv6 on its network
};
struct ResolvOutput {
  std::string content;
  // With internal_dns: where the responder forwards this container's other
  // queries (--dns, else the host's non-loopback nameservers, else Google's).
  std::vector<std::string> upstreams;
};
// Errors: "--dns \"x\": not an IP address", "--dns-search \"a..b\": not a
// valid domain", "--dns-option \"\": empty".
Result<ResolvOutput> resolv_conf(const ResolvInput& in);

}  // namespace berth::netns
