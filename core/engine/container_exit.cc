// The end of a container's process: the keeper's push (or the pidfd of one of
// berthd's own children) reports the exit, the output
// pump drains the pipes, then the state becomes exited, waiters and attached
// clients are told, and AutoRemove containers are removed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/base/assert.h"
#include "core/engine/keeper_link.h"
#include "core/engine/log_pump.h"
#include "core/engine/networks.h"
#include "core/engine/container_security.h"
#include "core/engine/process.h"
#include "core/engine/volumes.h"
#include "core/reactor/fd_vault.h"
#include "core/runtime/exit.h"

namespace berth::engine {

Result<unique_fd> pidfd_of(const Process& p) {
  if (p.exited || p.gone) return Error::sys(ESRCH, "pid {} has exited", p.pid);
  if (p.pidfd) {
    int fd = ::fcntl(p.pidfd.get(), F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return Error::sys(errno, "duplicate the pidfd of pid {}", p.pid);
    return unique_fd(fd);
  }
  return runtime::open_pidfd(p.pid, p.start_ticks);
}

Result<void> signal_process(const Process& p, int sig) {
  if (p.pidfd) return runtime::kill(p.pidfd.get(), sig);
  auto fd = pidfd_of(p);
  if (!fd) return std::move(fd.error());
  return runtime::kill(fd->get(), sig);
}

// A child of the keeper: its exit comes from the keeper's push (watch),
// and its pidfd is closed here, after its start time is read (pidfd_of
// opens one again when needed). A child of berthd's own: its pidfd polled.
void Engine::watch_exit(Container& c) {
  Process& p = *c.proc;
  if (p.pidfd && p.keeper_gen != 0 && p.keeper_gen == keeper_->generation() && keeper_->connected()) {
    // The start time was read off the loop by the spawn (a re-adoption, at
    // daemon start, reads it here). Alive now: that was this process's.
    if (p.start_ticks == 0) {
      auto start = runtime::identity(p.pid, p.pidfd.get());
      if (start) p.start_ticks = *start;
      else p.gone = true;
    } else if (!runtime::kill(p.pidfd.get(), 0)) {
      p.gone = true;
    }
    p.pidfd.reset();
    p.awaiting_keeper = true;
    keeper_->watch(p.pid, p.keeper_gen, p.since_ns, !p.gone, [this, id = c.id](std::optional<KeptExit> e) {
      // Deferred: an answer known at once must not run inside the caller.
      r_.defer([this, id, e] {
        Container* ct = by_id(id);
        if (!ct || !ct->proc || !ct->proc->awaiting_keeper) return;  // unwatched meanwhile
        ct->proc->awaiting_keeper = false;
        if (!e) log::error("engine", "id={}: its keeper died, and with it the exit status (recorded as 137)", id);
        exited(*ct, e ? e->exit_code : 128 + SIGKILL);
      });
    });
    return;
  }
  Container* cp = &c;
  c.proc->exit_c.set_callback([this, cp](int32_t res, uint32_t) { exit_ready(*cp, res); });
  r_.poll(c.proc->pidfd.get(), POLLIN, c.proc->exit_c);
}

void Engine::exit_ready(Container& c, int32_t res) {
  Process& p = *c.proc;
  if (res == -ECANCELED || p.detached) return drop_process_if_idle(c);
  auto st = runtime::reap(p.pidfd.get());
  if (st && !st->has_value()) return watch_exit(c);  // woken without an exit: poll again
  if (!st && st.error().sys_errno() == ECHILD) {
    // The keeper's child, not ours: the keeper reaped it and tells us how.
    p.awaiting_keeper = true;
    keeper_->on_exit(p.pid, p.keeper_gen, [this, id = c.id](std::optional<KeptExit> e) {
      Container* ct = by_id(id);
      BERTH_ASSERT(ct && ct->proc);  // awaiting_keeper keeps both
      ct->proc->awaiting_keeper = false;
      if (!e) log::error("engine", "id={}: its keeper died, and with it the exit status (recorded as 137)", id);
      exited(*ct, e ? e->exit_code : 128 + SIGKILL);
    });
    return;
  }
  if (!st) log::error("engine", "reap id={}: {}", c.id, st.error().message());
  exited(c, st ? (*st)->exit_code : 255);
}

void Engine::exited(Container& c, int exit_code) {
  Process& p = *c.proc;
  p.exited = true;
  p.exit_code = exit_code;
  r_.cancel(p.stop_timer_c);
  if (p.oom_c.in_flight()) r_.cancel(p.oom_c);
  if (p.stdin) p.stdin->drop();
  // Output that a full disk keeps out of the log no longer holds the exit.
  if (p.pump) p.pump->writer_gone();
  maybe_finish_exit(c);
}

// Every completion of a Process (exit poll, exec pipe, pump, stop timer)
// ends here: the exit is final once the process is reaped, its output is
// drained and the exec status is known; the Process is freed once none of
// its operations is in flight.
void Engine::maybe_finish_exit(Container& c) {
  if (!c.proc) return;
  if (is_running(c.state.status) && c.proc->exited && resources_->oom_settled(c) && c.proc->pump->drained() &&
      !c.proc->error_c.in_flight())
    return finish_exit(c);
  drop_process_if_idle(c);
}

void Engine::finish_exit(Container& c) {
  Process& p = *c.proc;
  bool start_failed = p.start_failed;
  c.state.exit_code = p.exit_code;
  c.state.pid = 0;
  c.state.start_ticks = 0;
  c.state.finished_ns = now_ns();
  // The restart policy: `restarting` until its timer starts it again.
  bool policy_restart = !start_failed && !c.restarting && plan_restart(c, p.exit_code);
  c.state.status = start_failed ? Status::kCreated : policy_restart ? Status::kRestarting : Status::kExited;
  log::info("engine", "die id={} exit_code={}", c.id, p.exit_code);
  health_stopped(c);
  // AutoRemove removes the container right after this, unless a restart
  // stopped it (Engine::restart starts it again). (AutoRemove and a restart
  // policy exclude each other.)
  bool removal_follows = c.spec.auto_remove && !c.restarting;
  c.restarting = false;
  // The init's mount namespace: held for the removal job, or torn down on
  // the job lane (a start waits for it: its overlay mounts the same dirs).
  unique_fd mntns = std::move(p.mntns);
  if (p.mntns_key != reactor::FdVault::kNone) {
    auto fd = parking_->vault().take(p.mntns_key);
    p.mntns_key = reactor::FdVault::kNone;
    if (fd) mntns = std::move(*fd);
    else log::warn("engine", "id={}: its mount namespace back from the vault: {}", c.id, fd.error().message());
  }
  if (removal_follows) c.held_mntns = std::move(mntns);
  else if (mntns) tear_down_later(c, std::move(mntns));
  if (spawner_) (void)spawner_->release(p.pid);   // the keeper forgets it and closes its pipes
  resources_->release(c, removal_follows);
  networks_->stopped(c);   // veths, addresses, ports, names
  unmount_shm_later(*this, r_, c);   // --ipc shareable
  emit(c, "die", {{"exitCode", std::to_string(p.exit_code)}});
  if (!start_failed) volumes_->emit_mounts(c, "unmount");
  auto on_exit = std::move(p.on_exit);
  p.on_exit.clear();
  auto attachers = std::move(c.attachers);
  c.attachers.clear();
  for (auto& a : attachers)
    if (a.closed) a.closed();
  io_->notify_log(c, true);
  fire_waiters(c, false);
  // Removed just below (AutoRemove), so the state file would be written only
  // to be deleted (one job-pool round trip on the path of every `run --rm`).
  // A crash in between finds it "running" and marks it exited, as for any
  // container lost in a crash.
  if (!removal_follows) persist(c);
  if (policy_restart) arm_restart(c);
  drop_process_if_idle(c);
  // Callers below may remove the container: look it up again by id after.
  std::string id = c.id;
  for (auto& d : on_exit) d(ok());
  Container* ct = by_id(id);
  if (ct && removal_follows && ct->state.status != Status::kRemoving) remove_now(*ct, [](Result<void>) {}, true);
  check_shutdown();
}

// The exited init's mount namespace, whose last holder berthd is, goes on
// the job lane. Its teardown unmounts the overlay, and an overlay's
// unmount syncs the whole file system its upper dir is on: with a
// gigabyte of dirty data there (a big log, anyone's files) that takes
// about half a second, which the init's own exit would otherwise wait for,
// and with it `wait`, `stop` and the next exit the keeper reports. A start
// meanwhile waits for it, as for the cgroup's removal (container_start.cc).
void Engine::tear_down_later(Container& c, unique_fd mntns) {
  auto fd = std::make_shared<unique_fd>(std::move(mntns));
  std::string id = c.id;
  c.start_gates++;
  auto done = [this, id] { start_gate_done(id); };
  if (!r_.run_job([fd] { fd->reset(); }, done)) {
    fd->reset();   // the backlog is full: here, then
    done();
  }
}

void Engine::start_gate_done(const std::string& id) {
  Container* c = by_id(id);
  if (!c || --c->start_gates > 0) return;
  auto waiting = std::move(c->after_start_gates);
  c->after_start_gates.clear();
  for (auto& fn : waiting) r_.defer(std::move(fn));
}

void Engine::drop_process_if_idle(Container& c) {
  if (!c.proc || !(c.proc->exited || c.proc->detached) || !c.proc->pump->drained() || !c.proc->idle()) return;
  if (is_running(c.state.status) && !c.proc->detached) return;  // finish_exit has not run yet
  c.proc.reset();
  for (auto& fn : c.after_drop) r_.defer(std::move(fn));
  c.after_drop.clear();
  check_shutdown();
}

}  // namespace berth::engine
