#include "netns/proxy.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "core/base/assert.h"
#include "netns/enter.h"

namespace berth::netns {

struct PortProxy::Dir {
  int from = -1, to = -1;  // the Conn's sockets
  unique_fd pr, pw;        // this direction's pipe
  size_t cap = 0;          // the pipe's size
  size_t in_pipe = 0;      // bytes spliced in, not yet out
  bool eof = false;        // `from` said EOF
  bool pipe_full = false;  // the last splice in found no room: wait for an out
  bool blocking_out = false;  // `to` was made blocking (see out_ready)
  bool done = false;       // EOF passed on to `to`
  uint64_t* counter = nullptr;
  reactor::Completion in_c, out_c, poll_in_c, poll_out_c;
  bool busy() const {
    return in_c.in_flight() || out_c.in_flight() || poll_in_c.in_flight() || poll_out_c.in_flight();
  }
};

struct PortProxy::Conn {
  std::list<std::unique_ptr<Conn>>::iterator self;
  unique_fd client, upstream;
  sockaddr_in target{};
  reactor::Completion connect_c, timer_c;
  __kernel_timespec ts{};
  Dir up, down;  // client -> container, container -> client
  bool connected = false, aborting = false, finishing = false;
  bool busy() const { return connect_c.in_flight() || timer_c.in_flight() || up.busy() || down.busy(); }
};

namespace {

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Result<size_t> make_pipe(unique_fd* r, unique_fd* w, unsigned bytes) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return Error::sys(errno, "pipe");
  r->reset(p[0]);
  w->reset(p[1]);
  // A bigger pipe moves more per splice; the default (64 KiB) is kept if
  // the limit (fs.pipe-max-size, pipe-user-pages-soft) says no.
  ::fcntl(p[1], F_SETPIPE_SZ, int(bytes));
  int size = ::fcntl(p[1], F_GETPIPE_SZ);
  return size_t(size > 0 ? size : 65536);
}

}  // namespace

PortProxy::PortProxy(reactor::Reactor& r, const ProxyOptions& o) : r_(r), opts_(o) {}

PortProxy::~PortProxy() {
  BERTH_ASSERT_MSG(!accept_c_.in_flight() && !retry_c_.in_flight() && conns_.empty(),
                   "PortProxy destroyed before stop() finished");
}

