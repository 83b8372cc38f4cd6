// Containers reloaded at daemon start from their state files. One found
// running is asked of the keeper (runtime/keeper.h, Engine::open_keeper):
// still alive there, it is re-adopted (container_keeper.cc); exited while
// berthd was down, its real exit code and time are recorded; unknown to
// the keeper (none survived: a reboot, or the keeper died too), it was lost
// and is recorded as exited (255), its cgroup removed. A warm init's
// directory left by a crash (warm.h: a marker, no state) goes.
// Runs before the loop: it may block.
#include <dirent.h>
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/container_security.h"
#include "core/engine/engine.h"
#include "core/engine/resources.h"
#include "core/engine/state_store.h"
#include "core/engine/volumes.h"
#include "core/engine/warm.h"
#include "core/runtime/security.h"

namespace berth::engine {

Result<void> Engine::load_containers() {
  std::string dir = opts_.containers_dir();
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Error::sys(errno, "open {}", dir);
  std::vector<std::string> dirty;   // states changed here, written once the loop runs
  while (dirent* ent = ::readdir(d)) {
    std::string id = ent->d_name;
    if (id.size() != 64 || !is_hex(id)) continue;
    std::string cdir = dir + "/" + id;
    auto text = read_file(cdir + "/" + kStateFile);
    struct stat marker;
    if (!text && text.error().sys_errno() == ENOENT && ::stat((cdir + "/" + kWarmMarker).c_str(), &marker) == 0) {
      // Never a container: a warm init's directory (warm.h) from before a
      // crash. Its cgroup, if any, goes too.
      log::info("engine", "removing {}, a warm init left by a crash", cdir);
      Container gone;
      gone.id = id;
      resources_->remove_stale(gone);
      if (auto r = remove_tree(cdir); !r) log::warn("engine", "remove {}: {}", cdir, r.error().message());
      continue;
    }
    if (!text) {
      log::warn("engine", "skip container without state id={}: {}", id, text.error().message());
      continue;
    }
    auto c = decode_container(*text);
    if (!c) {
      log::warn("engine", "skip container with bad state id={}: {}", id, c.error().message());
      continue;
    }
    Container& ct = **c;
    ct.dir = cdir;
    auto kept = kept_.find(id);
    bool running = is_running(ct.state.status) || ct.state.status == Status::kRestarting ||
                   ct.state.status == Status::kRemoving;
    bool readopt_it = false;
    if (running && kept != kept_.end() && kept->second.pid == ct.state.pid && kept->second.exited) {
      // It ended while berthd was away: the keeper saw how and when.
      log::info("engine", "id={} exited while berthd was down: exit_code={}", id, kept->second.exit_code);
      ct.state.status = Status::kExited;
      ct.state.exit_code = kept->second.exit_code;
      ct.state.pid = 0;
      ct.state.finished_ns = kept->second.exit_ns;
      if (spawner_) (void)spawner_->release(kept->second.pid);
      resources_->remove_stale(ct);
      dirty.push_back(id);
    } else if (running && kept != kept_.end() && kept->second.pid == ct.state.pid) {
      readopt_it = true;
    } else if (running) {
      // Nothing kept it: a reboot, or the keeper died with berthd.
      ct.state.status = Status::kExited;
      ct.state.exit_code = 255;
      ct.state.pid = 0;
      ct.state.error = "container was running when berthd stopped unexpectedly";
      ct.state.finished_ns = now_ns();
      resources_->remove_stale(ct);
      dirty.push_back(id);
    } else if (ct.state.status == Status::kCreated) {
      resources_->remove_stale(ct);  // from a warm init it took (warm.h), lost in a crash
    }
    if (ct.spec.security.ipc.kind == NamespaceMode::Kind::kShareable && !readopt_it) {
      // Its /dev/shm outlived a crash (stopped containers have none; one
      // re-adopted still uses it).
      if (auto r = runtime::remove_shm(shm_dir_of(ct)); !r) log::warn("engine", "id={}: {}", id, r.error().message());
    }
    struct stat st;
    if (::stat(ct.log_path().c_str(), &st) == 0) ct.log_committed = uint64_t(st.st_size);
    if (!ct.name.empty()) names_[ct.name] = id;
    volumes_->track(ct);
    containers_[id] = std::move(*c);
    if (readopt_it && !readopt(ct, kept->second)) {
      ct.state.status = Status::kExited;
      ct.state.exit_code = 255;
      ct.state.pid = 0;
      ct.state.error = "container was running when berthd stopped unexpectedly, and could not be re-adopted";
      ct.state.finished_ns = now_ns();
      resources_->remove_stale(ct);
      dirty.push_back(id);
    }
  }
  ::closedir(d);
  resources_->end_reopen();
  for (const std::string& id : dirty) persist(*containers_.at(id));
  log::info("engine", "loaded {} containers", containers_.size());
  return ok();
}

}  // namespace berth::engine
