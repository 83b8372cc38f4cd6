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

#include <algorithm>
#include <atomic>
#include <optional>
#include <system_error>
#include <thread>

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

namespace {

// One container directory's state file, read and decoded.
struct StateRead {
  std::unique_ptr<Container> c;   // decoded; else error says why
  std::optional<Error> error;
  bool absent = false;            // no state file
  bool bad = false;               // read, but not a state
};

StateRead read_state(const std::string& cdir) {
  StateRead out;
  auto text = read_file(cdir + "/" + kStateFile);
  if (!text) {
    out.absent = text.error().sys_errno() == ENOENT;
    out.error = std::move(text.error());
    return out;
  }
  auto c = decode_container(*text);
  if (c) {
    out.c = std::move(*c);
  } else {
    out.bad = true;
    out.error = std::move(c.error());
  }
  return out;
}

// Reading and decoding the state files (the JSON) is most of a start's own
// work with thousands of containers, and each is independent of the
// others: they are read on every core (at most 4 threads), before the
// containers are taken in, in order, on this thread.
std::vector<StateRead> read_states(const std::string& dir, const std::vector<std::string>& ids) {
  std::vector<StateRead> out(ids.size());
  constexpr size_t kPerThread = 256, kBatch = 32;
  size_t threads = std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 4,
                                     (ids.size() + kPerThread - 1) / kPerThread});
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t begin; (begin = next.fetch_add(kBatch)) < ids.size();)
      for (size_t i = begin; i < std::min(begin + kBatch, ids.size()); i++) out[i] = read_state(dir + "/" + ids[i]);
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; t++) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error& e) {   // no thread: fewer hands, same result
      log::warn("engine", "read container states on fewer threads: {}", e.what());
      break;
    }
  }
  work();
  for (std::thread& t : helpers) t.join();
  return out;
}

}  // namespace

Result<void> Engine::load_containers() {
  std::string dir = opts_.containers_dir();
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Error::sys(errno, "open {}", dir);
  std::vector<std::string> ids;
  while (dirent* ent = ::readdir(d)) {
    std::string id = ent->d_name;
    if (id.size() == 64 && is_hex(id)) ids.push_back(std::move(id));
  }
  ::closedir(d);
  std::vector<StateRead> states = read_states(dir, ids);
  std::vector<std::string> dirty;   // states changed here, written once the loop runs
  for (size_t i = 0; i < ids.size(); i++) {
    const std::string& id = ids[i];
    std::string cdir = dir + "/" + id;
    StateRead& read = states[i];
    struct stat marker;
    if (read.absent && ::stat((cdir + "/" + kWarmMarker).c_str(), &marker) == 0) {
      // Never a container: a warm init's directory (warm.h) from before a
      // crash. Its cgroup, if any, goes too.
      log::info("engine", "removing {}, a warm init left by a crash", cdir);
      Container gone;
      gone.id = id;
      resources_->remove_stale(gone);
      if (auto r = remove_tree(cdir); !r) log::warn("engine", "remove {}: {}", cdir, r.error().message());
      continue;
    }
    if (!read.c) {
      log::warn("engine", "skip container {} id={}: {}", read.bad ? "with bad state" : "without state", id,
                read.error ? read.error->message() : "no state");
      continue;
    }
    std::unique_ptr<Container> c = std::move(read.c);
    Container& ct = *c;
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
    containers_[id] = std::move(c);
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
  resources_->remove_strays();
  resources_->end_reopen();
  for (const std::string& id : dirty) persist(*containers_.at(id));
  log::info("engine", "loaded {} containers", containers_.size());
  return ok();
}

}  // namespace berth::engine
