// Terminal modes, window size and SIGWINCH for berthctl; see terminal.h.
#include "tools/berthctl/terminal.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "core/base/assert.h"

namespace berth::ctl {

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

ConsoleSize console_size_of(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return {};
  return {ws.ws_row, ws.ws_col};
}

ConsoleSize console_size() {
  ConsoleSize size = console_size_of(STDOUT_FILENO);
  return size.known() ? size : console_size_of(STDIN_FILENO);
}

std::string resize_query(ConsoleSize size) { return fmt::format("?h={}&w={}", size.rows, size.cols); }

Result<void> check_tty(bool attach_stdin, bool tty, bool stdin_is_terminal) {
  // The docker CLI's words and reason: a pipe cannot feed a tty attach.
  if (tty && attach_stdin && !stdin_is_terminal)
    return Error(Code::kInvalidArgument, "the input device is not a TTY");
  return ok();
}

// --- RawTerminal ---

namespace {

// What the fatal-signal handler needs; written only while no handler is
// installed (enter sets them before sigaction, restore clears them after).
int g_raw_fd = -1;
termios g_saved_modes{};

constexpr int kFatalSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};
struct sigaction g_old_actions[std::size(kFatalSignals)];
bool g_installed[std::size(kFatalSignals)] = {};

int set_modes(int fd, const termios& t) {
  int rc;
  do rc = ::tcsetattr(fd, TCSANOW, &t);
  while (rc != 0 && errno == EINTR);
  return rc;
}

// Async-signal-safe: tcsetattr, sigaction and raise only.
void restore_and_die(int sig) {
  if (g_raw_fd >= 0) ::tcsetattr(g_raw_fd, TCSANOW, &g_saved_modes);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);  // blocked until this handler returns, then the default action
}

void install_fatal_handlers() {
  struct sigaction sa{};
  sa.sa_handler = restore_and_die;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < std::size(kFatalSignals); i++) {
    struct sigaction old{};
    ::sigaction(kFatalSignals[i], nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // nohup's SIGHUP stays ignored
    g_installed[i] = ::sigaction(kFatalSignals[i], &sa, &g_old_actions[i]) == 0;
  }
}

void remove_fatal_handlers() {
  for (size_t i = 0; i < std::size(kFatalSignals); i++)
    if (std::exchange(g_installed[i], false)) ::sigaction(kFatalSignals[i], &g_old_actions[i], nullptr);
}

}  // namespace

Result<RawTerminal> RawTerminal::enter(int fd) {
  BERTH_ASSERT_MSG(g_raw_fd < 0, "one RawTerminal at a time");
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) return Error::sys(errno, "read the terminal modes of fd {}", fd);
  termios raw = saved;
  ::cfmakeraw(&raw);
  g_saved_modes = saved;
  g_raw_fd = fd;
  install_fatal_handlers();
  if (set_modes(fd, raw) != 0) {
    int e = errno;
    remove_fatal_handlers();
    g_raw_fd = -1;
    return Error::sys(e, "set the terminal on fd {} to raw mode", fd);
  }
  return RawTerminal(fd, saved);
}

RawTerminal::RawTerminal(RawTerminal&& o) noexcept : fd_(std::exchange(o.fd_, -1)), saved_(o.saved_) {}

void RawTerminal::restore() {
  if (fd_ < 0) return;
  remove_fatal_handlers();
  // Nothing to do on failure: the terminal is gone (EIO after a hangup) or
  // was taken from us; either way there is no better mode to leave behind.
  (void)set_modes(fd_, saved_);
  g_raw_fd = -1;
  fd_ = -1;
}

// --- WinchWatch ---

Result<WinchWatch> WinchWatch::open() {
  sigset_t winch, old;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  // signalfd only sees a signal that is blocked; otherwise it is delivered
  // (and ignored) as usual.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &winch, &old); rc != 0) return Error::sys(rc, "block SIGWINCH");
  bool was_blocked = sigismember(&old, SIGWINCH) == 1;
  int fd = ::signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (!was_blocked) ::pthread_sigmask(SIG_UNBLOCK, &winch, nullptr);
    return Error::sys(e, "signalfd SIGWINCH");
  }
  return WinchWatch(unique_fd(fd), was_blocked);
}

WinchWatch::WinchWatch(WinchWatch&& o) noexcept
    : fd_(std::move(o.fd_)), was_blocked_(std::exchange(o.was_blocked_, true)) {}

WinchWatch::~WinchWatch() {
  if (!fd_ || was_blocked_) return;
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  fd_.reset();
  // A SIGWINCH still pending is delivered now and ignored: no one is
  // attached to resize any more.
  ::pthread_sigmask(SIG_UNBLOCK, &winch, nullptr);
}

void WinchWatch::drain() {
  signalfd_siginfo info;
  while (::read(fd_.get(), &info, sizeof info) == ssize_t(sizeof info)) {
  }
}

}  // namespace berth::ctl
