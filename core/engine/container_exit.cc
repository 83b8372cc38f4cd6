// The end of a container's process: the pidfd reports the exit, the output
// pump drains the pipes, then the state becomes exited, waiters and attached
// clients are told, and AutoRemove containers are removed.
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/process.h"

namespace berth::engine {

void Engine::process_exited(Container& c, int exit_code) {
  Process& p = *c.proc;
  p.exited = true;
  p.exit_code = exit_code;
  r_.cancel(p.stop_timer_c);
  if (p.oom_c.in_flight()) r_.cancel(p.oom_c);
  if (p.stdin) p.stdin->drop();
  maybe_finish_exit(c);
}

// Every completion of a Process (exit poll, exec pipe, pump, stop timer)
// ends here: the exit is final once the process is reaped, its output is
// drained and the exec status is known; the Process is freed once none of
// its operations is in flight.
void Engine::maybe_finish_exit(Container& c) {
  if (!c.proc) return;
  bool live = c.state.status == Status::kRunning || c.state.status == Status::kPaused;
  if (live && c.proc->exited && c.proc->pump->drained() &&
      !c.proc->error_c.in_flight())
    return finish_exit(c);
  drop_process_if_idle(c);
}

void Engine::finish_exit(Container& c) {
  Process& p = *c.proc;
  bool start_failed = p.start_failed;
  c.state.exit_code = p.exit_code;
  c.state.pid = 0;
  c.state.finished_ns = now_ns();
  c.state.status = start_failed ? Status::kCreated : Status::kExited;
  log::info("engine", "die id={} exit_code={}", c.id, p.exit_code);
  // AutoRemove removes the container right after this, unless a restart
  // stopped it (Engine::restart starts it again).
  bool removal_follows = c.spec.auto_remove && !c.restarting;
  c.restarting = false;
  // Held for the removal job (Engine::hold_mount_namespace); a restart
  // tears it down here, before its next overlay mounts the same dirs.
  if (removal_follows) c.held_mntns = std::move(p.mntns);
  p.mntns.reset();
  release_cgroup(c, removal_follows);
  emit(c, "die", {{"exitCode", std::to_string(p.exit_code)}});
  auto on_exit = std::move(p.on_exit);
  p.on_exit.clear();
  auto attachers = std::move(c.attachers);
  c.attachers.clear();
  for (auto& a : attachers)
    if (a.closed) a.closed();
  notify_log(c, true);
  fire_waiters(c, false);
  // Removed just below (AutoRemove), so the state file would be written only
  // to be deleted (one job-pool round trip on the path of every `run --rm`).
  // A crash in between finds it "running" and marks it exited, as for any
  // container lost in a crash.
  if (!removal_follows) persist(c);
  drop_process_if_idle(c);
  // Callers below may remove the container: look it up again by id after.
  std::string id = c.id;
  for (auto& d : on_exit) d(ok());
  auto it = containers_.find(id);
  if (it != containers_.end() && removal_follows && it->second->state.status != Status::kRemoving)
    remove_now(*it->second, [](Result<void>) {});
  check_shutdown();
}

void Engine::drop_process_if_idle(Container& c) {
  if (!c.proc || !c.proc->exited || !c.proc->pump->drained() || !c.proc->idle()) return;
  if (c.state.status == Status::kRunning || c.state.status == Status::kPaused)
    return;  // finish_exit has not run yet
  c.proc.reset();
  for (auto& fn : c.after_drop) r_.defer(std::move(fn));
  c.after_drop.clear();
  check_shutdown();
}

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
  (void)runtime::kill(c.proc->pidfd.get(), SIGKILL);
  if (!c.cgroup) return;
  auto cg = c.cgroup;
  std::string id = c.id;
  auto res = std::make_shared<Result<void>>(ok());
  (void)r_.run_job([cg, res] { *res = cg->kill_all(); },
                   [id, res] {
                     if (!*res) log::warn("engine", "kill all of id={}: {}", id, res->error().message());
                   });
}

Result<void> Engine::kill(Container& c, int sig) {
  if (c.state.status == Status::kPaused)
    return Error::conflict("Container {} is paused. Unpause the container before stopping or killing", c.id);
  if (c.state.status != Status::kRunning || !c.proc || c.proc->exited)
    return Error::conflict("Container {} is not running", c.id);
  if (sig == SIGKILL) {
    kill_everything(c);
  } else {
    auto r = runtime::kill(c.proc->pidfd.get(), sig);
    if (!r) return std::move(r.error()).context("kill container {}", c.id);
  }
  log::info("engine", "kill id={} signal={}", c.id, sig);
  emit(c, "kill", {{"signal", std::to_string(sig)}});
  return ok();
}

void Engine::stop(Container& c, int timeout_s, int sig, Done done) {
  if (c.state.status == Status::kPaused)
    return done(Error::conflict("Container {} is paused. Unpause the container before stopping or killing", c.id));
  if (c.state.status != Status::kRunning || !c.proc)
    return done(Error(Code::kNotModified, "container already stopped"));
  Process& p = *c.proc;
  p.on_exit.push_back(std::move(done));
  if (p.exited) return;
  emit(c, "kill", {{"signal", std::to_string(timeout_s == 0 ? SIGKILL : sig)}});
  if (timeout_s == 0 || sig == SIGKILL)
    kill_everything(c);
  else
    (void)runtime::kill(p.pidfd.get(), sig);
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
    auto it = containers_.find(id);
    if (it == containers_.end()) return done(Error::not_found("No such container: {}", id));
    it->second->restarting = false;
    if (!r && r.error().code() != Code::kNotModified) return done(std::move(r));
    auto go = [this, id, done = std::move(done)]() mutable {
      auto found = containers_.find(id);
      if (found == containers_.end()) return done(Error::not_found("No such container: {}", id));
      start(*found->second, std::move(done));
    };
    // Never from within this exit: other stop callbacks (an `rm -f` that
    // raced the restart) run first and may mark the container for removal,
    // which start() then refuses. And the exited process's last operations
    // may still be in flight.
    if (it->second->proc) it->second->after_drop.push_back(std::move(go));
    else r_.defer(std::move(go));
  });
}

}  // namespace berth::engine
