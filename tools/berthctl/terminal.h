// The client's terminal for run -t, exec -t and attach: the window size the
// daemon's pty should take, raw mode for the length of an interactive attach,
// and SIGWINCH as a pollable fd. No daemon access here (that is util.cc's
// stream_hijacked), so all of it is unit-tested against a pty.
//
// Thread: the main thread. Terminal modes, signal dispositions and the signal
// mask are process-wide; berthctl's only other threads (`stats`) never run
// alongside an attach.
// Ownership: RawTerminal puts back the modes (and signal handlers) it
// changed when destroyed; WinchWatch puts back the signal mask.
#pragma once

#include <termios.h>

#include <string>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::ctl {

// A pty's size as Docker sends it: HostConfig.ConsoleSize [rows, cols] and
// /resize?h=rows&w=cols. {0, 0} means unknown (not a terminal).
struct ConsoleSize {
  unsigned rows = 0, cols = 0;
  bool known() const { return rows != 0 && cols != 0; }
  bool operator==(const ConsoleSize&) const = default;
};

bool is_terminal(int fd);
// TIOCGWINSZ of `fd`; {0, 0} when it is not a terminal.
ConsoleSize console_size_of(int fd);
// The size to give the container: stdout's, as the docker CLI reads it, else
// stdin's (so `run -it … | tee log` still gets the window's size).
ConsoleSize console_size();
// "?h=<rows>&w=<cols>" for POST /containers/{id}/resize and /exec/{id}/resize.
std::string resize_query(ConsoleSize size);

// The docker CLI's CheckTty: a tty attach that also sends stdin needs a
// terminal on stdin ("the input device is not a TTY"); -t alone, or -i
// alone, take pipes.
Result<void> check_tty(bool attach_stdin, bool tty, bool stdin_is_terminal);

// Raw mode (cfmakeraw: no echo, no line editing, no signals from ^C/^Z, no
// output post-processing) on one terminal fd, restored when destroyed.
// While raw, SIGHUP/SIGINT/SIGQUIT/SIGTERM (from kill or a closed terminal;
// the keyboard cannot send them now) restore the modes before they take
// their default action, so a killed berthctl does not leave the shell raw.
// At most one RawTerminal is live at a time (asserted).
class RawTerminal {
 public:
  // Fails with the tcgetattr/tcsetattr errno (ENOTTY for a pipe).
  static Result<RawTerminal> enter(int fd);

  RawTerminal(RawTerminal&& o) noexcept;
  RawTerminal& operator=(RawTerminal&&) = delete;
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal() { restore(); }

  // Puts the saved modes back now; idempotent.
  void restore();

 private:
  RawTerminal(int fd, const termios& saved) : fd_(fd), saved_(saved) {}

  int fd_ = -1;  // not owned: stdin stays open after us
  termios saved_{};
};

// SIGWINCH as a readable fd (signalfd(2)): SIGWINCH is blocked while a
// WinchWatch lives (its default action is to be ignored, so nothing is lost)
// and the previous mask is restored when it is destroyed.
class WinchWatch {
 public:
  static Result<WinchWatch> open();

  WinchWatch(WinchWatch&& o) noexcept;
  WinchWatch& operator=(WinchWatch&&) = delete;
  WinchWatch(const WinchWatch&) = delete;
  WinchWatch& operator=(const WinchWatch&) = delete;
  ~WinchWatch();

  int fd() const { return fd_.get(); }
  // Reads every pending notification, so the fd stops polling readable.
  void drain();

 private:
  WinchWatch(unique_fd fd, bool was_blocked) : fd_(std::move(fd)), was_blocked_(was_blocked) {}

  unique_fd fd_;
  bool was_blocked_ = false;  // SIGWINCH was already blocked: leave it so
};

}  // namespace berth::ctl
