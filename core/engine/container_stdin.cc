// A container's stdin (OpenStdin): a pipe whose write end berthd keeps, or,
// with a tty, the pty master. Attached clients' input goes through the
// process's StdinWriter (stdin_writer.h): in arrival order, with
// back-pressure. Input sent before the process exists (docker run -i
// attaches before start) waits on the Container.
#include <sys/ioctl.h>
#include <termios.h>

#include <utility>

#include "core/base/log.h"
#include "core/engine/process.h"

namespace berth::engine {

bool Engine::stdin_open(const Container& c) const {
  return c.proc && c.proc->stdin && c.proc->stdin->accepting();
}

void Engine::write_stdin(Container& c, std::string_view data, std::function<void()> done) {
  if (!c.proc && c.state.status == Status::kCreated && c.spec.open_stdin) {
    c.stdin_pending.push_back({std::string(data), std::move(done)});
    return;
  }
  if (!c.proc || !c.proc->stdin) return done();
  c.proc->stdin->write(data, std::move(done));
}

void Engine::close_stdin(Container& c) {
  // A terminal has no half-close, and its stdin is shared by every client
  // that attaches later (docker attach after a detach): like Docker, only a
  // pipe is ever closed.
  if (c.spec.tty) return;
  if (!c.proc && c.state.status == Status::kCreated) {
    c.stdin_close_pending = true;
    return;
  }
  if (c.proc && c.proc->stdin) c.proc->stdin->close();
}

std::unique_ptr<StdinWriter> Engine::make_stdin_writer(Container& c) {
  return std::make_unique<StdinWriter>(r_, [this, id = c.id] {
    // A failed write: the process may be waiting for its writer to be idle.
    r_.defer([this, id] {
      if (auto it = containers_.find(id); it != containers_.end()) maybe_finish_exit(*it->second);
    });
  });
}

// At start: what clients sent before it goes first.
void Engine::stdin_started(Container& c) {
  auto pending = std::move(c.stdin_pending);
  c.stdin_pending.clear();
  bool close = std::exchange(c.stdin_close_pending, false);
  for (auto& chunk : pending) write_stdin(c, chunk.data, std::move(chunk.done));
  if (close) close_stdin(c);
}

Result<void> set_window_size(int pty, unsigned short rows, unsigned short cols) {
  struct winsize ws {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  // The kernel sends SIGWINCH to the terminal's foreground process group.
  if (::ioctl(pty, TIOCSWINSZ, &ws) < 0) return Error::sys(errno, "resize the pseudo-terminal");
  return ok();
}

Result<void> Engine::resize(Container& c, unsigned short rows, unsigned short cols) {
  if (c.state.status != Status::kRunning && c.state.status != Status::kPaused)
    return Error::conflict("Container {} is not running", c.id);
  if (!c.spec.tty) return Error::conflict("Container {} has no tty to resize", c.id);
  if (!c.proc || c.proc->exited) return Error::conflict("Container {} is not running", c.id);
  if (!c.proc->pty) {  // the master is on its way: applied on arrival
    c.proc->pending_rows = rows;
    c.proc->pending_cols = cols;
    return ok();
  }
  return set_window_size(c.proc->pty.get(), rows, cols);
}

}  // namespace berth::engine
