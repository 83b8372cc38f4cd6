#include "ipc/server/server.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "ipc/server/router.h"

namespace berth::ipc {

namespace {

// The default connection cap: half the open-file limit (the rest is for
// containers: pidfds, pipes, log files), at least 64.
size_t default_max_connections() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return 4096;
  return std::max<size_t>(64, size_t(rl.rlim_cur) / 2);
}

// The API is root on this host: a TCP endpoint takes mutual TLS, or the
// explicit --insecure-tcp. TLS flags without a TCP endpoint, or half of
// them, are refused rather than ignored.
Result<void> check_tcp_policy(const ServerOptions& o) {
  bool tcp = std::any_of(o.hosts.begin(), o.hosts.end(), [](const std::string& h) { return h.starts_with("tcp://"); });
  const TlsFiles& f = o.tls;
  bool any_file = !f.ca_cert.empty() || !f.cert.empty() || !f.key.empty();
  if (any_file && !o.tls_verify)
    return Error::invalid("--tlscacert, --tlscert and --tlskey need --tlsverify (berthd serves TLS only with client "
                          "certificates)");
  if (o.tls_verify && (f.ca_cert.empty() || f.cert.empty() || f.key.empty()))
    return Error::invalid("--tlsverify needs --tlscacert, --tlscert and --tlskey");
  if (o.tls_verify && o.insecure_tcp) return Error::invalid("--tlsverify and --insecure-tcp exclude each other");
  if (!tcp && (o.tls_verify || o.insecure_tcp))
    return Error::invalid("{} applies to tcp:// endpoints only, and no -H tcp:// was given",
                          o.tls_verify ? "--tlsverify" : "--insecure-tcp");
  if (tcp && !o.tls_verify && !o.insecure_tcp)
    return Error::invalid("-H tcp://: refusing plain TCP (whoever reaches the port is root on this host); give "
                          "--tlsverify --tlscacert --tlscert --tlskey, or --insecure-tcp");
  return ok();
}

}  // namespace

Result<std::unique_ptr<Server>> Server::listen(reactor::Reactor& r, engine::Engine& e, const ServerOptions& o) {
  std::map<std::string, unique_fd> inherited;   // closed at return unless taken
  for (const auto& [host, fd] : o.inherited) inherited[host].reset(fd);
  std::unique_ptr<Server> s(new Server(r, e));
  s->upload_dir_ = e.options().root + "/tmp";
  (void)remove_tree(s->upload_dir_);
  BERTH_TRY_VOID(make_dirs(s->upload_dir_, 0700));
  s->max_connections_ = o.max_connections ? o.max_connections : default_max_connections();
  s->header_timeout_ns_ = int64_t(o.header_timeout_s) * 1000000000;
  if (o.hosts.empty()) return Error::invalid("no API endpoint to listen on");
  BERTH_TRY_VOID(check_tcp_policy(o));
  if (o.tls_verify) s->tls_ = BERTH_TRY(TlsContext::load(o.tls));
  for (const std::string& host : o.hosts) {
    auto it = inherited.find(host);
    if (it != inherited.end()) {
      auto l = Listener::adopt(r, host, std::move(it->second));
      if (l) {
        log::info("api", "{}: serving on the socket handed over by the replaced berthd", host);
        s->listeners_.push_back(std::move(*l));
        continue;
      }
      log::warn("api", "{}; opening it anew", l.error().message());
    }
    s->listeners_.push_back(BERTH_TRY(Listener::open(r, host, o.socket_group)));
    if (o.insecure_tcp && host.starts_with("tcp://"))
      log::warn("api", "{}: plain HTTP without TLS (--insecure-tcp): whoever reaches it is root on this host", host);
  }
  s->std_headers_ = {{"Api-Version", kApiVersion},
                     {"Docker-Experimental", "false"},
                     {"Ostype", "linux"},
                     {"Server", fmt::format("berth/{} (linux)", kBerthVersion)}};
  Server* sp = s.get();
  s->sweep_c_.set_callback([sp](int32_t, uint32_t) { sp->sweep(); });
  for (auto& l : s->listeners_) {
    Listener* lp = l.get();
    l->start([sp, lp](unique_fd fd) { sp->accepted(*lp, std::move(fd)); });
  }
  return s;
}

Server::~Server() {
  BERTH_ASSERT_MSG(conns_.empty() && !sweep_c_.in_flight() && !drain_c_.in_flight(),
                   "Server destroyed before close() finished");
  for (auto& l : listeners_) BERTH_ASSERT_MSG(!l->busy(), "Server destroyed before close() finished");
}

