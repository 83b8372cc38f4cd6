// The hijacked-stream loop; see pump.h.
#include "tools/berthctl/pump.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace berth::ctl {

namespace {

// send, not write: a daemon that closed the stream must not SIGPIPE us.
bool send_all(int sock, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = ::send(sock, data.data(), data.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(size_t(w));
  }
  return true;
}

}  // namespace

Result<PumpEnd> pump_stream(int sock, const std::function<Result<void>(std::string_view)>& sink,
                            const PumpInput& input) {
  std::string buf(64 * 1024, '\0');
  std::string sent;
  int input_fd = input.fd;
  for (;;) {
    pollfd fds[3] = {{sock, POLLIN, 0}, {-1, POLLIN, 0}, {-1, POLLIN, 0}};
    nfds_t n_fds = 1;
    int input_slot = -1, wake_slot = -1;
    if (input_fd >= 0) fds[input_slot = int(n_fds++)].fd = input_fd;
    if (input.wake_fd >= 0 && input.on_wake) fds[wake_slot = int(n_fds++)].fd = input.wake_fd;
    if (::poll(fds, n_fds, -1) < 0) {
      if (errno == EINTR) continue;
      return Error::sys(errno, "poll attached stream");
    }
    constexpr short kReady = POLLIN | POLLHUP | POLLERR;
    if (wake_slot >= 0 && (fds[wake_slot].revents & kReady)) input.on_wake();
    // Input before output: when both are ready, keys typed before the daemon
    // hung up still count (a detach is not mistaken for the process ending).
    if (input_slot >= 0 && (fds[input_slot].revents & kReady)) {
      ssize_t n = ::read(input_fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // our input ended: tell the daemon (StdinOnce closes the process's stdin)
        ::shutdown(sock, SHUT_WR);
        input_fd = -1;
      } else {
        std::string_view in(buf.data(), size_t(n));
        sent.clear();
        bool detach = false;
        if (input.filter)
          detach = input.filter(in, &sent);
        else
          sent.assign(in);
        if (!send_all(sock, sent)) input_fd = -1;  // the daemon stopped reading; keep printing what comes
        if (detach) return PumpEnd::kDetached;
      }
    }
    if (!(fds[0].revents & kReady)) continue;
    ssize_t n = ::read(sock, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(errno, "read attached stream");
    if (n == 0) return PumpEnd::kOutputEnded;
    BERTH_TRY_VOID(sink(std::string_view(buf.data(), size_t(n))));
  }
}

}  // namespace berth::ctl
