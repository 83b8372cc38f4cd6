// rm: refuse a running container unless forced; otherwise rename its
// directory into the trash, forget the container (it is gone from the API
// from then on), and delete the files on the job pool in the background.
#include <cstdio>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/engine/process.h"

namespace berth::engine {

void Engine::remove(Container& c, bool force, Done done, bool remove_volumes) {
  if (c.state.status == Status::kRemoving)
    return done(Error::conflict("removal of container {} is already in progress", c.id));
  bool running = c.state.status == Status::kRunning || c.state.status == Status::kPaused;
  if (running && !force)
    return done(Error::conflict(
        "You cannot remove a running container {}. Stop the container before attempting removal or "
        "force remove",
        c.id));
  if (c.state.status == Status::kPaused) {
    // Docker's rm -f takes a paused container down too: kill, then thaw so
    // the frozen tasks can die.
    if (c.proc && !c.proc->exited) (void)runtime::kill(c.proc->pidfd.get(), SIGKILL);
    if (c.cgroup) (void)c.cgroup->thaw();
    c.state.status = Status::kRunning;
  }
  if (running || c.proc) {
    std::string id = c.id;
    stop(c, 0, SIGKILL, [this, id, done = std::move(done), remove_volumes](Result<void>) mutable {
      auto it = containers_.find(id);
      if (it == containers_.end()) return done(ok());  // AutoRemove got there first
      Container& ct = *it->second;
      if (ct.state.status == Status::kRemoving) {
        ct.waiters.push_back({next_token_++, WaitCondition::kRemoved,
                              [done](int, const std::string&) { done(ok()); }});
        return;
      }
      remove_now(ct, std::move(done), remove_volumes);
    });
    return;
  }
  remove_now(c, std::move(done), remove_volumes);
}

void Engine::remove_now(Container& c, Done done, bool remove_volumes) {
  c.state.status = Status::kRemoving;
  names_.erase(c.name);
  std::string id = c.id;
  if (c.warm) {
    // Created from a warm init, never started: the init dies first (its
    // overlay is on this container's directories), then its cgroup goes.
    warm_drop(std::move(c.warm), [this, id, done = std::move(done), remove_volumes]() mutable {
      auto it = containers_.find(id);
      if (it == containers_.end()) return done(ok());
      remove_now(*it->second, std::move(done), remove_volumes);
    });
    return;
  }
  if (c.proc) {
    // The exited process's last operations (a log index write, a cancelled
    // OOM poll) are still in flight: its objects must outlive them.
    c.after_drop.push_back([this, id, done = std::move(done), remove_volumes]() mutable {
      auto it = containers_.find(id);
      if (it == containers_.end()) return done(ok());
      remove_now(*it->second, std::move(done), remove_volumes);
    });
    return;
  }
  // The last state write must land before the directory moves.
  after_persist(c, [this, id, done = std::move(done), remove_volumes]() mutable {
    auto it = containers_.find(id);
    Container& ct = *it->second;
    // A unique trash name: a container id can be reused only after its
    // files are gone, but a failed deletion must not block the next one.
    std::string trash = opts_.root + "/trash/" + id + "." + std::to_string(next_token_++);
    if (::rename(ct.dir.c_str(), trash.c_str()) < 0) {
      log::error("engine", "remove container id={}: rename {} to trash: {}", id, ct.dir, std::strerror(errno));
      trash = ct.dir;
    }
    log::info("engine", "destroy id={}", id);
    emit(ct, "destroy");
    fire_waiters(ct, true);
    forget_execs(ct);
    // Docker's AutoRemove removes anonymous volumes too (rm -v).
    release_volumes(ct, remove_volumes || ct.spec.auto_remove);
    // The exited init's mount namespace (AutoRemove): unmounted here, off
    // the loop, before its directories go.
    auto mntns = std::make_shared<unique_fd>(std::move(ct.held_mntns));
    containers_.erase(it);
    done(ok());
    bool queued = r_.run_job(
        [trash, mntns] {
          mntns->reset();
          auto r = remove_tree(trash);
          if (!r) log::error("engine", "delete {}: {}", trash, r.error().message());
        },
        [] {});
    if (!queued) log::warn("engine", "job queue full: {} stays in the trash until restart", trash);
    check_shutdown();
  });
}

}  // namespace berth::engine
