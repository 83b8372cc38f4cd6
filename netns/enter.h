// Doing something inside another network namespace from the calling thread.
//
// Network namespaces belong to a task (a thread), not to the process, and a
// socket keeps the namespace it was created in for its whole life. So to get
// a netlink socket, a UDP socket or a /proc/sys/net file of namespace N, a
// thread setns(2)s into N, creates the socket or opens the file, and
// setns(2)s back; everything made in between stays bound to N.
//
// Threads: any thread that runs nothing else while inside (a job-pool worker,
// or the reactor thread for a quick socket()): setns takes microseconds, and
// nothing here blocks otherwise. If the thread cannot go back to its own
// namespace, it would run every later job in the wrong network: a broken
// invariant, so BERTH_ASSERT (as core/runtime's create_netns does).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::netns {

// Moves the calling thread into `netns_fd` and back when destroyed.
// netns_fd < 0 means "stay here" (a no-op guard).
class NetnsGuard {
 public:
  static Result<NetnsGuard> enter(int netns_fd);
  NetnsGuard(NetnsGuard&& o) noexcept : back_(std::move(o.back_)) {}
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  ~NetnsGuard();

 private:
  NetnsGuard() = default;
  unique_fd back_;
};

// Runs `fn` (returning a Result) inside `netns_fd` (< 0: here).
template <class F>
auto in_netns(int netns_fd, F&& fn) -> decltype(fn()) {
  auto guard = NetnsGuard::enter(netns_fd);
  if (!guard) return std::move(guard.error());
  return fn();
}

// socket(2) created inside `netns_fd` (< 0: the calling thread's), CLOEXEC.
Result<unique_fd> socket_in_netns(int netns_fd, int domain, int type, int protocol);

// Writes a sysctl of namespace `netns_fd` (< 0: the calling thread's), e.g.
// write_sysctl(fd, "net/ipv4/ip_forward", "1"). /proc/sys/net files are
// resolved against the opening thread's network namespace.
Result<void> write_sysctl(int netns_fd, std::string_view key, std::string_view value);
Result<std::string> read_sysctl(int netns_fd, std::string_view key);

}  // namespace berth::netns
