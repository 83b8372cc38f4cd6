// stop, kill and restart: signals to a running container's init (and,
// for SIGKILL, through its cgroup to every process of it), the stop timer
// that escalates to SIGKILL, and restart's stop-then-start.
#include "core/base/log.h"
#include "core/base/signals.h"
#include "core/engine/process.h"

namespace berth::engine {

void Engine::stop_timer_fired(Container& c, int32_t res) {
  if (res == -ECANCELED || !c.proc || c.proc->exited) return maybe_finish_exit(c);
  log::info("engine", "stop timeout id={}: sending SIGKILL", c.id);
  kill_everything(c);
}

// SIGKILL to the init and, through the cgroup, to every other process of the
// container (double-forked ones included). The pid namespace would take the
// others down with its init anyway; the cgroup also covers processes that
// joined from outside it. v1 kill_all freezes and may wait: job pool.
void Engine::kill_everything(Container& c) {
  (void)signal_process(*c.proc, SIGKILL);
  if (!c.cgroup) return;
  auto cg = c.cgroup;
  std::string id = c.id;
  auto res = std::make_shared<Result<void>>(ok());
  bool queued = r_.run_job([cg, res] { *res = cg->kill_all(); },
                           [id, res] {
                             if (!*res) log::warn("engine", "kill all of id={}: {}", id, res->error().message());
                           });
  if (!queued) log::warn("engine", "kill all of id={}: the job backlog is full; only its init was killed", id);
}

int Engine::stop_signal(const Container& c) const {
  if (c.spec.stop_signal.empty()) return SIGTERM;
  auto sig = parse_signal(c.spec.stop_signal);   // checked at create
  return sig ? *sig : SIGTERM;
}

int Engine::stop_timeout_s(const Container& c) const { return c.spec.stop_timeout_s.value_or(10); }

// A container waiting for its policy's restart, stopped by the user: it
// stays stopped (the exit it had is its last).
void Engine::stop_restarting(Container& c, Done done) {
  cancel_restart(c);
  c.manually_stopped = true;
  c.state.status = Status::kExited;
  emit(c, "stop");
  fire_waiters(c, false);
  persist(c);
  when_persisted(c, [this, id = c.id, done = std::move(done)] { done(unsaved(id, "stop")); });
}

Result<void> Engine::kill(Container& c, int sig) {
  bool by_user = sig == SIGKILL || sig == stop_signal(c);
  if (c.state.status == Status::kRestarting && by_user) {
    stop_restarting(c, [](Result<void>) {});
    return ok();
  }
  BERTH_TRY_VOID(can(Verb::kKill, c.state.status, c.id));
  if (!c.proc || c.proc->exited) return Error::conflict("Container {} is not running", c.id);
  if (sig == SIGKILL) {
    kill_everything(c);
  } else {
    auto r = signal_process(*c.proc, sig);
    if (!r) return std::move(r.error()).context("kill container {}", c.id);
  }
  if (by_user) c.manually_stopped = true;   // persisted with the exit
  log::info("engine", "kill id={} signal={}", c.id, sig);
  emit(c, "kill", {{"signal", std::to_string(sig)}});
  return ok();
}

void Engine::stop(Container& c, int timeout_s, int sig, Done done) {
  if (auto ok_ = can(Verb::kStop, c.state.status, c.id); !ok_) return done(std::move(ok_));
  if (c.state.status == Status::kRestarting) return stop_restarting(c, std::move(done));
  if (!c.proc) return done(Error(Code::kNotModified, "container already stopped"));
  c.manually_stopped = true;   // persisted with the exit
  Process& p = *c.proc;
  std::string id = c.id;
  // Docker's order: kill, die, then stop.
  p.on_exit.push_back([this, id, done = std::move(done)](Result<void> r) {
    if (Container* ct = by_id(id); ct && r) emit(*ct, "stop");
    done(std::move(r));
  });
  if (p.exited) return;
  emit(c, "kill", {{"signal", std::to_string(timeout_s == 0 ? SIGKILL : sig)}});
  if (timeout_s == 0 || sig == SIGKILL)
    kill_everything(c);
  else
    (void)signal_process(p, sig);
  if (timeout_s > 0 && !p.stop_timer_c.in_flight()) {
    Container* cp = &c;
    p.stop_ts = {timeout_s, 0};
    p.stop_timer_c.set_callback([this, cp](int32_t res, uint32_t) { stop_timer_fired(*cp, res); });
    r_.timeout(&p.stop_ts, p.stop_timer_c);
  }
}

void Engine::restart(Container& c, int timeout_s, int sig, Done done) {
  if (c.state.status == Status::kRunning && c.proc) c.restarting = true;
  std::string id = c.id;
  stop(c, timeout_s, sig, [this, id, done = std::move(done)](Result<void> r) mutable {
    Container* ct = by_id(id);
    if (!ct) return done(Error::not_found("No such container: {}", id));
    ct->restarting = false;
    if (!r && r.error().code() != Code::kNotModified) return done(std::move(r));
    auto go = [this, id, done = std::move(done)]() mutable {
      Container* found = by_id(id);
      if (!found) return done(Error::not_found("No such container: {}", id));
      start(*found, [this, id, done = std::move(done)](Result<void> started) {
        if (Container* again = by_id(id); again && started) emit(*again, "restart");
        done(std::move(started));
      });
    };
    // Never from within this exit: other stop callbacks (an `rm -f` that
    // raced the restart) run first and may mark the container for removal,
    // which start() then refuses. And the exited process's last operations
    // may still be in flight.
    if (ct->proc) ct->after_drop.push_back(std::move(go));
    else r_.defer(std::move(go));
  });
}

}  // namespace berth::engine
