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

// The one SCM_RIGHTS message of the project: a msghdr over the caller's
// buffer with room for up to kMaxFds fds. Used for the pty hand-off (child
// to berthd), a warm init's release (berthd to child: its stdio) and the
// spawner's requests and answers. Async-signal-safe (no allocation); stack
// only; not movable (msg points into it).
struct FdMessage {
  static constexpr int kMaxFds = 10;  // a spawn request: 9 at most (spawner.cc)
  iovec iov;
  msghdr msg{};
  union {  // last: cmsghdr ends in a flexible array
    char buf[CMSG_SPACE(kMaxFds * sizeof(int))];
    cmsghdr align;
  } control{};

  FdMessage(void* data, size_t len) : iov{data, len} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;  // room to receive kMaxFds
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  // Before sendmsg: attaches fds[0..n) (n <= kMaxFds; none: no control data).
  void put_fds(const int* fds, int n) {
    if (n <= 0) {
      msg.msg_control = nullptr;
      msg.msg_controllen = 0;
      return;
    }
    msg.msg_controllen = CMSG_SPACE(size_t(n) * sizeof(int));
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(size_t(n) * sizeof(int));
    __builtin_memcpy(CMSG_DATA(cm), fds, size_t(n) * sizeof(int));
  }
  // After recvmsg: the received fds, up to `max` of them, into out[];
  // returns how many. (With MSG_CTRUNC in msg.msg_flags, some were lost.)
  int take_fds(int* out, int max) {
    int n = 0;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k && n < max; i++) __builtin_memcpy(&out[n++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
    }
    return n;
  }
};

}  // namespace berth::runtime
