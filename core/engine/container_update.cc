// update: new limits for a container, validated, written to its running
// cgroup on the job lane, then persisted.
#include "core/engine/engine.h"
#include "core/engine/resources.h"

namespace berth::engine {

namespace {

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

void Engine::update(Container& c, const cgroups::Resources& r, std::optional<RestartPolicy> restart,
                    DoneWith<std::vector<std::string>> done) {
  if (auto ok_ = can(Verb::kUpdate, c.state.status, c.id); !ok_) return done(std::move(ok_.error()));
  if (restart && !restart->none() && c.spec.auto_remove)
    return done(Error::invalid("Restart policy cannot be updated because AutoRemove is enabled for the container"));
  cgroups::Resources next = merged(c.spec.resources, r);
  auto warnings = resources_->check(next);
  if (!warnings) return done(std::move(warnings.error()));
  auto commit = [this, id = c.id, next, restart, done, w = std::move(*warnings)](Result<void> applied) {
    Container* ct = by_id(id);
    if (!ct) return done(Error::not_found("No such container: {}", id));
    if (!applied) return done(std::move(applied.error()).context("Cannot update container {}", id));
    ct->spec.resources = next;
    // The next exit follows the new policy (a restart already waiting keeps
    // its timer, as Docker's does).
    if (restart) ct->spec.restart = *restart;
    emit(*ct, "update");
    persist(*ct);
    when_persisted(*ct, [this, id, done, w] {
      if (auto s = unsaved(id, "update"); !s) return done(std::move(s.error()));
      done(w);
    });
  };
  if (!is_running(c.state.status) || !c.cgroup) return commit(ok());
  auto cg = c.cgroup;
  auto res = std::make_shared<Result<void>>(ok());
  if (!r_.run_job([cg, next, res] { *res = cg->set(next); }, [res, commit] { commit(std::move(*res)); }))
    done(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
}

}  // namespace berth::engine
