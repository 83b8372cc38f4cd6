// Restart policies (restart_policy.h) in the engine: at an exit the policy
// may put the container in `restarting` and arm a timer on the ring (no
// thread and no process per container); the timer starts it again. At
// daemon start, containers whose policy says so are started again, as
// after a host reboot.
#include "core/base/assert.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"

namespace berth::engine {

// At the exit (finish_exit), before the status is set: true when the
// policy restarts the container, which then counts the restart.
bool Engine::plan_restart(Container& c, int exit_code) {
  if (shutting_down_ || c.spec.restart.none()) return false;
  int64_t ran_ns = c.state.started_ns > 0 ? now_ns() - c.state.started_ns : 0;
  RestartDecision d =
      decide_restart(c.spec.restart, exit_code, c.manually_stopped, c.restart_count, ran_ns, c.restart_delay_ms);
  if (!d.restart) return false;
  c.restart_delay_ms = d.delay_ms;
  c.restart_count++;
  return true;
}

uint64_t Engine::arm_timer(Container& c, int64_t delay_ms, std::function<void(Container&, uint64_t)> fire) {
  uint64_t t = token();
  auto timer = std::make_unique<ContainerTimer>();
  timer->id = c.id;
  timer->ts = {delay_ms / 1000, (delay_ms % 1000) * 1'000'000};
  timer->fire = std::move(fire);
  // The timer is freed only after its completion has run (never from
  // within it): its fate is decided in a deferred call.
  timer->c.set_callback([this, t](int32_t res, uint32_t) { r_.defer([this, t, res] { timer_done(t, res); }); });
  r_.timeout(&timer->ts, timer->c);
  timers_[t] = std::move(timer);
  return t;
}

void Engine::cancel_timer(uint64_t& t) {
  if (!t) return;
  auto it = timers_.find(t);
  if (it != timers_.end() && it->second->c.in_flight()) r_.cancel(it->second->c);
  t = 0;
}

void Engine::timer_done(uint64_t t, int32_t res) {
  auto it = timers_.find(t);
  BERTH_ASSERT(it != timers_.end());
  std::unique_ptr<ContainerTimer> timer = std::move(it->second);
  timers_.erase(it);
  Container* c = by_id(timer->id);
  if (res == -ECANCELED || !c || shutting_down_) return check_shutdown();
  timer->fire(*c, t);
}

void Engine::arm_restart(Container& c) {
  cancel_restart(c);
  c.restart_timer = arm_timer(c, c.restart_delay_ms, [this](Container& ct, uint64_t t) {
    if (ct.restart_timer != t) return;
    ct.restart_timer = 0;
    restart_by_policy(ct);
  });
  log::info("engine", "restart scheduled id={} delay_ms={} count={}", c.id, c.restart_delay_ms, c.restart_count);
}

void Engine::cancel_restart(Container& c) { cancel_timer(c.restart_timer); }

void Engine::restart_by_policy(Container& c) {
  if (c.state.status != Status::kRestarting || shutting_down_) return check_shutdown();
  if (c.proc) {
    // The exited process's last operations are still in flight.
    c.after_drop.push_back([this, id = c.id] {
      if (Container* ct = by_id(id)) restart_by_policy(*ct);
    });
    return;
  }
  start_container(c, false, [this, id = c.id](Result<void> r) {
    Container* ct = by_id(id);
    if (!ct) return;
    if (r) {
      emit(*ct, "restart");
      return;
    }
    log::warn("engine", "restart by policy id={}: {}", id, r.error().message());
    if (ct->state.status == Status::kRestarting) {
      // It never ran: it stays stopped, with the error in its state.
      ct->state.status = Status::kExited;
      ct->state.finished_ns = now_ns();
      persist(*ct);
      fire_waiters(*ct, false);
    }
  });
}

// After the containers are loaded: those the policy brings back when the
// daemon starts, as Docker does after a reboot: `always` (even if the user
// stopped it) and `unless-stopped` unless the user stopped it, each if it
// ever ran.
void Engine::start_restartable() {
  for (auto& [id, c] : containers_) {
    auto name = c->spec.restart.name;
    bool wanted = name == RestartPolicy::Name::kAlways ||
                  (name == RestartPolicy::Name::kUnlessStopped && !c->manually_stopped);
    if (!wanted || c->state.status != Status::kExited || c->state.started_ns == 0) continue;
    r_.defer([this, id = id] {
      Container* ct = by_id(id);
      if (!ct || ct->state.status != Status::kExited) return;
      log::info("engine", "starting id={} again (restart policy {})", id, restart_policy_name(ct->spec.restart.name));
      // As Docker's restore: a start that resets the count and the manual stop.
      start_container(*ct, true, [this, id](Result<void> r) {
        if (!r) log::warn("engine", "start id={} at daemon start: {}", id, r.error().message());
      });
    });
  }
}

}  // namespace berth::engine
