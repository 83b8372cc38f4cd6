// A container's stdin (OpenStdin): a pipe whose write end berthd keeps.
// Attached clients' input is queued in arrival order and written one chunk
// at a time through the ring; each chunk's `done` lets its client send more,
// so a container that does not read its stdin stalls its clients, never
// berthd's memory. The pipe end stays blocking: io_uring waits for room in
// the pipe without a thread of ours blocking.
#include <utility>

#include "core/base/log.h"
#include "core/engine/process.h"

namespace berth::engine {

bool Engine::stdin_open(const Container& c) const {
  return c.proc && c.proc->stdin_w && !c.proc->stdin_close_after;
}

void Engine::write_stdin(Container& c, std::string_view data, std::function<void()> done) {
  if (!c.proc && c.state.status == Status::kCreated && c.spec.open_stdin) {
    c.stdin_pending.push_back({std::string(data), std::move(done)});
    return;
  }
  if (!stdin_open(c)) return done();
  c.proc->stdin_q.push_back({std::string(data), std::move(done)});
  if (!c.proc->stdin_c.in_flight()) stdin_next(c);
}

void Engine::close_stdin(Container& c) {
  if (!c.proc && c.state.status == Status::kCreated) {
    c.stdin_close_pending = true;
    return;
  }
  if (!c.proc || !c.proc->stdin_w) return;
  c.proc->stdin_close_after = true;
  if (!c.proc->stdin_c.in_flight()) stdin_next(c);
}

// At start: what clients sent before it goes first.
void Engine::stdin_started(Container& c) {
  auto pending = std::move(c.stdin_pending);
  c.stdin_pending.clear();
  bool close = std::exchange(c.stdin_close_pending, false);
  for (auto& chunk : pending) write_stdin(c, chunk.data, std::move(chunk.done));
  if (close) close_stdin(c);
}

void Engine::stdin_next(Container& c) {
  Process& p = *c.proc;
  while (!p.stdin_q.empty() && p.stdin_off == p.stdin_q.front().data.size()) {
    auto done = std::move(p.stdin_q.front().done);
    p.stdin_q.pop_front();
    p.stdin_off = 0;
    if (done) done();
  }
  if (p.stdin_q.empty()) {
    if (p.stdin_close_after) p.stdin_w.reset();  // the container reads EOF
    return;
  }
  const std::string& d = p.stdin_q.front().data;
  Container* cp = &c;
  p.stdin_c.set_callback([this, cp](int32_t res, uint32_t) { stdin_written(*cp, res); });
  r_.write(p.stdin_w.get(), d.data() + p.stdin_off, unsigned(d.size() - p.stdin_off), uint64_t(-1), p.stdin_c);
}

void Engine::stdin_written(Container& c, int32_t res) {
  Process& p = *c.proc;
  if (res <= 0 || p.exited) {
    // EPIPE (the container closed its stdin), cancelled, or the container is
    // gone: nothing more can be written.
    if (res < 0 && res != -EPIPE && res != -ECANCELED)
      log::debug("engine", "stdin of id={}: {}", c.id, std::strerror(-res));
    stdin_drop(p);
    return maybe_finish_exit(c);
  }
  p.stdin_off += size_t(res);
  stdin_next(c);
}

// Drops the pipe and everything queued, letting every waiting client go on.
void Engine::stdin_drop(Process& p) {
  p.stdin_w.reset();
  auto q = std::move(p.stdin_q);
  p.stdin_q.clear();
  p.stdin_off = 0;
  for (auto& chunk : q)
    if (chunk.done) chunk.done();
}

}  // namespace berth::engine
