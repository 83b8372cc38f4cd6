// Listener: one API endpoint of berthd (-H): a Unix socket (mode 0660,
// group "berth" when that group exists, as Docker's socket is root:docker)
// or a TCP port (tcp://addr:port; TLS is the server's choice, tls.h), and
// its accept loop on the ring.
//
// Accepting backs off when the process is out of file descriptors
// (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM): the multishot
// accept is not re-armed; a timer re-arms it kRetryMs later, while the
// pending connections wait in the kernel's backlog. Such errors are logged
// at most once per second, with the number left unsaid. (Re-arming at once
// made the loop spin at 0.8 core and write 7 million log lines in 35 s at
// 20,010 idle connections.)
//
// Thread: reactor thread only. Sockets are made by open() before the loop
// runs (bind, chmod, chown and getaddrinfo may block).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/reactor/reactor.h"

namespace berth::ipc {

// Logs a line at most once per interval; the lines it swallowed are
// counted into the next one ("... (12 more like it)").
class ThrottledLog {
 public:
  explicit ThrottledLog(int64_t interval_ns = 1'000'000'000) : interval_ns_(interval_ns) {}
  // True when a line may be written now; `*skipped` is how many were not.
  bool allow(uint64_t* skipped);

 private:
  int64_t interval_ns_;
  int64_t last_ns_ = 0;
  uint64_t skipped_ = 0;
};

class Listener {
 public:
  static constexpr int kRetryMs = 100;
  enum class Kind { kUnix, kTcp };

  // `host`: "unix:///path" or "tcp://addr:port" (addr may be a name, an
  // IPv4 address or a bracketed IPv6 one). `socket_group`: the Unix
  // socket's group (skipped with a warning when it does not exist).
  static Result<std::unique_ptr<Listener>> open(reactor::Reactor& r, const std::string& host,
                                                const std::string& socket_group);
  // A listening socket handed over by the berthd this one replaced (a live
  // upgrade, server.h): checked to be a listening stream socket of the
  // kind `host` names; made non-blocking and close-on-exec.
  static Result<std::unique_ptr<Listener>> adopt(reactor::Reactor& r, const std::string& host, unique_fd fd);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Starts accepting; each new connection (non-blocking, close-on-exec)
  // goes to `accepted`.
  void start(std::function<void(unique_fd)> accepted);
  // Stops accepting; `idle` runs once no operation is in flight (at once
  // when none is).
  void close(std::function<void()> idle);
  bool busy() const { return accept_c_.in_flight() || retry_c_.in_flight(); }
  // After close() is idle: the socket, for the next berthd (a live
  // upgrade); the Unix socket's path stays.
  unique_fd release();

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }   // as given to open()

 private:
  Listener(reactor::Reactor& r, Kind kind, std::string name, std::string path, unique_fd fd)
      : r_(r), kind_(kind), name_(std::move(name)), path_(std::move(path)), fd_(std::move(fd)) {}
  void arm();
  void accept_done(int32_t res, uint32_t flags);
  void pause(int err);
  void maybe_idle();

  reactor::Reactor& r_;
  Kind kind_;
  std::string name_, path_;   // path_: the Unix socket's, unlinked at the end
  unique_fd fd_;
  std::function<void(unique_fd)> accepted_;
  std::function<void()> idle_;
  reactor::Completion accept_c_, retry_c_;
  __kernel_timespec retry_ts_{};
  bool closed_ = false;
  int backoff_errno_ = 0;   // an accept failed for want of fds or memory: pause, then re-arm
  ThrottledLog errors_log_;
};

}  // namespace berth::ipc
