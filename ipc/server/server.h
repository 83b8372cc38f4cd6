// Server: the Docker Engine API on its endpoints (listener.h: a Unix socket,
// TCP ports with TLS). Owns every Connection, and routes each complete
// request to a handler (handlers_*.cc) that maps it onto engine calls. No
// container logic lives here.
//
// Limits that keep one client (or many) from taking berthd down:
//   - at most max_connections open connections: one more is answered 503
//     ("berthd has too many connections") and closed at once;
//   - a request head (and a TLS handshake) must arrive within
//     header_timeout_s of the connection's start or of the previous
//     response, else the connection is closed (408 when part of a head
//     came); a once-a-second sweep checks the deadlines;
//   - request bodies are bounded (connection.h), JSON bodies nest at most
//     kMaxJsonDepth levels (json_util.h).
//
// Thread: reactor thread only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/engine/api.h"
#include "core/reactor/reactor.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"
#include "ipc/server/listener.h"
#include "ipc/server/tls.h"

namespace berth::ipc {

inline constexpr const char* kApiVersion = "1.50";
inline constexpr const char* kMinApiVersion = "1.24";
inline constexpr const char* kBerthVersion = "0.1.0";

struct ServerOptions {
  std::vector<std::string> hosts;        // "unix:///path", "tcp://addr:port" (listener.h)
  std::string socket_group = "berth";    // the Unix sockets' group
  size_t max_connections = 0;            // 0: half the open-file limit, at least 64
  int header_timeout_s = 60;
  // tcp:// endpoints: mutual TLS with these files (Docker's --tlsverify),
  // or, only when insecure_tcp, plain HTTP. Anything else is refused.
  bool tls_verify = false;
  TlsFiles tls;
  bool insecure_tcp = false;
  // A live upgrade: listening sockets the replaced berthd handed over, by
  // host. A host found here is served on its socket (no moment without a
  // listener); one not found is opened anew. listen() owns these fds: it
  // closes those it does not use.
  std::map<std::string, int> inherited;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> listen(reactor::Reactor& r, engine::Engine& e, const ServerOptions& o);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting and closes every connection; `done` runs once all are
  // gone. `drain` (a live upgrade): requests under way are answered first
  // (Connection::drain), for at most kDrainSeconds.
  static constexpr int kDrainSeconds = 10;
  void close(std::function<void()> done, bool drain = false);
  // After close() is done: the listening sockets by host, for the berthd
  // that replaces this one (a live upgrade); their paths stay.
  std::map<std::string, unique_fd> release_listeners();

  reactor::Reactor& reactor() { return r_; }
  engine::Engine& engine() { return e_; }
  const Headers& standard_headers() const { return std_headers_; }
  bool is_upload(const Request& req) const;
  const std::string& upload_dir() const { return upload_dir_; }

  Connection* lookup(uint64_t serial) const {
    auto it = by_serial_.find(serial);
    return it == by_serial_.end() ? nullptr : it->second;
  }
  void forget(uint64_t serial) { by_serial_.erase(serial); }
  void dispatch(Connection& c);
  void release(Connection* c);
  size_t connections() const { return conns_.size(); }
  ThrottledLog& tls_log() { return tls_log_; }

 private:
  Server(reactor::Reactor& r, engine::Engine& e) : r_(r), e_(e) {}
  void accepted(Listener& l, unique_fd fd);
  void refuse(int fd, bool tls);
  void sweep();
  void check_closed();

  reactor::Reactor& r_;
  engine::Engine& e_;
  std::string upload_dir_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  size_t max_connections_ = 64;
  int64_t header_timeout_ns_ = 0;
  reactor::Completion sweep_c_;          // once a second while connections are open
  __kernel_timespec sweep_ts_{1, 0};
  bool draining_ = false;
  reactor::Completion drain_c_;          // close(drain): the bound on the drain
  __kernel_timespec drain_ts_{kDrainSeconds, 0};
  ThrottledLog refused_log_;
  std::unique_ptr<TlsContext> tls_;      // for tcp:// endpoints, unless --insecure-tcp
  ThrottledLog tls_log_;                 // refused handshakes
  Headers std_headers_;
  std::map<Connection*, std::unique_ptr<Connection>> conns_;
  std::map<uint64_t, Connection*> by_serial_;   // open connections only
  uint64_t next_serial_ = 1;
  std::function<void()> closed_;
};

}  // namespace berth::ipc
