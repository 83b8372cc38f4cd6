// DnsServer: the DNS responder of one user network, on the reactor.
//
// One UDP socket bound to the network's gateway address, port 53 (bound
// with IP_FREEBIND, so it can be made before the bridge has its address).
// Containers' resolv.conf names the gateway as their nameserver
// (etc_files.h). Names the caller registers (container names, short ids,
// network aliases, compose service names) are answered from memory:
//   A           -> every address registered for the name (rotated per query)
//   AAAA, other -> NOERROR without records (the name exists; IPv4 only)
//   PTR         -> the first name registered for that address
// Everything else is forwarded to the upstream resolvers (the host's, from
// its resolv.conf without loopback ones; or a container's own --dns list,
// per client address), one fresh connected UDP socket per try (a new random
// source port and a new random id each time), at most `max_forwards` at
// once (beyond: SERVFAIL at once), each try bounded by a reactor timer;
// after the last upstream, SERVFAIL. With no upstream, unknown names get
// NXDOMAIN. Malformed queries get FORMERR; responses are never answered.
// No thread, no process: every receive, send and timer is a Completion on
// the reactor.
//
// Threads: reactor thread only (start() too: it makes sockets with a brief
// setns when netns fds are given, see enter.h; nothing blocks).
// Ownership: the server owns its sockets, buffers and in-flight forwards.
// Destroy it only after stop()'s callback has run (asserted).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"
#include "netns/dns.h"
#include "netns/subnet.h"

namespace berth::netns {

struct Upstream {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "8.8.8.8:53"
};
// An IPv4 or IPv6 address (as in resolv.conf) and a port.
Result<Upstream> parse_upstream(std::string_view ip, uint16_t port = 53);

struct DnsServerOptions {
  Ip4 address;                       // the network's gateway
  uint16_t port = 53;
  int netns_fd = -1;                 // namespace of the listening socket (-1: the caller's)
  std::vector<Upstream> upstreams;   // for every client without its own list
  int upstream_netns_fd = -1;        // namespace of the forwarding sockets
  unsigned max_forwards = 64;
  unsigned timeout_ms = 2000;        // per upstream try
  uint32_t ttl = 600;                // of local answers (Docker's)
};

struct DnsStats {
  uint64_t queries = 0, local = 0, forwarded = 0, timeouts = 0, busy = 0, malformed = 0, servfail = 0;
};

class DnsServer {
 public:
  // Errors: "dns 10.88.0.1:53: bind: Address already in use".
  static Result<std::unique_ptr<DnsServer>> start(reactor::Reactor& r, const DnsServerOptions& o);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Case-insensitive; a trailing dot is ignored. A name may have several
  // addresses (an alias shared by containers) and an address several names.
  void add_name(std::string_view name, Ip4 ip);
  void remove_name(std::string_view name, Ip4 ip);
  // Every name of a container's address.
  void remove_address(Ip4 ip);
  // A container's own upstreams (--dns), chosen by its source address.
  void set_client_upstreams(Ip4 client, std::vector<Upstream> ups);
  void clear_client_upstreams(Ip4 client);

  // Cancels the socket's receive and every forward; `done` runs on the
  // reactor thread once nothing is in flight. Then destroy the server.
  void stop(std::function<void()> done);

  const DnsStats& stats() const { return stats_; }
  const DnsServerOptions& options() const { return opts_; }

 private:
  struct Reply;
  struct Forward;
  DnsServer(reactor::Reactor& r, const DnsServerOptions& o);

  void arm_receive();
  void receive_done(int32_t res);
  void handle(std::span<const uint8_t> packet, const sockaddr_in& from);
  void send_reply(std::vector<uint8_t> data, const sockaddr_in& to);
  void forward(const dns::Query& q, std::span<const uint8_t> packet, const sockaddr_in& from);
  void try_upstream(Forward& f);
  void forward_event(Forward& f);
  void finish_forward(Forward& f);
  void maybe_stopped();

  reactor::Reactor& r_;
  DnsServerOptions opts_;
  unique_fd fd_;
  std::unordered_map<std::string, std::vector<Ip4>> names_;
  std::unordered_map<uint32_t, std::vector<std::string>> names_of_;
  std::unordered_map<uint32_t, std::vector<Upstream>> client_upstreams_;
  std::list<std::unique_ptr<Reply>> replies_;
  std::list<std::unique_ptr<Forward>> forwards_;
  std::mt19937 rng_;
  uint32_t rotate_ = 0;
  DnsStats stats_;

  reactor::Completion rx_;
  uint8_t rx_buf_[dns::kMaxUdp * 8];
  sockaddr_in rx_from_{};
  iovec rx_iov_{};
  msghdr rx_msg_{};

  bool stopping_ = false;
  bool stopped_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace berth::netns
