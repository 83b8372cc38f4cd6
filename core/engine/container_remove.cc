// rm: refuse a running container unless forced; otherwise rename its
// directory into the trash and delete it on the job pool, then forget it.
#include <cstdio>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/engine/process.h"

namespace berth::engine {

void Engine::remove(Container& c, bool force, Done done) {
  if (c.state.status == Status::kRemoving)
    return done(Error::conflict("removal of container {} is already in progress", c.id));
  bool running = c.state.status == Status::kRunning || c.state.status == Status::kPaused;
  if (running && !force)
    return done(Error::conflict(
        "You cannot remove a running container {}. Stop the container before attempting removal or "
        "force remove",
        c.id));
  if (running || c.proc) {
    std::string id = c.id;
    stop(c, 0, SIGKILL, [this, id, done = std::move(done)](Result<void>) mutable {
      auto it = containers_.find(id);
      if (it == containers_.end()) return done(ok());  // AutoRemove got there first
      Container& ct = *it->second;
      if (ct.state.status == Status::kRemoving) {
        ct.waiters.push_back({next_token_++, WaitCondition::kRemoved,
                              [done](int, const std::string&) { done(ok()); }});
        return;
      }
      remove_now(ct, std::move(done));
    });
    return;
  }
  remove_now(c, std::move(done));
}

void Engine::remove_now(Container& c, Done done) {
  c.state.status = Status::kRemoving;
  names_.erase(c.name);
  std::string id = c.id;
  after_persist(c, [this, id, done = std::move(done)]() mutable {
    Container& ct = *containers_.at(id);
    std::string trash = opts_.root + "/trash/" + id;
    auto result = std::make_shared<Result<void>>(ok());
    if (::rename(ct.dir.c_str(), trash.c_str()) < 0) {
      *result = Error::sys(errno, "rename {} to trash", ct.dir);
      trash = ct.dir;
    }
    auto finish = [this, id, result, done = std::move(done)] {
      auto it = containers_.find(id);
      if (!*result) log::error("engine", "remove container id={}: {}", id, result->error().message());
      log::info("engine", "destroy id={}", id);
      Container& ct = *it->second;
      fire_waiters(ct, true);
      containers_.erase(it);
      done(ok());
      check_shutdown();
    };
    bool queued = r_.run_job([trash, result] {
      auto r = remove_tree(trash);
      if (!r && *result) *result = std::move(r);
    }, finish);
    if (!queued) finish();
  });
}

}  // namespace berth::engine
