// Helpers for code that runs in the post-clone child (child.h): no
// allocation, no locks, async-signal-safe. Internal to core/runtime.
#pragma once

#include <unistd.h>

#include <cerrno>

namespace berth::runtime {

// Closes an fd at scope exit.
struct ChildFd {
  int fd = -1;
  explicit ChildFd(int f) : fd(f) {}
  ChildFd(const ChildFd&) = delete;
  ChildFd& operator=(const ChildFd&) = delete;
  ~ChildFd() {
    if (fd >= 0) ::close(fd);
  }
};

// errno, never 0 (a failed call that left errno unset reports EIO).
inline int child_errno() { return errno ? errno : EIO; }

}  // namespace berth::runtime
