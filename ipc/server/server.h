// Server: the Docker Engine API on a Unix socket. Accepts connections with a
// multishot accept on the reactor, owns every Connection, and routes each
// complete request to a handler (handlers_*.cc) that maps it onto engine
// calls. No container logic lives here.
//
// Thread: reactor thread only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/engine/api.h"
#include "core/reactor/reactor.h"
#include "ipc/proto/request.h"
#include "ipc/server/connection.h"

namespace berth::ipc {

inline constexpr const char* kApiVersion = "1.50";
inline constexpr const char* kMinApiVersion = "1.24";
inline constexpr const char* kBerthVersion = "0.1.0";

class Server {
 public:
  static Result<std::unique_ptr<Server>> listen(reactor::Reactor& r, engine::Engine& e,
                                                const std::string& socket_path);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting and closes every connection; `done` runs once all are gone.
  void close(std::function<void()> done);

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

 private:
  Server(reactor::Reactor& r, engine::Engine& e) : r_(r), e_(e) {}
  void accept_done(int32_t res);
  void check_closed();

  reactor::Reactor& r_;
  engine::Engine& e_;
  std::string path_;
  std::string upload_dir_;
  unique_fd listen_fd_;
  reactor::Completion accept_c_;
  Headers std_headers_;
  std::map<Connection*, std::unique_ptr<Connection>> conns_;
  std::map<uint64_t, Connection*> by_serial_;   // open connections only
  uint64_t next_serial_ = 1;
  std::function<void()> closed_;
};

}  // namespace berth::ipc
