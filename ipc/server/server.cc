#include "ipc/server/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "ipc/server/router.h"

namespace berth::ipc {

Result<std::unique_ptr<Server>> Server::listen(reactor::Reactor& r, engine::Engine& e,
                                               const std::string& path) {
  std::unique_ptr<Server> s(new Server(r, e));
  s->path_ = path;
  s->upload_dir_ = e.options().root + "/tmp";
  (void)remove_tree(s->upload_dir_);
  BERTH_TRY_VOID(make_dirs(s->upload_dir_, 0700));
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_TRY_VOID(make_dirs(path.substr(0, slash), 0711));

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error::invalid("socket path too long: {}", path);
  std::strcpy(addr.sun_path, path.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error::sys(errno, "socket");
  s->listen_fd_.reset(fd);
  ::unlink(path.c_str());  // a stale socket; the root lock already proved no other daemon uses it
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return Error::sys(errno, "bind {}", path);
  if (::chmod(path.c_str(), 0660) < 0) return Error::sys(errno, "chmod {}", path);
  if (::listen(fd, 1024) < 0) return Error::sys(errno, "listen {}", path);

  s->std_headers_ = {{"Api-Version", kApiVersion},
                     {"Docker-Experimental", "false"},
                     {"Ostype", "linux"},
                     {"Server", fmt::format("berth/{} (linux)", kBerthVersion)}};
  Server* sp = s.get();
  s->accept_c_.set_callback([sp](int32_t res, uint32_t flags) {
    sp->accept_done(res);
    if (!(flags & IORING_CQE_F_MORE) && !sp->closed_) sp->r_.accept_multishot(sp->listen_fd_.get(), sp->accept_c_);
  });
  r.accept_multishot(fd, s->accept_c_);
  return s;
}

Server::~Server() {
  BERTH_ASSERT_MSG(conns_.empty() && !accept_c_.in_flight(), "Server destroyed before close() finished");
  ::unlink(path_.c_str());
}

void Server::accept_done(int32_t res) {
  if (res < 0) {
    if (res != -ECANCELED) log::warn("api", "accept: {}", std::strerror(-res));
    if (closed_) check_closed();
    return;
  }
  if (closed_) {
    ::close(res);
    return;
  }
  uint64_t serial = next_serial_++;
  auto c = std::make_unique<Connection>(*this, unique_fd(res), serial);
  Connection* cp = c.get();
  conns_[cp] = std::move(c);
  by_serial_[serial] = cp;
  cp->start();
}

void Server::release(Connection* c) {
  r_.defer([this, c] {
    conns_.erase(c);
    check_closed();
  });
}

void Server::close(std::function<void()> done) {
  closed_ = std::move(done);
  r_.cancel(accept_c_);
  std::vector<Connection*> all;
  for (auto& [p, c] : conns_) all.push_back(p);
  for (Connection* c : all) c->close();
  check_closed();
}

void Server::check_closed() {
  if (!closed_ || !conns_.empty() || accept_c_.in_flight()) return;
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
