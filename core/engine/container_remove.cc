// rm: refuse a running container unless forced; otherwise forget the
// container (it is gone from the API from then on), and move its directory
// into the trash and delete it on the job lane, answering once it is gone.
#include <cstdio>
#include <cstring>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/engine/container_security.h"
#include "core/engine/exec.h"
#include "core/engine/process.h"
#include "core/engine/volumes.h"
#include "core/engine/warm.h"
#include "core/runtime/security.h"

namespace berth::engine {

void Engine::remove(Container& c, bool force, Done done, bool remove_volumes) {
  if (auto ok_ = can(force ? Verb::kForceRemove : Verb::kRemove, c.state.status, c.id); !ok_)
    return done(std::move(ok_));
  if (c.starting) {
    // Its spawn is under way on the job lane: decide once it has ended.
    c.after_start.push_back([this, id = c.id, force, done = std::move(done), remove_volumes]() mutable {
      Container* ct = by_id(id);
      if (!ct) return done(ok());
      remove(*ct, force, std::move(done), remove_volumes);
    });
    return;
  }
  bool running = is_running(c.state.status);
  if (c.state.status == Status::kPaused) {
    // Docker's rm -f takes a paused container down too: kill, then thaw so
    // the frozen tasks can die (a thaw is one write; the kill needs it now).
    if (c.proc && !c.proc->exited) (void)signal_process(*c.proc, SIGKILL);
    if (c.cgroup) (void)c.cgroup->thaw();
    c.state.status = Status::kRunning;
  }
  if (running || c.proc) {
    std::string id = c.id;
    stop(c, 0, SIGKILL, [this, id, done = std::move(done), remove_volumes](Result<void>) mutable {
      Container* ct = by_id(id);
      if (!ct) return done(ok());  // AutoRemove got there first
      if (ct->state.status == Status::kRemoving) {
        ct->waiters.push_back({token(), WaitCondition::kRemoved, [done](int, const std::string&) { done(ok()); }});
        return;
      }
      remove_now(*ct, std::move(done), remove_volumes);
    });
    return;
  }
  remove_now(c, std::move(done), remove_volumes);
}

void Engine::remove_now(Container& c, Done done, bool remove_volumes) {
  cancel_restart(c);
  health_stopped(c);
  c.state.status = Status::kRemoving;
  names_.erase(c.name);
  std::string id = c.id;
  auto again = [this, id, remove_volumes](Done& done) {
    return [this, id, done = std::move(done), remove_volumes]() mutable {
      Container* ct = by_id(id);
      if (!ct) return done(ok());
      remove_now(*ct, std::move(done), remove_volumes);
    };
  };
  if (c.warm) {
    // Created from a warm init, never started: the init dies first (its
    // overlay is on this container's directories), then its cgroup goes.
    warm_->drop(std::move(c.warm), again(done));
    return;
  }
  if (c.proc) {
    // The exited process's last operations (a log index write, a cancelled
    // OOM poll) are still in flight: its objects must outlive them.
    c.after_drop.push_back(again(done));
    return;
  }
  if (c.persist_in_flight) {
    // The last state write must land before the directory moves.
    c.after_persist.push_back(again(done));
    return;
  }
  log::info("engine", "destroy id={}", id);
  emit(c, "destroy");
  fire_waiters(c, true);
  execs_->forget(c);
  // Docker's AutoRemove removes anonymous volumes too (rm -v).
  volumes_->release(c, remove_volumes || c.spec.auto_remove);
  // A unique trash name: a container id can be reused only after its files
  // are gone, but a failed deletion must not block the next one.
  std::string dir = c.dir;
  std::string trash = opts_.trash_dir() + "/" + id + "." + std::to_string(token());
  // The exited init's mount namespace (AutoRemove): unmounted in the job,
  // off the loop, before its directories go.
  auto mntns = std::make_shared<unique_fd>(std::move(c.held_mntns));
  // --ipc shareable: its /dev/shm, if still mounted, before the files go.
  std::string shm = c.spec.security.ipc.kind == NamespaceMode::Kind::kShareable ? shm_dir_of(c) : "";
  containers_.erase(id);
  // The answer comes once the files are gone, as Docker's does: space a
  // removal frees (a full disk) is free when rm returns. The name and the
  // id are free already.
  auto answered = std::make_shared<Done>(std::move(done));
  bool queued = r_.run_job(
      [dir, trash, mntns, shm] {
        mntns->reset();
        if (!shm.empty())
          if (auto r = runtime::remove_shm(shm); !r) log::error("engine", "remove container: {}", r.error().message());
        std::string victim = trash;
        if (::rename(dir.c_str(), trash.c_str()) < 0) {
          log::error("engine", "remove container: rename {} to the trash: {}", dir, std::strerror(errno));
          victim = dir;
        }
        auto r = remove_tree(victim);
        if (!r) log::error("engine", "delete {}: {}", victim, r.error().message());
      },
      [this, answered] {
        (*answered)(ok());
        check_shutdown();
      });
  if (!queued) {
    log::error("engine", "remove container id={}: the job backlog is full; {} stays until restart", id, dir);
    (*answered)(ok());
  }
  check_shutdown();
}

}  // namespace berth::engine