Result<std::unique_ptr<PortProxy>> PortProxy::start(reactor::Reactor& r, const ProxyOptions& o) {
  std::string where = fmt::format("{}:{}", to_string(o.host_ip), o.host_port);
  if (o.proto != Proto::kTcp)
    return Error::make(Code::kNotSupported, "proxy udp {}: not supported (published UDP ports are served by NAT only)",
                       where);
  if (o.container_port == 0 || o.max_connections == 0)
    return Error::invalid("proxy {}: container port 0 or no connections allowed", where);
  std::unique_ptr<PortProxy> p(new PortProxy(r, o));
  p->listen_fd_ = BERTH_TRY_CTX(socket_in_netns(o.netns_fd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), "listen {}", where);
  int one = 1;
  ::setsockopt(p->listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(o.host_port);
  sa.sin_addr = to_in_addr(o.host_ip);
  if (::bind(p->listen_fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return Error::sys(errno, "bind {}", where);
  if (::listen(p->listen_fd_.get(), SOMAXCONN) < 0) return Error::sys(errno, "listen {}", where);
  if (o.host_port == 0) {
    // An ephemeral port: the one the kernel chose.
    socklen_t len = sizeof sa;
    if (::getsockname(p->listen_fd_.get(), reinterpret_cast<sockaddr*>(&sa), &len) < 0)
      return Error::sys(errno, "listen {}: getsockname", where);
    p->opts_.host_port = ntohs(sa.sin_port);
  }
  p->accept_c_.set_callback([raw = p.get()](int32_t res, uint32_t flags) { raw->accepted(res, flags); });
  p->retry_c_.set_callback([raw = p.get()](int32_t, uint32_t) {
    if (raw->stopping_) return raw->maybe_stopped();
    raw->arm_accept();
  });
  p->arm_accept();
  return p;
}

// One accept at a time (not multishot, which takes every connection of
// the backlog at once): past max_connections, none is armed and newcomers
// wait in the kernel's backlog.
void PortProxy::arm_accept() {
  if (accept_c_.in_flight() || retry_c_.in_flight() || stopping_ || !listen_fd_) return;
  if (conns_.size() >= opts_.max_connections) return;
  r_.accept(listen_fd_.get(), accept_c_);
}

void PortProxy::accepted(int32_t res, uint32_t) {
  if (res >= 0 && stopping_) ::close(res);
  if (res < 0 || stopping_) {
    if (stopping_) return maybe_stopped();
    // Out of fds or memory: try again a little later, not in a tight loop.
    if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
      if (!retry_c_.in_flight()) r_.timeout(&retry_ts_, retry_c_);
      return;
    }
    return arm_accept();
  }
  stats_.accepted++;
  auto& owned = conns_.emplace_back(std::make_unique<Conn>());
  Conn& c = *owned;
  c.self = std::prev(conns_.end());
  c.client.reset(res);
  no_delay(res);
  c.target.sin_family = AF_INET;
  c.target.sin_port = htons(opts_.container_port);
  c.target.sin_addr = to_in_addr(opts_.container_ip);
  Conn* cp = &c;
  c.connect_c.set_callback([this, cp](int32_t r, uint32_t) { connect_done(*cp, r); });
  c.timer_c.set_callback([this, cp](int32_t r, uint32_t) {
    if (r == -ETIME) r_.cancel(cp->connect_c);
    maybe_finish(*cp);
  });
  auto up = socket_in_netns(opts_.netns_fd, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  Result<size_t> pipes = up ? make_pipe(&c.up.pr, &c.up.pw, opts_.pipe_bytes) : Result<size_t>(up.error());
  if (pipes) {
    c.up.cap = *pipes;
    pipes = make_pipe(&c.down.pr, &c.down.pw, opts_.pipe_bytes);
    if (pipes) c.down.cap = *pipes;
  }
  if (!pipes) {
    stats_.connect_failed++;
    abort(c);
  } else {
    c.upstream = std::move(*up);
    c.ts.tv_sec = opts_.connect_timeout_ms / 1000;
    c.ts.tv_nsec = (opts_.connect_timeout_ms % 1000) * 1000000LL;
    r_.connect(c.upstream.get(), reinterpret_cast<const sockaddr*>(&c.target), sizeof c.target, c.connect_c);
    r_.timeout(&c.ts, c.timer_c);
  }
  if (conns_.size() >= opts_.max_connections) stats_.paused++;
  arm_accept();
}

void PortProxy::connect_done(Conn& c, int32_t res) {
  r_.cancel(c.timer_c);
  if (res < 0 || c.aborting) {
    if (!c.aborting) stats_.connect_failed++;
    return abort(c);
  }
  c.connected = true;
  no_delay(c.upstream.get());
  c.up.from = c.client.get();
  c.up.to = c.upstream.get();
  c.up.counter = &stats_.bytes_in;
  c.down.from = c.upstream.get();
  c.down.to = c.client.get();
  c.down.counter = &stats_.bytes_out;
  for (Dir* d : {&c.up, &c.down}) {
    d->in_c.set_callback([this, cp = &c, d](int32_t r, uint32_t) { in_done(*cp, *d, r); });
    d->out_c.set_callback([this, cp = &c, d](int32_t r, uint32_t) { out_done(*cp, *d, r); });
    drive(c, *d);
  }
}

// One direction is a pipeline: a splice in (socket -> pipe) and a splice
// out (pipe -> socket) may be in flight at once, on two io-wq workers, so
// reading the next chunk overlaps writing the last. A splice in is issued
// while the pipe has room, a splice out while it holds bytes; EOF is passed
// on once the pipe is empty.
void PortProxy::drive(Conn& c, Dir& d) {
  if (c.aborting) return maybe_finish(c);
  if (!d.eof && !d.pipe_full && !d.in_c.in_flight() && !d.poll_in_c.in_flight() && d.in_pipe < d.cap)
    r_.splice(d.from, d.pw.get(), unsigned(d.cap - d.in_pipe), SPLICE_F_NONBLOCK | SPLICE_F_MOVE, d.in_c);
  if (d.in_pipe > 0 && !d.out_c.in_flight() && !d.poll_out_c.in_flight())
    r_.splice(d.pr.get(), d.to, unsigned(d.in_pipe), SPLICE_F_NONBLOCK | SPLICE_F_MOVE, d.out_c);
  if (d.eof && d.in_pipe == 0 && !d.done && !d.out_c.in_flight()) {
    ::shutdown(d.to, SHUT_WR);
    d.done = true;
    maybe_finish(c);
  }
}

void PortProxy::in_done(Conn& c, Dir& d, int32_t res) {
  if (c.aborting) return maybe_finish(c);
  if (res > 0) {
    d.in_pipe += size_t(res);
    *d.counter += uint64_t(res);
  } else if (res == 0) {
    d.eof = true;
  } else if (res == -EAGAIN) {
    // Nothing to read, or no room in the pipe (its slots can fill before
    // its bytes: a slot per skb fragment). The latter waits for an out.
    if (d.in_pipe > 0) {
      d.pipe_full = true;
    } else {
      d.poll_in_c.set_callback([this, cp = &c, dp = &d](int32_t, uint32_t) { drive(*cp, *dp); });
      r_.poll(d.from, POLLIN | POLLRDHUP, d.poll_in_c);
    }
  } else {
    return abort(c);
  }
  drive(c, d);
}

void PortProxy::out_done(Conn& c, Dir& d, int32_t res) {
  if (c.aborting) return maybe_finish(c);
  if (res > 0) {
    d.in_pipe -= size_t(res);
    d.pipe_full = false;
  } else if (res == -EAGAIN) {
    d.poll_out_c.set_callback([this, cp = &c, dp = &d](int32_t mask, uint32_t) { out_ready(*cp, *dp, mask); });
    r_.poll(d.to, POLLOUT, d.poll_out_c);
  } else {
    return abort(c);  // the other side is gone (EPIPE, ECONNRESET)
  }
  drive(c, d);
}

// io_uring always reports EPOLLRDHUP (IO_POLL_UNMASK), so once the peer
// has half-closed, a poll for POLLOUT completes at once whether or not there
// is room: waiting that way would spin. The reading side of that socket is
// at EOF then, so the socket turns blocking and the next splice out waits
// for room in an io-wq worker (woken by abort()'s shutdown if need be).
void PortProxy::out_ready(Conn& c, Dir& d, int32_t mask) {
  if (mask > 0 && !(mask & POLLOUT) && (mask & POLLRDHUP) && !d.blocking_out) {
    int flags = ::fcntl(d.to, F_GETFL);
    if (flags >= 0) ::fcntl(d.to, F_SETFL, flags & ~O_NONBLOCK);
    d.blocking_out = true;
  }
  drive(c, d);
}

void PortProxy::abort(Conn& c) {
  if (c.aborting) return maybe_finish(c);
  c.aborting = true;
  if (c.connected) stats_.aborted++;
  // Wakes whatever waits on the sockets; the cancels cover the rest.
  if (c.client) ::shutdown(c.client.get(), SHUT_RDWR);
  if (c.upstream) ::shutdown(c.upstream.get(), SHUT_RDWR);
  for (reactor::Completion* x : {&c.connect_c, &c.timer_c})
    r_.cancel(*x);
  for (Dir* d : {&c.up, &c.down})
    for (reactor::Completion* x : {&d->in_c, &d->out_c, &d->poll_in_c, &d->poll_out_c})
      r_.cancel(*x);
  maybe_finish(c);
}

void PortProxy::maybe_finish(Conn& c) {
  if (c.finishing || c.busy()) return;
  if (!c.aborting && !(c.up.done && c.down.done)) return;
  if (!c.aborting) stats_.closed++;
  c.finishing = true;
  // Erased after this callback returns, never inside it.
  r_.defer([this, it = c.self] {
    conns_.erase(it);
    arm_accept();
    maybe_stopped();
  });
}

void PortProxy::stop(std::function<void()> done) {
  on_stopped_ = std::move(done);
  stopping_ = true;
  r_.cancel(accept_c_);
  r_.cancel(retry_c_);
  for (auto& c : conns_) abort(*c);
  maybe_stopped();
}

void PortProxy::maybe_stopped() {
  if (!stopping_ || stopped_ || accept_c_.in_flight() || retry_c_.in_flight() || !conns_.empty()) return;
  stopped_ = true;
  listen_fd_.reset();
  if (on_stopped_) r_.defer(std::move(on_stopped_));
}

std::string PortProxy::describe() const {
  std::string out;
  auto dir = [](const Dir& d) {
    return fmt::format("eof={} done={} in_pipe={} full={} in={} out={} pin={} pout={}", d.eof, d.done, d.in_pipe,
                       d.pipe_full, d.in_c.in_flight(), d.out_c.in_flight(), d.poll_in_c.in_flight(),
                       d.poll_out_c.in_flight());
  };
  for (const auto& c : conns_)
    out += fmt::format("conn connected={} aborting={} finishing={} connect={} timer={} up[{}] down[{}]\n", c->connected,
                       c->aborting, c->finishing, c->connect_c.in_flight(), c->timer_c.in_flight(), dir(c->up),
                       dir(c->down));
  return out;
}

}  // namespace berth::netns
