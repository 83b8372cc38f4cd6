// Health checks (health.h): while a container with Config.Healthcheck runs,
// a timer on the ring starts a probe (an exec of the container, through
// ExecService) and another bounds it by the timeout (SIGKILL to the probe,
// exit -1). Each result goes to the container's HealthState; a change of
// status is a "health_status: <status>" event. No thread or process of
// berthd's own per container; probes are skipped while it is paused.
#include <algorithm>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/exec.h"

namespace berth::engine {

namespace {

int64_t to_ms(int64_t ns) { return std::max<int64_t>(1, ns / 1'000'000); }

std::string seconds_text(int64_t ns) {
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  return std::to_string(ns / 1'000'000) + "ms";
}

}  // namespace

void Engine::health_started(Container& c, bool resumed) {
  health_stopped(c);
  if (!c.spec.health.enabled()) return;
  // A container re-adopted after a berthd restart goes on from the state
  // its last status change saved (state_store.h); a start begins anew.
  if (!resumed || !c.health_active) c.health = HealthState{};
  c.health_active = true;
  schedule_probe(c);
}

void Engine::health_stopped(Container& c) {
  cancel_timer(c.health_timer);
  cancel_timer(c.health_timeout_timer);
  // A probe under way dies with the container; its end is then ignored.
  if (!c.health_probe.empty()) execs_->discard(c.health_probe);
  c.health_probe.clear();
}

void Engine::schedule_probe(Container& c) {
  cancel_timer(c.health_timer);
  c.health_timer = arm_timer(c, to_ms(next_probe_delay_ns(c.spec.health, c.health)), [this](Container& ct, uint64_t t) {
    if (ct.health_timer != t) return;
    ct.health_timer = 0;
    run_probe(ct);
  });
}

void Engine::run_probe(Container& c) {
  if (c.state.status == Status::kPaused) return schedule_probe(c);
  if (c.state.status != Status::kRunning || !c.health_probe.empty()) return;
  ExecConfig cfg;
  cfg.cmd = c.spec.health.cmd;
  cfg.attach_stdout = cfg.attach_stderr = true;
  c.health_pending = HealthResult{};
  c.health_pending.start_ns = now_ns();
  auto made = execs_->create(c, std::move(cfg));
  if (!made) {
    c.health_pending.exit_code = -1;
    c.health_pending.output = made.error().message();
    return probe_done(c);
  }
  std::string eid = (*made)->id;
  c.health_probe = eid;
  auto out = std::make_shared<std::string>();
  ExecSink sink;
  sink.output = [out](uint8_t, std::string_view data) {
    if (out->size() < kHealthOutputBytes) out->append(data.substr(0, kHealthOutputBytes - out->size()));
  };
  sink.ended = [this, id = c.id, eid, out] {
    Container* ct = by_id(id);
    if (!ct || ct->health_probe != eid) return;
    auto e = execs_->find(eid);
    if (ct->health_pending.exit_code == 0) {   // not timed out
      ct->health_pending.exit_code = e ? (*e)->exit_code : -1;
      ct->health_pending.output = *out;
    }
    probe_done(*ct);
  };
  c.health_timeout_timer =
      arm_timer(c, to_ms(probe_timeout_ns(c.spec.health)), [this, eid](Container& ct, uint64_t t) {
        if (ct.health_timeout_timer != t || ct.health_probe != eid) return;
        ct.health_timeout_timer = 0;
        ct.health_pending.exit_code = -1;
        ct.health_pending.output =
            fmt::format("Health check exceeded timeout ({})", seconds_text(probe_timeout_ns(ct.spec.health)));
        execs_->kill(eid);   // its end (sink.ended) records the result
      });
  execs_->start(**made, false, std::move(sink), [this, id = c.id, eid](Result<void> r) {
    if (r) return;
    Container* ct = by_id(id);
    if (!ct || ct->health_probe != eid) return;
    // Not started at all (no process): no `ended` follows.
    auto e = execs_->find(eid);
    if (e && (*e)->started && ((*e)->running || (*e)->spawning)) return;
    ct->health_pending.exit_code = -1;
    ct->health_pending.output = r.error().message();
    probe_done(*ct);
  });
}

void Engine::probe_done(Container& c) {
  cancel_timer(c.health_timeout_timer);
  if (!c.health_probe.empty()) execs_->discard(c.health_probe);
  c.health_probe.clear();
  HealthResult r = std::move(c.health_pending);
  r.end_ns = now_ns();
  if (record_health(c.spec.health, c.health, std::move(r), c.state.started_ns)) {
    log::info("engine", "health id={} status={}", c.id, c.health.status);
    emit(c, "health_status: " + c.health.status);
    persist(c);   // a restarted berthd goes on from it; written on changes only
  }
  if (is_running(c.state.status)) schedule_probe(c);
}

}  // namespace berth::engine
