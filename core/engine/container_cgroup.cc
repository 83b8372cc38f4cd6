// Resource control: each running container has a cgroup (cgroups/ driver,
// created at start under Options::cgroup_parent, destroyed at exit) carrying
// its HostConfig limits. Here: placing the init process, OOM notifications
// on the ring, pause/unpause (freezer), update, stats subscriptions.
#include <poll.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/process.h"
#include "core/runtime/security.h"

namespace berth::engine {

namespace {

// Docker's device allowlist and the container's devices, before its init
// runs in the cgroup.
Result<void> apply_devices(cgroups::Cgroup& cg, const runtime::Spec& spec, const std::string& id) {
  auto applied = runtime::apply_device_rules(cg, spec.security);
  if (!applied) return std::move(applied.error()).context("set the device allowlist");
  if (!*applied) log::warn("engine", "id={}: no devices cgroup controller: device access is not limited", id);
  return ok();
}

// Overlays the fields `r` sets onto `base` (Docker's update semantics: an
// absent field keeps its value).
cgroups::Resources merged(cgroups::Resources base, const cgroups::Resources& r) {
  auto take = [](auto& dst, const auto& src) {
    if (src) dst = src;
  };
  take(base.memory, r.memory);
  take(base.memory_swap, r.memory_swap);
  take(base.memory_reservation, r.memory_reservation);
  take(base.nano_cpus, r.nano_cpus);
  take(base.cpu_shares, r.cpu_shares);
  take(base.cpu_period, r.cpu_period);
  take(base.cpu_quota, r.cpu_quota);
  take(base.cpuset_cpus, r.cpuset_cpus);
  take(base.cpuset_mems, r.cpuset_mems);
  take(base.pids_limit, r.pids_limit);
  take(base.blkio_weight, r.blkio_weight);
  // --cpus and --cpu-quota/--cpu-period exclude each other: the newer wins.
  if (r.nano_cpus && *r.nano_cpus > 0) base.cpu_quota.reset(), base.cpu_period.reset();
  if ((r.cpu_quota && *r.cpu_quota > 0) || (r.cpu_period && *r.cpu_period > 0)) base.nano_cpus.reset();
  return base;
}

}  // namespace

Result<void> destroy_retrying(cgroups::Cgroup& cg) {
  Result<void> r = cg.destroy();
  for (int i = 1; i < 100 && !r && r.error().code() == Code::kConflict; i++) {
    ::usleep(10000);
    r = cg.destroy();
  }
  return r;
}

void Engine::emit(const Container& c, std::string action, std::map<std::string, std::string> attrs) {
  attrs["name"] = c.name;
  attrs["image"] = c.image_ref;
  Event e;
  e.action = std::move(action);
  e.id = c.id;
  e.attributes = std::move(attrs);
  events_.publish(std::move(e));
}

Result<std::vector<std::string>> Engine::check_resources(const cgroups::Resources& r) const {
  std::vector<std::string> warnings;
  if (r.empty()) return warnings;
  if (!cgroups_)
    return Error(Code::kNotSupported, "resource limits need cgroups, which berthd runs without on this host");
  BERTH_TRY_VOID(cgroups::validate(r, online_cpus_));
  return warnings;
}

Result<void> Engine::setup_cgroup(Container& c, runtime::Spec& spec) {
  if (!cgroups_) return ok();
  const std::string& parent = c.spec.cgroup_parent.empty() ? opts_.cgroup_parent : c.spec.cgroup_parent;
  c.cgroup = BERTH_TRY_CTX(cgroups_->create(parent, c.id), "create cgroup");
  auto r = apply_resources(c);
  if (r) r = apply_devices(*c.cgroup, spec, c.id);
  if (!r) {
    (void)c.cgroup->destroy();
    c.cgroup.reset();
    return r;
  }
  spec.cgroup_fd = c.cgroup->clone_into_fd();
  return ok();
}

// The container's limits onto its new cgroup (made at start, or with its
// warm init).
Result<void> Engine::apply_resources(Container& c) {
  if (!c.cgroup || c.spec.resources.empty()) return ok();
  auto r = c.cgroup->set(c.spec.resources);
  if (!r && r.error().code() == Code::kNotSupported && c.spec.resources.memory_swap) {
    // No swap accounting on this host: Docker warns and limits memory
    // without swap; so does berth (the default MemorySwap is 2 x Memory).
    log::warn("engine", "id={}: {}; memory limited without swap", c.id, r.error().message());
    cgroups::Resources no_swap = c.spec.resources;
    no_swap.memory_swap.reset();
    r = c.cgroup->set(no_swap);
  }
  if (!r) return std::move(r.error()).context("apply resource limits");
  return ok();
}

Result<void> Engine::place_in_cgroup(Container& c, pid_t pid) {
  if (!c.cgroup || c.cgroup->clone_into_fd() >= 0) return ok();  // v2: born in it
  return c.cgroup->add_process(pid);
}

void Engine::watch_oom(Container& c) {
  Process& p = *c.proc;
  if (!c.cgroup || !c.spec.resources.memory || *c.spec.resources.memory <= 0) return;
  if (!p.oom_fd) {
    auto fd = c.cgroup->oom_notifier();
    if (!fd) {
      log::warn("engine", "no OOM notifications for id={}: {}", c.id, fd.error().message());
      return;
    }
    p.oom_fd = std::move(*fd);
  }
  Container* cp = &c;
  p.oom_c.set_callback([this, cp](int32_t res, uint32_t) { oom_ready(*cp, res); });
  r_.poll(p.oom_fd.get(), POLLIN, p.oom_c);
}

void Engine::oom_ready(Container& c, int32_t res) {
  Process& p = *c.proc;
  if (res == -ECANCELED || p.exited) return maybe_finish_exit(c);
  char buf[512];
  while (::read(p.oom_fd.get(), buf, sizeof buf) > 0) {
  }
  // The notification also fires when the limit is hit and reclaim copes; only
  // a grown oom_kill counter is an OOM kill.
  auto kills = c.cgroup ? c.cgroup->oom_kills() : Result<uint64_t>(0);
  if (kills && *kills > p.oom_seen) {
    p.oom_seen = *kills;
    c.state.oom_killed = true;
    log::info("engine", "oom id={} kills={}", c.id, *kills);
    emit(c, "oom");
  }
  watch_oom(c);
}

void Engine::release_cgroup(Container& c, bool removal_follows) {
  if (!c.cgroup) return;
  auto kills = c.cgroup->oom_kills();
  uint64_t seen = c.proc ? c.proc->oom_seen : 0;
  if (kills && *kills > 0) {
    c.state.oom_killed = true;
    if (*kills > seen) emit(c, "oom");
  }
  stats_.container_stopped(c.id);
  std::shared_ptr<cgroups::Cgroup> cg = std::move(c.cgroup);
  c.cgroup.reset();
  // When the container is about to be removed (AutoRemove), never to start
  // again under this id, the rmdirs need not hold up its removal (`run --rm`
  // waits for that). Otherwise remove it now: a start may follow at once.
  if (!removal_follows) {
    auto r = cg->destroy();
    if (r || r.error().code() != Code::kConflict) {
      if (!r) log::warn("engine", "remove cgroup of id={}: {}", c.id, r.error().message());
      return;
    }
  }
  // Off the loop, retried while the kernel still holds it (a task not yet
  // fully gone).
  // A start meanwhile (a restart) waits for it: its new cgroup has the same
  // path, which these rmdirs must not take away (Engine::start).
  auto res = std::make_shared<Result<void>>(ok());
  std::string id = c.id;
  c.cgroup_removals++;
  bool queued = r_.run_job([cg, res] { *res = destroy_retrying(*cg); }, [this, id, res] {
    if (!*res) log::warn("engine", "remove cgroup of id={}: {}", id, res->error().message());
    cgroup_removed(id);
  });
  if (!queued) {
    if (!(*res = cg->destroy()))
      log::warn("engine", "job queue full; remove cgroup of id={}: {}", id, res->error().message());
    cgroup_removed(id);
  }
}

void Engine::cgroup_removed(const std::string& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  Container& c = *it->second;
  if (--c.cgroup_removals > 0) return;
  auto waiting = std::move(c.after_cgroup_removed);
  c.after_cgroup_removed.clear();
  for (auto& fn : waiting) r_.defer(std::move(fn));
}

// The cgroup of a container lost in a crash: its processes died with berthd
// (PDEATHSIG); kill any that joined later, then remove the directories.
// Runs at start-up, before the loop, so it may wait.
void Engine::remove_stale_cgroup(const Container& c) {
  if (!cgroups_) return;
  const std::string& parent = c.spec.cgroup_parent.empty() ? opts_.cgroup_parent : c.spec.cgroup_parent;
  auto cg = cgroups_->open(parent, c.id);
  if (!cg) return;  // never made, or already gone
  (void)(*cg)->kill_all();
  auto r = destroy_retrying(**cg);
  if (!r) log::warn("engine", "remove cgroup of id={}: {}", c.id, r.error().message());
}

void Engine::pause(Container& c, Done done) {
  if (c.state.status == Status::kPaused) return done(Error::conflict("Container {} is already paused", c.id));
  if (c.state.status != Status::kRunning || !c.proc || c.proc->exited)
    return done(Error::conflict("Container {} is not running", c.id));
  if (!c.cgroup) return done(Error(Code::kNotSupported, "pause needs the freezer cgroup, which is not available"));
  auto cg = c.cgroup;
  auto res = std::make_shared<Result<void>>(ok());
  std::string id = c.id;
  auto finish = [this, id, res, done] {
    auto it = containers_.find(id);
    if (it == containers_.end()) return done(Error::not_found("No such container: {}", id));
    Container& ct = *it->second;
    if (!*res) return done(std::move(res->error()).context("pause container {}", id));
    if (ct.state.status != Status::kRunning || !ct.proc || ct.proc->exited) {
      if (ct.cgroup) (void)ct.cgroup->thaw();
      return done(Error::conflict("Container {} is not running", id));
    }
    ct.state.status = Status::kPaused;
    log::info("engine", "pause id={}", id);
    emit(ct, "pause");
    persist(ct);
    after_persist(ct, [done] { done(ok()); });
  };
  if (!r_.run_job([cg, res] { *res = cg->freeze(); }, finish))
    done(Error::make(Code::kSystem, "job queue full"));
}

void Engine::unpause(Container& c, Done done) {
  if (c.state.status != Status::kPaused) return done(Error::conflict("Container {} is not paused", c.id));
  if (c.cgroup) {
    auto r = c.cgroup->thaw();
    if (!r) return done(std::move(r.error()).context("unpause container {}", c.id));
  }
  c.state.status = Status::kRunning;
  log::info("engine", "unpause id={}", c.id);
  emit(c, "unpause");
  persist(c);
  after_persist(c, [done] { done(ok()); });
  // An exit that came while frozen (none can: frozen tasks do not run) would
  // have waited for this.
  maybe_finish_exit(c);
}

void Engine::update(Container& c, const cgroups::Resources& r,
                    std::function<void(Result<std::vector<std::string>>)> done) {
  cgroups::Resources next = merged(c.spec.resources, r);
  auto warnings = check_resources(next);
  if (!warnings) return done(std::move(warnings.error()));
  bool live = (c.state.status == Status::kRunning || c.state.status == Status::kPaused) && c.cgroup;
  if (live) {
    auto applied = c.cgroup->set(next);
    if (!applied) return done(std::move(applied.error()).context("Cannot update container {}", c.id));
  }
  c.spec.resources = next;
  emit(c, "update");
  persist(c);
  after_persist(c, [done, w = std::move(*warnings)] { done(w); });
}

uint64_t Engine::watch_stats(Container& c, StatsHub::Sink sink) {
  bool live = (c.state.status == Status::kRunning || c.state.status == Status::kPaused) && c.cgroup;
  if (!live) {
    sink(nullptr);
    return 0;
  }
  return stats_.subscribe(c.id, c.cgroup, std::move(sink));
}

Result<std::vector<pid_t>> Engine::container_pids(Container& c) {
  bool live = c.state.status == Status::kRunning || c.state.status == Status::kPaused;
  if (!live || !c.proc) return Error::conflict("Container {} is not running", c.id);
  if (!c.cgroup) return std::vector<pid_t>{c.proc->pid};
  return c.cgroup->pids();
}

}  // namespace berth::engine
