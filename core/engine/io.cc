// ContainerIo (io.h): attach, stdin, resize and log followers.
#include "core/engine/io.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <utility>

#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/process.h"

namespace berth::engine {

uint64_t ContainerIo::attach(Container& c, Attacher a) {
  a.token = e_.token();
  c.attachers.push_back(std::move(a));
  return c.attachers.back().token;
}

void ContainerIo::detach(const std::string& id, uint64_t token) {
  e_.r_.defer([this, id, token] {
    if (Container* c = e_.by_id(id))
      std::erase_if(c->attachers, [token](const Attacher& a) { return a.token == token; });
  });
}

uint64_t ContainerIo::watch_log(Container& c, std::function<void(bool ended)> fire) {
  if (!c.proc || !is_running(c.state.status)) return 0;
  uint64_t token = e_.token();
  c.log_watchers.push_back({token, std::move(fire)});
  return token;
}

void ContainerIo::unwatch_log(const std::string& id, uint64_t token) {
  e_.r_.defer([this, id, token] {
    if (Container* c = e_.by_id(id))
      std::erase_if(c->log_watchers, [token](const LogWatcher& w) { return w.token == token; });
  });
}

void ContainerIo::notify_log(Container& c, bool ended) {
  if (c.log_watchers.empty()) return;
  if (!ended) {
    // By index: a callback may register a new watcher (never remove one).
    for (size_t i = 0; i < c.log_watchers.size(); i++) {
      auto fire = c.log_watchers[i].fire;
      fire(false);
    }
    return;
  }
  auto watchers = std::move(c.log_watchers);
  c.log_watchers.clear();
  for (auto& w : watchers) w.fire(true);
}

// What the container's output pump tells the engine: output for attached
// clients, log progress for followers, drops, and the end of the output.
OutputPump::Callbacks ContainerIo::pump_callbacks(Container& c) {
  Container* cp = &c;
  OutputPump::Callbacks cb;
  cb.output = [cp](uint8_t stream, std::string_view data) {
    for (auto& a : cp->attachers)
      if ((stream == 1 && a.want_stdout) || (stream == 2 && a.want_stderr)) a.output(stream, data);
  };
  cb.fan_out = [cp] { return !cp->attachers.empty(); };
  cb.committed = [this, cp](uint64_t n) {
    e_.counters_.log_bytes += n >= cp->log_committed ? n - cp->log_committed : n;
    cp->log_committed = n;
    notify_log(*cp, false);
  };
  cb.rotated = [this, cp] {
    cp->log_generation++;
    cp->log_committed = 0;
    notify_log(*cp, false);
  };
  cb.dropped = [this, cp](uint64_t bytes) {
    cp->log_dropped_bytes += bytes;
    cp->log_dropped_records++;
    e_.counters_.log_dropped_bytes += bytes;
    e_.counters_.log_dropped_records++;
  };
  cb.drained = [this, cp] {
    e_.r_.defer([this, id = cp->id] {
      if (Container* c = e_.by_id(id)) e_.maybe_finish_exit(*c);
    });
  };
  return cb;
}

bool ContainerIo::stdin_open(const Container& c) const {
  return c.proc && c.proc->stdin && c.proc->stdin->accepting();
}

void ContainerIo::write_stdin(Container& c, std::string_view data, std::function<void()> done) {
  if (!c.proc && c.state.status == Status::kCreated && c.spec.open_stdin) {
    c.stdin_pending.push_back({std::string(data), std::move(done)});
    return;
  }
  if (!c.proc || !c.proc->stdin) return done();
  c.proc->stdin->write(data, std::move(done));
}

void ContainerIo::close_stdin(Container& c) {
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

std::unique_ptr<StdinWriter> ContainerIo::make_stdin_writer(Container& c) {
  return std::make_unique<StdinWriter>(e_.r_, [this, id = c.id] {
    // A failed write: the process may be waiting for its writer to be idle.
    e_.r_.defer([this, id] {
      if (Container* ct = e_.by_id(id)) e_.maybe_finish_exit(*ct);
    });
  });
}

void ContainerIo::stdin_started(Container& c) {
  auto pending = std::move(c.stdin_pending);
  c.stdin_pending.clear();
  bool close = std::exchange(c.stdin_close_pending, false);
  for (auto& chunk : pending) write_stdin(c, chunk.data, std::move(chunk.done));
  if (close) close_stdin(c);
}

// The child queued the pty master before execve; the pump reads one copy,
// resize and stdin use others.
void ContainerIo::pty_arrived(Container& c) {
  Process& p = *c.proc;
  auto master = runtime::receive_pty(p.pty_handoff);
  if (!master) {
    log::error("engine", "id={}: {}", c.id, master.error().message());
    (void)signal_process(p, SIGKILL);
    return;
  }
  auto copy = [&]() -> unique_fd { return unique_fd(::fcntl(master->get(), F_DUPFD_CLOEXEC, 3)); };
  p.pty = copy();
  if (p.pending_rows || p.pending_cols) (void)set_window_size(p.pty.get(), p.pending_rows, p.pending_cols);
  if (p.stdin) p.stdin->open(copy());
  if (e_.spawner_) (void)e_.spawner_->hold(p.pid, c.id, {master->get()});   // runtime/keeper.h
  p.pump->set_output(std::move(*master));
}

Result<void> set_window_size(int pty, unsigned short rows, unsigned short cols) {
  struct winsize ws {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  // The kernel sends SIGWINCH to the terminal's foreground process group.
  if (::ioctl(pty, TIOCSWINSZ, &ws) < 0) return Error::sys(errno, "resize the pseudo-terminal");
  return ok();
}

Result<void> ContainerIo::resize(Container& c, unsigned short rows, unsigned short cols) {
  BERTH_TRY_VOID(can(Verb::kResize, c.state.status, c.id));
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
