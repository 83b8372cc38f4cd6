// berthctl's hijacked-stream loop, driven through a socketpair (the daemon's
// end is `peer`) and pipes (our stdin, the SIGWINCH fd).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/base/unique_fd.h"
#include "tools/berthctl/pump.h"

namespace berth::ctl {
namespace {

struct Fds {
  unique_fd sock, peer;      // ours, the daemon's
  unique_fd in_r, in_w;      // our stdin
};

Fds make_fds() {
  Fds f;
  int sv[2], p[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
  f.sock.reset(sv[0]);
  f.peer.reset(sv[1]);
  f.in_r.reset(p[0]);
  f.in_w.reset(p[1]);
  return f;
}

void put(int fd, std::string_view s) { ASSERT_EQ(::write(fd, s.data(), s.size()), ssize_t(s.size())); }

// What the peer can read now without blocking; `eof` says whether the
// other side has shut its write half.
std::string read_now(int fd, bool* eof) {
  std::string got;
  char buf[256];
  *eof = false;
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      got.append(buf, size_t(n));
      continue;
    }
    *eof = n == 0;
    return got;
  }
}

struct Collect {
  std::string data;
  std::function<Result<void>(std::string_view)> sink() {
    return [this](std::string_view d) -> Result<void> {
      data.append(d);
      return ok();
    };
  }
};

TEST(PumpStream, OutputGoesToTheSinkUntilTheDaemonCloses) {
  Fds f = make_fds();
  put(f.peer.get(), "hello ");
  put(f.peer.get(), "world");
  f.peer.reset();
  Collect out;
  Result<PumpEnd> end = pump_stream(f.sock.get(), out.sink(), {});
  ASSERT_TRUE(end.has_value()) << end.error().message();
  EXPECT_EQ(*end, PumpEnd::kOutputEnded);
  EXPECT_EQ(out.data, "hello world");
}

TEST(PumpStream, ASinkErrorEndsTheLoopWithIt) {
  Fds f = make_fds();
  put(f.peer.get(), "x");
  auto sink = [](std::string_view) -> Result<void> { return Error::invalid("bad frame"); };
  Result<PumpEnd> end = pump_stream(f.sock.get(), sink, {});
  ASSERT_FALSE(end.has_value());
  EXPECT_EQ(end.error().message(), "bad frame");
}

TEST(PumpStream, InputIsSentThenHalfClosedAndOutputStillCounts) {
  Fds f = make_fds();
  put(f.in_w.get(), "abc");
  f.in_w.reset();
  // The daemon's side: read stdin to its EOF (only a half-close ends it),
  // then answer and hang up, as a container does after `cat` ends.
  std::string daemon_got;
  bool daemon_saw_eof = false;
  std::thread daemon([&] {
    char buf[64];
    for (;;) {
      pollfd p{f.peer.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) break;  // no half-close: give up rather than hang
      ssize_t n = ::read(f.peer.get(), buf, sizeof buf);
      if (n <= 0) {
        daemon_saw_eof = n == 0;
        break;
      }
      daemon_got.append(buf, size_t(n));
    }
    put(f.peer.get(), "bye");
    f.peer.reset();
  });
  Collect out;
  Result<PumpEnd> end = pump_stream(f.sock.get(), out.sink(), {.fd = f.in_r.get()});
  daemon.join();
  ASSERT_TRUE(end.has_value()) << end.error().message();
  EXPECT_EQ(*end, PumpEnd::kOutputEnded);
  EXPECT_EQ(daemon_got, "abc");
  EXPECT_TRUE(daemon_saw_eof);
  EXPECT_EQ(out.data, "bye");
}

TEST(PumpStream, DetachSendsWhatCameBeforeTheKeysAndLeavesTheStreamOpen) {
  Fds f = make_fds();
  put(f.in_w.get(), "ls\r!more");
  // A stand-in for DetachMatcher: '!' is the whole sequence.
  auto filter = [](std::string_view in, std::string* sent) {
    size_t bang = in.find('!');
    sent->append(in.substr(0, bang));
    return bang != std::string_view::npos;
  };
  Collect out;
  Result<PumpEnd> end = pump_stream(f.sock.get(), out.sink(), {.fd = f.in_r.get(), .filter = filter});
  ASSERT_TRUE(end.has_value()) << end.error().message();
  EXPECT_EQ(*end, PumpEnd::kDetached);
  bool eof = true;
  EXPECT_EQ(read_now(f.peer.get(), &eof), "ls\r");
  EXPECT_FALSE(eof) << "a detach must not half-close: that would end a StdinOnce container's stdin";
}

TEST(PumpStream, TheWakeFdRunsItsCallback) {
  Fds f = make_fds();
  int w[2];
  ASSERT_EQ(::pipe2(w, O_CLOEXEC), 0);
  unique_fd wake_r(w[0]), wake_w(w[1]);
  put(wake_w.get(), "w");
  f.peer.reset();  // the loop ends after this one round
  int woken = 0;
  PumpInput in{.wake_fd = wake_r.get(), .on_wake = [&] {
                 char c;
                 EXPECT_EQ(::read(wake_r.get(), &c, 1), 1);
                 woken++;
               }};
  Collect out;
  Result<PumpEnd> end = pump_stream(f.sock.get(), out.sink(), in);
  ASSERT_TRUE(end.has_value()) << end.error().message();
  EXPECT_EQ(*end, PumpEnd::kOutputEnded);
  EXPECT_EQ(woken, 1);
}

TEST(PumpStream, ADaemonThatStopsReadingInputStillDeliversOutput) {
  Fds f = make_fds();
  ASSERT_EQ(::shutdown(f.peer.get(), SHUT_RD), 0);  // our sends now fail (EPIPE, without SIGPIPE)
  put(f.in_w.get(), "ignored");
  put(f.peer.get(), "output");
  ASSERT_EQ(::shutdown(f.peer.get(), SHUT_WR), 0);
  Collect out;
  Result<PumpEnd> end = pump_stream(f.sock.get(), out.sink(), {.fd = f.in_r.get()});
  ASSERT_TRUE(end.has_value()) << end.error().message();
  EXPECT_EQ(*end, PumpEnd::kOutputEnded);
  EXPECT_EQ(out.data, "output");
}

}  // namespace
}  // namespace berth::ctl
