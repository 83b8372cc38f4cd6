// pause and unpause: the container's freezer cgroup, written on the job
// lane (a v1 freeze waits until every task is frozen).
#include "core/base/log.h"
#include "core/engine/engine.h"
#include "core/engine/process.h"

namespace berth::engine {

namespace {

// Runs `op` on the container's cgroup on the job lane; `then` gets its
// result on the reactor thread with the container, if it still exists.
void on_cgroup(reactor::Reactor& r, std::shared_ptr<cgroups::Cgroup> cg, Result<void> (cgroups::Cgroup::*op)(),
               std::function<void(Result<void>)> then) {
  auto res = std::make_shared<Result<void>>(ok());
  if (!r.run_job([cg, res, op] { *res = ((*cg).*op)(); }, [res, then] { then(std::move(*res)); }))
    then(Error(Code::kSystem, "berthd is too busy (job backlog full); try again"));
}

}  // namespace

void Engine::pause(Container& c, Done done) {
  if (auto ok_ = can(Verb::kPause, c.state.status, c.id); !ok_) return done(std::move(ok_));
  if (!c.proc || c.proc->exited) return done(Error::conflict("Container {} is not running", c.id));
  if (!c.cgroup) return done(Error(Code::kNotSupported, "pause needs the freezer cgroup, which is not available"));
  on_cgroup(r_, c.cgroup, &cgroups::Cgroup::freeze, [this, id = c.id, done](Result<void> r) {
    Container* ct = by_id(id);
    if (!ct) return done(Error::not_found("No such container: {}", id));
    if (!r) return done(std::move(r.error()).context("pause container {}", id));
    if (ct->state.status != Status::kRunning || !ct->proc || ct->proc->exited) {
      if (ct->cgroup) on_cgroup(r_, ct->cgroup, &cgroups::Cgroup::thaw, [](Result<void>) {});
      return done(Error::conflict("Container {} is not running", id));
    }
    ct->state.status = Status::kPaused;
    log::info("engine", "pause id={}", id);
    emit(*ct, "pause");
    persist(*ct);
    when_persisted(*ct, [this, id, done] { done(unsaved(id, "pause")); });
  });
}

void Engine::unpause(Container& c, Done done) {
  if (auto ok_ = can(Verb::kUnpause, c.state.status, c.id); !ok_) return done(std::move(ok_));
  auto thawed = [this, id = c.id, done](Result<void> r) {
    Container* ct = by_id(id);
    if (!ct) return done(Error::not_found("No such container: {}", id));
    if (!r) return done(std::move(r.error()).context("unpause container {}", id));
    if (ct->state.status != Status::kPaused) return done(Error::conflict("Container {} is not paused", id));
    ct->state.status = Status::kRunning;
    log::info("engine", "unpause id={}", id);
    emit(*ct, "unpause");
    persist(*ct);
    when_persisted(*ct, [this, id, done] { done(unsaved(id, "unpause")); });
    // An exit that came while frozen (none can: frozen tasks do not run)
    // would have waited for this.
    maybe_finish_exit(*ct);
  };
  if (!c.cgroup) return thawed(ok());
  on_cgroup(r_, c.cgroup, &cgroups::Cgroup::thaw, std::move(thawed));
}

}  // namespace berth::engine
