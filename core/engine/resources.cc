// Resources (resources.h): cgroups of containers.
#include "core/engine/resources.h"

#include <poll.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/engine/devices.h"
#include "core/engine/engine.h"
#include "core/engine/process.h"

namespace berth::engine {

Resources::Resources(Engine& e, std::shared_ptr<cgroups::Driver> driver)
    : e_(e), driver_(std::move(driver)), stats_(e.r_) {
  online_cpus_ = std::max(1, int(::sysconf(_SC_NPROCESSORS_ONLN)));
}

Result<std::vector<std::string>> Resources::check(const cgroups::Resources& r) const {
  std::vector<std::string> warnings;
  if (r.empty()) return warnings;
  if (!driver_)
    return Error(Code::kNotSupported, "resource limits need cgroups, which berthd runs without on this host");
  BERTH_TRY_VOID(cgroups::validate(r, online_cpus_));
  return warnings;
}

const std::string& Resources::parent_of(const Container& c) const {
  return c.spec.cgroup_parent.empty() ? e_.opts_.cgroup_parent : c.spec.cgroup_parent;
}

Result<std::shared_ptr<cgroups::Cgroup>> Resources::make(cgroups::Driver& d, const std::string& parent,
                                                         const std::string& id, const cgroups::Resources& limits,
                                                         const runtime::Security& security,
                                                         const std::vector<cgroups::DeviceRule>& device_rules) {
  std::shared_ptr<cgroups::Cgroup> cg = BERTH_TRY_CTX(d.create(parent, id), "create cgroup");
  auto r = apply(*cg, id, limits);
  if (r) {
    auto devices = apply_device_rules(*cg, security, device_rules);
    if (!devices) r = std::move(devices.error()).context("set the device allowlist");
    else if (!*devices) log::warn("engine", "id={}: no devices cgroup controller: device access is not limited", id);
  }
  if (!r) {
    (void)cg->destroy();
    return std::move(r.error());
  }
  return cg;
}

Result<void> Resources::apply(cgroups::Cgroup& cg, const std::string& id, const cgroups::Resources& limits) {
  if (limits.empty()) return ok();
  auto r = cg.set(limits);
  if (!r && r.error().code() == Code::kNotSupported && limits.memory_swap) {
    // No swap accounting on this host: Docker warns and limits memory
    // without swap; so does berth (the default MemorySwap is 2 x Memory).
    log::warn("engine", "id={}: {}; memory limited without swap", id, r.error().message());
    cgroups::Resources no_swap = limits;
    no_swap.memory_swap.reset();
    r = cg.set(no_swap);
  }
  if (!r) return std::move(r.error()).context("apply resource limits");
  return ok();
}

bool Resources::wants_oom_watch(const cgroups::Resources& limits) {
  return limits.memory && *limits.memory > 0;
}

void Resources::watch_oom(Container& c) {
  Process& p = *c.proc;
  if (!p.oom_fd) return;
  Container* cp = &c;
  p.oom_c.set_callback([this, cp](int32_t res, uint32_t) { oom_ready(*cp, res); });
  e_.r_.poll(p.oom_fd.get(), POLLIN, p.oom_c);
}

void Resources::oom_ready(Container& c, int32_t res) {
  Process& p = *c.proc;
  if (res == -ECANCELED || p.exited) return e_.maybe_finish_exit(c);
  char buf[512];
  while (::read(p.oom_fd.get(), buf, sizeof buf) > 0) {  // eventfd or inotify: O_NONBLOCK
  }
  // The notification also fires when the limit is hit and reclaim copes; only
  // a grown oom_kill counter is an OOM kill.
  read_oom(c, false);
  watch_oom(c);
}

void Resources::read_oom(Container& c, bool final) {
  Process& p = *c.proc;
  if (p.oom_reading || !c.cgroup) {
    if (final && !c.cgroup) p.oom_final = true;
    return;
  }
  p.oom_reading = true;
  auto cg = c.cgroup;
  auto kills = std::make_shared<Result<uint64_t>>(uint64_t(0));
  bool queued = e_.r_.run_job([cg, kills] { *kills = cg->oom_kills(); }, [this, id = c.id, kills, final] {
    Container* ct = e_.by_id(id);
    if (!ct || !ct->proc) return;
    Process& pr = *ct->proc;
    pr.oom_reading = false;
    if (*kills && **kills > pr.oom_seen) {
      pr.oom_seen = **kills;
      ct->state.oom_killed = true;
      log::info("engine", "oom id={} kills={}", id, **kills);
      e_.emit(*ct, "oom");
    }
    if (final) pr.oom_final = true;
    e_.maybe_finish_exit(*ct);
  });
  if (!queued) {
    p.oom_reading = false;
    if (final) p.oom_final = true;
  }
}

bool Resources::oom_settled(Container& c) {
  Process& p = *c.proc;
  if (!p.oom_fd || p.oom_final) return true;
  read_oom(c, true);
  return p.oom_final;
}

void Resources::release(Container& c, bool removal_follows) {
  if (!c.cgroup) return;
  stats_.container_stopped(c.id);
  std::shared_ptr<cgroups::Cgroup> cg = std::move(c.cgroup);
  c.cgroup.reset();
  // Off the loop (an rmdir of a cgroup waits for the kernel to let go of
  // it), retried while a task is not yet fully gone. A start meanwhile (a
  // restart) waits for it: its new cgroup has the same path, which these
  // rmdirs must not take away (container_start.cc). When the container is
  // about to be removed (AutoRemove), nothing waits.
  (void)removal_follows;
  auto res = std::make_shared<Result<void>>(ok());
  std::string id = c.id;
  c.start_gates++;
  bool queued = e_.r_.run_job([cg, res] { *res = destroy_retrying(*cg); }, [this, id, res] {
    if (!*res) log::warn("engine", "remove cgroup of id={}: {}", id, res->error().message());
    e_.start_gate_done(id);
  });
  if (!queued) {
    log::error("engine", "remove cgroup of id={}: the job backlog is full; it stays until berthd restarts", id);
    e_.start_gate_done(id);
  }
}

// Its processes died with berthd (PDEATHSIG); any that joined later are
// killed, then the directories go. Runs before the loop, so it may wait.
void Resources::remove_stale(const Container& c) {
  if (!driver_) return;
  auto cg = driver_->open(parent_of(c), c.id);
  if (!cg) return;  // never made, or already gone
  (void)(*cg)->kill_all();
  auto r = destroy_retrying(**cg);
  if (!r) log::warn("engine", "remove cgroup of id={}: {}", c.id, r.error().message());
}

std::map<std::string, std::unique_ptr<cgroups::Cgroup>>& Resources::listed(const std::string& parent) {
  auto it = reopened_.find(parent);
  if (it == reopened_.end()) {
    auto all = driver_->open_all(parent);
    if (!all) log::warn("engine", "list the cgroups of {}: {}; each is opened on its own", parent, all.error().message());
    it = reopened_.emplace(parent, all ? std::move(*all) : std::map<std::string, std::unique_ptr<cgroups::Cgroup>>{}).first;
  }
  return it->second;
}

std::shared_ptr<cgroups::Cgroup> Resources::reopen(const Container& c) {
  if (!driver_) return nullptr;
  const std::string& parent = parent_of(c);
  auto& all = listed(parent);
  if (auto found = all.find(c.id); found != all.end()) {
    std::shared_ptr<cgroups::Cgroup> cg = std::move(found->second);
    all.erase(found);
    return cg;
  }
  auto cg = driver_->open(parent, c.id);   // not listed (or no listing): as before
  if (!cg) return nullptr;
  return std::shared_ptr<cgroups::Cgroup>(std::move(*cg));
}

void Resources::remove_strays() {
  if (!driver_) return;
  const std::string& parent = e_.opts_.cgroup_parent;
  // What the re-adoptions left of the listing (or a listing of its own).
  for (auto& [name, cg] : listed(parent)) {
    if (name.empty() || name[0] == '.' || e_.by_id(name)) continue;   // '.': memory cgroups kept for reuse
    auto r = cg->destroy();
    if (r) log::info("engine", "removed cgroup {} of {}, which no container has (left by a crash)", name, parent);
    else log::warn("engine", "cgroup {} of {} belongs to no container and stays: {}", name, parent, r.error().message());
  }
}

uint64_t Resources::watch_stats(Container& c, StatsHub::Sink sink) {
  if (!is_running(c.state.status) || !c.cgroup) {
    sink(nullptr);
    return 0;
  }
  return stats_.subscribe(c.id, c.cgroup, std::move(sink));
}

Result<std::vector<pid_t>> Resources::pids(Container& c) {
  BERTH_TRY_VOID(can(Verb::kTop, c.state.status, c.id));
  if (!c.proc) return Error::conflict("Container {} is not running", c.id);
  if (!c.cgroup) return std::vector<pid_t>{c.proc->pid};
  return c.cgroup->pids();
}

}  // namespace berth::engine
