#include "netns/enter.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include "core/base/assert.h"
#include "core/base/file.h"

namespace berth::netns {

Result<NetnsGuard> NetnsGuard::enter(int netns_fd) {
  NetnsGuard g;
  if (netns_fd < 0) return g;
  // /proc/thread-self: this thread's namespace, which differs from the main
  // thread's while some other thread is inside another one.
  g.back_ = BERTH_TRY_CTX(open_fd("/proc/thread-self/ns/net", O_RDONLY), "enter network namespace");
  if (::setns(netns_fd, CLONE_NEWNET) < 0) {
    int e = errno;
    g.back_.reset();
    return Error::sys(e, "enter network namespace: setns");
  }
  return g;
}

NetnsGuard::~NetnsGuard() {
  if (!back_) return;
  int rc = ::setns(back_.get(), CLONE_NEWNET);
  BERTH_ASSERT_MSG(rc == 0, "cannot move the thread back to its network namespace");
}

Result<unique_fd> socket_in_netns(int netns_fd, int domain, int type, int protocol) {
  return in_netns(netns_fd, [&]() -> Result<unique_fd> {
    int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) return Error::sys(errno, "socket");
    return unique_fd(fd);
  });
}

Result<void> write_sysctl(int netns_fd, std::string_view key, std::string_view value) {
  std::string path = "/proc/sys/" + std::string(key);
  return in_netns(netns_fd, [&]() -> Result<void> {
    unique_fd fd = BERTH_TRY_CTX(open_fd(path, O_WRONLY), "set {}", key);
    auto w = write_all(fd.get(), value);
    if (!w) return std::move(w.error()).context("set {} to {}", key, value);
    return ok();
  });
}

Result<std::string> read_sysctl(int netns_fd, std::string_view key) {
  std::string path = "/proc/sys/" + std::string(key);
  return in_netns(netns_fd, [&]() -> Result<std::string> {
    std::string v = BERTH_TRY_CTX(read_file(path, 4096), "read {}", key);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
  });
}

}  // namespace berth::netns
