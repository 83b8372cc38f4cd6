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
  maybe_finish_exit(c);
}

// Every completion of a Process (exit poll, exec pipe, pump, stop timer)
// ends here: the exit is final once the process is reaped, its output is
// drained and the exec status is known; the Process is freed once none of
// its operations is in flight.
void Engine::maybe_finish_exit(Container& c) {
  if (!c.proc) return;
  if (c.state.status == Status::kRunning && c.proc->exited && c.proc->pump->drained() &&
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
  auto on_exit = std::move(p.on_exit);
  p.on_exit.clear();
  auto attachers = std::move(c.attachers);
  c.attachers.clear();
  for (auto& a : attachers)
    if (a.closed) a.closed();
  fire_waiters(c, false);
  persist(c);
  drop_process_if_idle(c);
  // Callers below may remove the container: look it up again by id after.
  std::string id = c.id;
  for (auto& d : on_exit) d(ok());
  auto it = containers_.find(id);
  if (it != containers_.end() && it->second->spec.auto_remove &&
      it->second->state.status != Status::kRemoving)
    remove_now(*it->second, [](Result<void>) {});
  check_shutdown();
}

void Engine::drop_process_if_idle(Container& c) {
  if (!c.proc || !c.proc->exited || !c.proc->pump->drained() || !c.proc->idle()) return;
  if (c.state.status == Status::kRunning) return;  // finish_exit has not run yet
  c.proc.reset();
  check_shutdown();
}

void Engine::stop_timer_fired(Container& c, int32_t res) {
  if (res == -ECANCELED || !c.proc || c.proc->exited) return maybe_finish_exit(c);
  log::info("engine", "stop timeout id={}: sending SIGKILL", c.id);
  (void)runtime::kill(c.proc->pidfd.get(), SIGKILL);
}

Result<void> Engine::kill(Container& c, int sig) {
  if (c.state.status != Status::kRunning || !c.proc || c.proc->exited)
    return Error::conflict("Container {} is not running", c.id);
  auto r = runtime::kill(c.proc->pidfd.get(), sig);
  if (!r) return std::move(r.error()).context("kill container {}", c.id);
  log::info("engine", "kill id={} signal={}", c.id, sig);
  return ok();
}

void Engine::stop(Container& c, int timeout_s, int sig, Done done) {
  if (c.state.status != Status::kRunning || !c.proc)
    return done(Error(Code::kNotModified, "container already stopped"));
  Process& p = *c.proc;
  p.on_exit.push_back(std::move(done));
  if (p.exited) return;
  (void)runtime::kill(p.pidfd.get(), timeout_s == 0 ? SIGKILL : sig);
  if (timeout_s > 0 && !p.stop_timer_c.in_flight()) {
    Container* cp = &c;
    p.stop_ts = {timeout_s, 0};
    p.stop_timer_c.set_callback([this, cp](int32_t res, uint32_t) { stop_timer_fired(*cp, res); });
    r_.timeout(&p.stop_ts, p.stop_timer_c);
  }
}

}  // namespace berth::engine
