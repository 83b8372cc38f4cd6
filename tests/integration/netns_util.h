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

// TCP: a listener bound inside a namespace; a connect from inside a
// namespace that waits up to `wait_ms` (an invalid fd if it failed); the
// peer address ("10.99.0.1") of the next connection accepted within
// `wait_ms` ("" on none).
unique_fd tcp_listen(int netns_fd, netns::Ip4 ip, uint16_t port);
unique_fd tcp_connect(int netns_fd, netns::Ip4 ip, uint16_t port, int wait_ms = 5000);
std::string tcp_accept_peer(int listen_fd, int wait_ms = 5000, unique_fd* conn = nullptr);
// UDP: the source address of the next datagram on `fd` ("" if none comes
// within `wait_ms`), answering it with the same bytes.
std::string udp_echo_one(int fd, int wait_ms);

// An address the test writes out, "10.0.0.1" (never malformed).
inline netns::Ip4 ip(const char* s) { return *netns::parse_ip4(s); }

}  // namespace berth::test
