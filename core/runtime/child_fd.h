// Helpers for code that runs in the post-clone child (child.h): no
// allocation, no locks, async-signal-safe. Internal to core/runtime.
#pragma once

#include <sys/socket.h>
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

// A one-byte message with room for one fd (SCM_RIGHTS): the pty master's
// hand-off from the child (sendmsg) to berthd (recvmsg). Stack only; not
// movable (msg points into it).
struct FdMessage {
  char byte = 't';
  iovec iov{&byte, 1};
  msghdr msg{};
  union {  // last: cmsghdr ends in a flexible array
    char buf[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
  } control{};
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace berth::runtime
