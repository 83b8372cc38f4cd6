// berthctl's terminal handling against a fresh pty pair (posix_openpt: no
// root, nothing outside the test process), plus the pure helpers.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <optional>

#include <gtest/gtest.h>

#include "core/base/unique_fd.h"
#include "tools/berthctl/terminal.h"

namespace berth::ctl {
namespace {

struct Pty {
  unique_fd master, slave;
};

std::optional<Pty> open_pty() {
  int m = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) return std::nullopt;
  Pty p;
  p.master.reset(m);
  if (::grantpt(m) != 0 || ::unlockpt(m) != 0) return std::nullopt;
  const char* name = ::ptsname(m);
  if (!name) return std::nullopt;
  int s = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) return std::nullopt;
  p.slave.reset(s);
  return p;
}

#define NEED_PTY(p)                                        \
  std::optional<Pty> p = open_pty();                       \
  if (!p) GTEST_SKIP() << "needs /dev/ptmx (posix_openpt)"

termios modes(int fd) {
  termios t{};
  EXPECT_EQ(::tcgetattr(fd, &t), 0);
  return t;
}

bool same_modes(const termios& a, const termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
         a.c_lflag == b.c_lflag && a.c_cc[VMIN] == b.c_cc[VMIN] && a.c_cc[VTIME] == b.c_cc[VTIME];
}

bool is_raw(const termios& t) {
  return !(t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) && !(t.c_iflag & (ICRNL | IXON)) &&
         !(t.c_oflag & OPOST) && (t.c_cflag & CSIZE) == CS8 && t.c_cc[VMIN] == 1;
}

TEST(CheckTty, OnlyATtyAttachWithStdinNeedsATerminal) {
  Result<void> refused = check_tty(/*attach_stdin=*/true, /*tty=*/true, /*stdin_is_terminal=*/false);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message(), "the input device is not a TTY");
  EXPECT_TRUE(check_tty(true, true, true).has_value());    // -it at a terminal
  EXPECT_TRUE(check_tty(false, true, false).has_value());  // -t alone, stdin a pipe
  EXPECT_TRUE(check_tty(true, false, false).has_value());  // -i alone: piped input
}

TEST(ResizeQuery, RowsAreHAndColumnsAreW) {
  EXPECT_EQ(resize_query({24, 80}), "?h=24&w=80");
  EXPECT_EQ(resize_query({.rows = 50, .cols = 211}), "?h=50&w=211");
}

TEST(ConsoleSize, ReadFromATerminalAndUnknownForAPipe) {
  NEED_PTY(pty);
  winsize ws{};
  ws.ws_row = 33;
  ws.ws_col = 101;
  ASSERT_EQ(::ioctl(pty->master.get(), TIOCSWINSZ, &ws), 0);
  EXPECT_TRUE(is_terminal(pty->slave.get()));
  EXPECT_EQ(console_size_of(pty->slave.get()), (ConsoleSize{33, 101}));
  EXPECT_TRUE(console_size_of(pty->slave.get()).known());

  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  unique_fd r(p[0]), w(p[1]);
  EXPECT_FALSE(is_terminal(r.get()));
  EXPECT_EQ(console_size_of(r.get()), ConsoleSize{});
  EXPECT_FALSE(console_size_of(r.get()).known());
}

TEST(RawTerminal, RawWhileAliveAndRestoredExactly) {
  NEED_PTY(pty);
  termios before = modes(pty->slave.get());
  ASSERT_FALSE(is_raw(before)) << "a new pty starts cooked";
  {
    Result<RawTerminal> raw = RawTerminal::enter(pty->slave.get());
    ASSERT_TRUE(raw.has_value()) << raw.error().message();
    EXPECT_TRUE(is_raw(modes(pty->slave.get())));
  }
  EXPECT_TRUE(same_modes(modes(pty->slave.get()), before));
}

TEST(RawTerminal, AMovedFromGuardRestoresNothing) {
  NEED_PTY(pty);
  termios before = modes(pty->slave.get());
  std::optional<RawTerminal> moved;
  {
    Result<RawTerminal> raw = RawTerminal::enter(pty->slave.get());
    ASSERT_TRUE(raw.has_value()) << raw.error().message();
    moved.emplace(std::move(*raw));
  }  // the moved-from guard dies here
  EXPECT_TRUE(is_raw(modes(pty->slave.get())));
  moved->restore();
  EXPECT_TRUE(same_modes(modes(pty->slave.get()), before));
  moved->restore();  // idempotent
  moved.reset();
  EXPECT_TRUE(same_modes(modes(pty->slave.get()), before));
}

TEST(RawTerminal, APipeIsRefusedAndLeavesNoState) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  unique_fd r(p[0]), w(p[1]);
  Result<RawTerminal> raw = RawTerminal::enter(r.get());
  ASSERT_FALSE(raw.has_value());
  EXPECT_EQ(raw.error().sys_errno(), ENOTTY);
  NEED_PTY(pty);  // a failed enter must not count as the one live guard
  EXPECT_TRUE(RawTerminal::enter(pty->slave.get()).has_value());
}

TEST(RawTerminal, SignalHandlersAreOnlyOursWhileRaw) {
  NEED_PTY(pty);
  struct sigaction sa{};
  {
    Result<RawTerminal> raw = RawTerminal::enter(pty->slave.get());
    ASSERT_TRUE(raw.has_value()) << raw.error().message();
    ASSERT_EQ(::sigaction(SIGTERM, nullptr, &sa), 0);
    EXPECT_NE(sa.sa_handler, SIG_DFL);
  }
  ASSERT_EQ(::sigaction(SIGTERM, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
}

TEST(RawTerminal, AKilledClientLeavesTheTerminalCooked) {
  NEED_PTY(pty);
  termios before = modes(pty->slave.get());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the client: go raw, then be killed
    Result<RawTerminal> raw = RawTerminal::enter(pty->slave.get());
    if (!raw) ::_exit(2);
    ::kill(::getpid(), SIGTERM);
    ::_exit(3);  // not reached: SIGTERM's default action ends the process
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_TRUE(same_modes(modes(pty->slave.get()), before));
}

TEST(WinchWatch, ASigwinchMakesTheFdReadableUntilDrained) {
  sigset_t mask;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &mask), 0);
  ASSERT_FALSE(sigismember(&mask, SIGWINCH));
  {
    Result<WinchWatch> watch = WinchWatch::open();
    ASSERT_TRUE(watch.has_value()) << watch.error().message();
    pollfd p{watch->fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 0), 0);
    ASSERT_EQ(::raise(SIGWINCH), 0);
    EXPECT_EQ(::poll(&p, 1, 1000), 1);
    watch->drain();
    EXPECT_EQ(::poll(&p, 1, 0), 0);
  }
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &mask), 0);
  EXPECT_FALSE(sigismember(&mask, SIGWINCH)) << "the mask must be put back";
}

}  // namespace
}  // namespace berth::ctl