void Server::accepted(Listener& l, unique_fd fd) {
  // One the kernel accepted as the listeners closed: served when draining
  // (a live upgrade), else closed.
  if (closed_ && !draining_) return;
  if (conns_.size() >= max_connections_) return refuse(fd.get(), l.kind() == Listener::Kind::kTcp && tls_);
  uint64_t serial = next_serial_++;
  std::unique_ptr<TlsSession> tls;
  if (l.kind() == Listener::Kind::kTcp && tls_) {
    auto t = tls_->accept();
    if (!t) {
      log::warn("api", "{}", t.error().message());
      return;
    }
    tls = std::move(*t);
  }
  auto c = std::make_unique<Connection>(*this, std::move(fd), serial, header_timeout_ns_, std::move(tls));
  Connection* cp = c.get();
  conns_[cp] = std::move(c);
  by_serial_[serial] = cp;
  if (header_timeout_ns_ > 0 && !sweep_c_.in_flight() && !closed_) r_.timeout(&sweep_ts_, sweep_c_);
  cp->start();
  if (draining_) cp->drain();
}

// Over the connection cap: a 503 the client can read, sent without waiting
// (a new socket's buffer takes it whole, or the client gets nothing), and
// the socket closed by its unique_fd.
void Server::refuse(int fd, bool tls) {
  std::string body = fmt::format(
      "{{\"message\":\"berthd has too many connections ({} open, the limit); try again later\"}}\n", conns_.size());
  std::string out = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      body.size(), body);
  if (!tls) (void)::send(fd, out.data(), out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);   // TLS: just closed
  uint64_t skipped;
  if (refused_log_.allow(&skipped))
    log::warn("api", "refused a connection: {} open, the limit{}", conns_.size(),
              skipped ? fmt::format(" ({} more refused)", skipped) : "");
}

// Once a second while connections are open: those whose request head is
// overdue are let go.
void Server::sweep() {
  if (closed_) return check_closed();
  int64_t now = now_ns();
  std::vector<Connection*> late;
  for (auto& [p, c] : conns_)
    if (!c->closed() && c->head_overdue(now)) late.push_back(p);
  for (Connection* c : late) c->head_timed_out();
  if (!conns_.empty()) r_.timeout(&sweep_ts_, sweep_c_);
}

void Server::release(Connection* c) {
  r_.defer([this, c] {
    conns_.erase(c);
    check_closed();
  });
}

void Server::close(std::function<void()> done, bool drain) {
  closed_ = std::move(done);
  draining_ = drain;
  for (auto& l : listeners_) l->close([this] { check_closed(); });
  r_.cancel(sweep_c_);
  std::vector<Connection*> all;
  for (auto& [p, c] : conns_) all.push_back(p);
  for (Connection* c : all) drain ? c->drain() : c->close();
  if (drain && !conns_.empty()) {
    drain_c_.set_callback([this](int32_t res, uint32_t) {
      if (res != -ECANCELED) {
        log::warn("api", "{} connections still busy after {} s: closed", conns_.size(), kDrainSeconds);
        std::vector<Connection*> left;
        for (auto& [p, c] : conns_) left.push_back(p);
        for (Connection* c : left) c->close();
      }
      check_closed();
    });
    r_.timeout(&drain_ts_, drain_c_);
  }
  check_closed();
}

std::map<std::string, unique_fd> Server::release_listeners() {
  std::map<std::string, unique_fd> out;
  for (auto& l : listeners_)
    if (!l->busy()) out[l->name()] = l->release();
  return out;
}

void Server::check_closed() {
  if (!closed_ || !conns_.empty() || sweep_c_.in_flight()) return;
  if (drain_c_.in_flight()) return r_.cancel(drain_c_);   // its callback comes back here
  for (auto& l : listeners_)
    if (l->busy()) return;
  auto done = std::move(closed_);
  closed_ = [] {};
  done();
}

bool Server::is_upload(const Request& req) const {
  if (req.method == "POST" && req.path == "/images/load") return true;  // docker load: a tar body
  if (req.method == "POST" && req.path == "/images/create" && req.query_value("fromSrc").value_or("") == "-") return true;
  // docker cp into a container: PUT /containers/{id}/archive with a tar body.
  return req.method == "PUT" && req.path.starts_with("/containers/") && req.path.ends_with("/archive");
}

void Server::dispatch(Connection& c) {
  log::debug("api", "{} {}", c.request().method, c.request().target);
  route(*this, c);
}

}  // namespace berth::ipc
