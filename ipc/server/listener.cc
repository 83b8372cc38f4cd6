#include <fcntl.h>
#include "ipc/server/listener.h"

#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"

namespace berth::ipc {

bool ThrottledLog::allow(uint64_t* skipped) {
  int64_t now = now_ns();
  if (last_ns_ != 0 && now - last_ns_ < interval_ns_) {
    skipped_++;
    return false;
  }
  last_ns_ = now;
  *skipped = skipped_;
  skipped_ = 0;
  return true;
}

namespace {

// The group's id, or -1 (with a warning) when it does not exist.
gid_t group_id(const std::string& name) {
  char buf[4096];
  group g{}, *found = nullptr;
  if (::getgrnam_r(name.c_str(), &g, buf, sizeof buf, &found) != 0 || !found) {
    log::warn("api", "no group {}: the API socket stays root:root (tools/setup makes the group)", name);
    return gid_t(-1);
  }
  return found->gr_gid;
}

Result<unique_fd> unix_socket(const std::string& path, const std::string& group) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_TRY_VOID(make_dirs(path.substr(0, slash), 0711));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error::invalid("socket path too long: {}", path);
  std::strcpy(addr.sun_path, path.c_str());
  unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::sys(errno, "socket");
  ::unlink(path.c_str());  // a stale socket; the root lock already proved no other daemon uses it
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return Error::sys(errno, "bind {}", path);
  // 0660 root:berth, like Docker's root:docker: members of the group may
  // use the API (which is root on this host), nobody else.
  if (::chmod(path.c_str(), 0660) < 0) return Error::sys(errno, "chmod {}", path);
  if (gid_t gid = group_id(group); gid != gid_t(-1) && ::chown(path.c_str(), 0, gid) < 0)
    return Error::sys(errno, "chown {} to root:{}", path, group);
  if (::listen(fd.get(), 1024) < 0) return Error::sys(errno, "listen {}", path);
  return fd;
}

// "addr:port", "[v6]:port" -> a listening TCP socket.
Result<unique_fd> tcp_socket(const std::string& where) {
  size_t colon = where.rfind(':');
  if (colon == std::string::npos || colon + 1 == where.size())
    return Error::invalid("-H tcp://{}: expected tcp://addr:port", where);
  std::string host = where.substr(0, colon), port = where.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Error::invalid("-H tcp://{}: {}", where, ::gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> hold(res, ::freeaddrinfo);
  unique_fd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::sys(errno, "socket");
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) < 0) return Error::sys(errno, "bind tcp://{}", where);
  if (::listen(fd.get(), 1024) < 0) return Error::sys(errno, "listen tcp://{}", where);
  return fd;
}

}  // namespace

Result<std::unique_ptr<Listener>> Listener::open(reactor::Reactor& r, const std::string& host,
                                                 const std::string& socket_group) {
  std::string_view h = host;
  if (h.starts_with("unix://")) {
    std::string path(h.substr(7));
    if (path.empty() || path[0] != '/') return Error::invalid("-H {}: socket path must be absolute", host);
    unique_fd fd = BERTH_TRY(unix_socket(path, socket_group));
    return std::unique_ptr<Listener>(new Listener(r, Kind::kUnix, host, path, std::move(fd)));
  }
  if (h.starts_with("tcp://")) {
    unique_fd fd = BERTH_TRY(tcp_socket(std::string(h.substr(6))));
    return std::unique_ptr<Listener>(new Listener(r, Kind::kTcp, host, "", std::move(fd)));
  }
  return Error::invalid("-H {}: only unix:// and tcp:// endpoints are supported", host);
}

Result<std::unique_ptr<Listener>> Listener::adopt(reactor::Reactor& r, const std::string& host, unique_fd fd) {
  int listening = 0, type = 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof listening, tlen = sizeof type, slen = sizeof ss;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
      ::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &slen) < 0)
    return Error::sys(errno, "inherited socket {} for {}", fd.get(), host);
  bool unix_host = std::string_view(host).starts_with("unix://");
  if (!listening || type != SOCK_STREAM || (ss.ss_family == AF_UNIX) != unix_host)
    return Error::invalid("inherited socket {} is not a listening socket for {}", fd.get(), host);
  if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0 || ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK) < 0)
    return Error::sys(errno, "inherited socket for {}", host);
  std::string path = unix_host ? host.substr(7) : "";
  return std::unique_ptr<Listener>(
      new Listener(r, unix_host ? Kind::kUnix : Kind::kTcp, host, std::move(path), std::move(fd)));
}

unique_fd Listener::release() {
  path_.clear();   // not unlinked: the next berthd listens on it
  return std::move(fd_);
}

Listener::~Listener() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

void Listener::start(std::function<void(unique_fd)> accepted) {
  accepted_ = std::move(accepted);
  accept_c_.set_callback([this](int32_t res, uint32_t flags) { accept_done(res, flags); });
  retry_c_.set_callback([this](int32_t, uint32_t) {
    if (closed_) return maybe_idle();
    arm();
  });
  arm();
}

void Listener::arm() {
  if (!accept_c_.in_flight()) r_.accept_multishot(fd_.get(), accept_c_);
}

void Listener::close(std::function<void()> idle) {
  closed_ = true;
  idle_ = std::move(idle);
  r_.cancel(accept_c_);
  r_.cancel(retry_c_);
  maybe_idle();
}

void Listener::maybe_idle() {
  if (!closed_ || busy() || !idle_) return;
  auto fn = std::move(idle_);
  idle_ = nullptr;
  fn();
}

void Listener::accept_done(int32_t res, uint32_t flags) {
  bool more = flags & IORING_CQE_F_MORE;
  if (res >= 0) {
    accepted_(unique_fd(res));   // also after close(): the server decides
  } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
    backoff_errno_ = -res;
    if (more) r_.cancel(accept_c_);   // the multishot ends with its own CQE
  } else if (res != -ECANCELED) {
    uint64_t skipped;
    if (errors_log_.allow(&skipped))
      log::warn("api", "accept on {}: {}{}", name_, std::strerror(-res),
                skipped ? fmt::format(" ({} more like it)", skipped) : "");
  }
  if (closed_) return maybe_idle();
  if (more) return;
  if (int err = std::exchange(backoff_errno_, 0)) return pause(err);
  arm();
}

// Out of fds or memory: stop accepting for kRetryMs (the connections wait
// in the backlog), then try again.
void Listener::pause(int err) {
  if (closed_) return;
  uint64_t skipped;
  if (errors_log_.allow(&skipped))
    log::warn("api", "accept on {}: {}: not accepting for {} ms{}", name_, std::strerror(err), kRetryMs,
              skipped ? fmt::format(" ({} more like it)", skipped) : "");
  retry_ts_ = {0, int64_t(kRetryMs) * 1000000};
  r_.timeout(&retry_ts_, retry_c_);
}

}  // namespace berth::ipc
