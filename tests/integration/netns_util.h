// Helpers for netns/'s root tests: namespaces made by the test itself,
// sockets in them, a UDP echo, links listed by name. Nothing here touches
// the host's network: every socket lives in a namespace the test made.
#pragma once

#include <netinet/in.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "netns/subnet.h"

namespace berth::test {

bool is_root();
// A new network namespace (lo up), made by a short-lived thread that
// unshares and exits, so no thread of the test ever changes namespace.
unique_fd make_netns();
// Names of the links of a namespace.
std::set<std::string> link_names(int netns_fd);
// IPv4 addresses ("10.0.0.2/24") on `ifname` in a namespace.
std::vector<std::string> addresses_of(int netns_fd, const std::string& ifname);

// A UDP socket bound to ip:port inside a namespace.
unique_fd udp_bound(int netns_fd, netns::Ip4 ip, uint16_t port);
// Sends `payload` from a fresh socket in `netns_fd` to ip:port, then waits up
// to `wait_ms` for any reply on it; returns the reply ("" on none).
std::string udp_ask(int netns_fd, netns::Ip4 ip, uint16_t port, const std::string& payload, int wait_ms = 5000);
// Answers every datagram waiting on `fd` with the same bytes; returns how
// many were answered. Waits up to `wait_ms` for the first one.
int udp_echo_pending(int fd, int wait_ms);

// Runs `argv` in a child that joined `netns_fd`; returns its exit status
// (or -1). Output goes to *out when given.
int run_in_netns(int netns_fd, const std::vector<std::string>& argv, std::string* out = nullptr);

sockaddr_in sockaddr_of(netns::Ip4 ip, uint16_t port);

}  // namespace berth::test
