// PortProxy: the published-port proxy of one host port, on the reactor.
//
// nftables DNAT (nat.h) carries published ports for traffic that is routed
// (from outside, from containers). Traffic to the host's own loopback never
// is, so, as Docker's userland proxy does, berth also listens on the host
// port: the listener reserves the port (a port taken by another program is
// a clear error at start: "bind 0.0.0.0:18080: Address already in use") and
// serves connections that reach it, loopback ones in particular.
//
// Per connection: a connect to the container (io_uring connect, bounded by a
// reactor timer), then bytes copied both ways with splice(2) through one
// pipe per direction (IORING_OP_SPLICE, socket -> pipe -> socket, no copy
// through user space). Each direction is a pipeline: a splice in (non-
// blocking; on EAGAIN poll for input) while the pipe has room and a splice
// out (on EAGAIN poll for output; once the receiver has half-closed, a
// blocking splice instead, see out_ready() in proxy.cc) while it holds
// bytes, both in flight at once. EOF on one side is passed on as shutdown(WR) to
// the other once the pipe is drained (half-close); the connection ends when
// both directions have; any error closes both sides. At most
// max_connections at once: beyond, the accept is paused (the kernel's
// backlog holds newcomers) until one ends.
//
// TCP only: published UDP ports are served by NAT alone (a UDP proxy would
// need per-client flow state; loopback UDP to a published port is not
// forwarded, as with Docker's proxy turned off). start() refuses kUdp.
//
// Threads: reactor thread only; nothing blocks (start() makes its socket
// with a brief setns if given a netns fd, see enter.h). Destroy the proxy
// only after stop()'s callback has run (asserted).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"
#include "netns/nat.h"
#include "netns/subnet.h"

namespace berth::netns {

struct ProxyOptions {
  Proto proto = Proto::kTcp;
  Ip4 host_ip;                  // 0.0.0.0: every address
  uint16_t host_port = 0;       // 0: an ephemeral port, then options().host_port says which
  Ip4 container_ip;
  uint16_t container_port = 0;
  int netns_fd = -1;            // where the listener and the outgoing sockets are made
  unsigned max_connections = 1024;
  unsigned pipe_bytes = 1 << 20;    // per direction (F_SETPIPE_SZ; slots, not memory, until filled)
  unsigned connect_timeout_ms = 10000;
};

struct ProxyStats {
  uint64_t accepted = 0, connect_failed = 0, closed = 0, aborted = 0, paused = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // client -> container, container -> client
};

class PortProxy {
 public:
  static Result<std::unique_ptr<PortProxy>> start(reactor::Reactor& r, const ProxyOptions& o);
  ~PortProxy();
  PortProxy(const PortProxy&) = delete;
  PortProxy& operator=(const PortProxy&) = delete;

  // Closes the listener and every connection; `done` runs on the reactor
  // thread once nothing is in flight. Then destroy the proxy.
  void stop(std::function<void()> done);

  size_t connections() const { return conns_.size(); }
  const ProxyStats& stats() const { return stats_; }
  const ProxyOptions& options() const { return opts_; }

  // Each connection's state, one line each (for test failures).
  std::string describe() const;

 private:
  struct Conn;
  struct Dir;
  PortProxy(reactor::Reactor& r, const ProxyOptions& o);

  void arm_accept();
  void accepted(int32_t res, uint32_t flags);
  void connect_done(Conn& c, int32_t res);
  void drive(Conn& c, Dir& d);
  void in_done(Conn& c, Dir& d, int32_t res);
  void out_done(Conn& c, Dir& d, int32_t res);
  void out_ready(Conn& c, Dir& d, int32_t mask);
  void abort(Conn& c);
  void maybe_finish(Conn& c);
  void maybe_stopped();

  reactor::Reactor& r_;
  ProxyOptions opts_;
  unique_fd listen_fd_;
  reactor::Completion accept_c_;
  reactor::Completion retry_c_;  // re-arms the accept after EMFILE and the like
  __kernel_timespec retry_ts_{0, 100 * 1000 * 1000};
  std::list<std::unique_ptr<Conn>> conns_;
  ProxyStats stats_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace berth::netns
