#include "core/engine/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/ranges.h>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/process.h"
#include "core/engine/state_store.h"

namespace berth::engine {

const char* status_name(Status s) {
  switch (s) {
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kRestarting: return "restarting";
    case Status::kRemoving: return "removing";
    case Status::kExited: return "exited";
    case Status::kDead: return "dead";
  }
  return "dead";
}

Container::Container() = default;
Container::~Container() = default;

Result<std::unique_ptr<Engine>> Engine::open(reactor::Reactor& r, const Options& o) {
  std::unique_ptr<Engine> e(new Engine(r));
  e->opts_ = o;
  BERTH_TRY_VOID(make_dirs(o.root + "/containers", 0700));
  BERTH_TRY_VOID(make_dirs(o.root + "/trash", 0700));
  for (const char* d : {"dev", "proc", "sys"}) BERTH_TRY_VOID(make_dirs(e->init_layer() + "/" + d, 0755));
  e->images_ = BERTH_TRY_CTX(fs::ImageStore::open(o.root + "/image"), "open image store");
  e->volumes_ = BERTH_TRY_CTX(VolumeStore::open(o.root + "/volumes"), "open volume store");
  e->online_cpus_ = std::max(1, int(::sysconf(_SC_NPROCESSORS_ONLN)));
  if (o.cgroups) {
    auto d = cgroups::detect(o.cgroup_detect);
    if (d) {
      e->cgroups_ = std::move(*d);
      log::info("engine", "cgroups v{} controllers={} parent={}", int(e->cgroups_->version()),
                fmt::join(e->cgroups_->controllers(), ","), o.cgroup_parent);
    } else {
      log::warn("engine", "running without cgroups (limits, stats and pause refused): {}",
                d.error().message());
    }
  }
  BERTH_TRY_VOID(e->load_containers());
  if (o.warm_inits > 0) {
    auto sp = Spawner::start();
    if (sp) e->spawner_ = std::move(*sp);
    else log::warn("engine", "no spawner process ({}): warm inits are forked by berthd", sp.error().message());
  }
  e->netns_pool_ = std::make_unique<NetnsPool>(r, o.netns_pool);
  e->netns_pool_->fill();
  // Leftovers of removals interrupted by a crash.
  (void)remove_tree(o.root + "/trash");
  BERTH_TRY_VOID(make_dirs(o.root + "/trash", 0700));
  for (const std::string& id : e->stale_auto_remove_) {
    log::info("engine", "removing AutoRemove container id={} left from before the restart", id);
    e->remove_now(*e->containers_.at(id), [](Result<void>) {});
  }
  e->stale_auto_remove_.clear();
  return e;
}

Engine::~Engine() {
  for (auto& [id, c] : containers_)
    BERTH_ASSERT_MSG(!c->proc, "Engine destroyed with a live container process");
}

Result<void> Engine::load_containers() {
  std::string dir = opts_.root + "/containers";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Error::sys(errno, "open {}", dir);
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
      remove_stale_cgroup(gone);
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
    if (ct.state.status == Status::kRunning || ct.state.status == Status::kPaused ||
        ct.state.status == Status::kRestarting || ct.state.status == Status::kRemoving) {
      // The daemon stops its containers when it exits; one found running was
      // lost in a crash (re-adoption comes with crash survival).
      ct.state.status = Status::kExited;
      ct.state.exit_code = 255;
      ct.state.pid = 0;
      ct.state.error = "container was running when berthd stopped unexpectedly";
      ct.state.finished_ns = now_ns();
      remove_stale_cgroup(ct);
    } else if (ct.state.status == Status::kCreated) {
      remove_stale_cgroup(ct);  // from a warm init it took (warm.h), lost in a crash
    }
    // An AutoRemove container that ran is removed as its exit would have
    // (Docker does the same when it restores): the daemon stopped before it
    // could, or the exit skipped the state write because the removal came
    // next.
    if (ct.spec.auto_remove && ct.state.status == Status::kExited) stale_auto_remove_.push_back(id);
    struct stat st;
    if (::stat(ct.log_path().c_str(), &st) == 0) ct.log_committed = uint64_t(st.st_size);
    if (!ct.name.empty()) names_[ct.name] = id;
    track_volumes(ct);
    containers_[id] = std::move(*c);
  }
  ::closedir(d);
  log::info("engine", "loaded {} containers", containers_.size());
  return ok();
}

Result<Container*> Engine::find(std::string_view ref) {
  if (ref.empty()) return Error::not_found("No such container: ");
  if (auto it = containers_.find(std::string(ref)); it != containers_.end()) return it->second.get();
  std::string_view name = ref[0] == '/' ? ref.substr(1) : ref;
  if (auto it = names_.find(std::string(name)); it != names_.end()) return containers_.at(it->second).get();
  if (is_hex(ref)) {
    Container* found = nullptr;
    for (auto it = containers_.lower_bound(std::string(ref)); it != containers_.end(); ++it) {
      if (!starts_with(it->first, ref)) break;
      if (found) return Error::invalid("multiple IDs found with provided prefix: {}", ref);
      found = it->second.get();
    }
    if (found) return found;
  }
  return Error::not_found("No such container: {}", ref);
}

int Engine::count(Status s) const {
  int n = 0;
  for (auto& [id, c] : containers_) n += c->state.status == s;
  return n;
}

void Engine::persist(Container& c) {
  if (c.persist_in_flight) {
    c.persist_dirty = true;
    return;
  }
  c.persist_in_flight = true;
  c.persist_dirty = false;
  std::string path = c.dir + "/" + kStateFile;
  auto data = std::make_shared<std::string>(encode_container(c));
  auto result = std::make_shared<Result<void>>(ok());
  Container* cp = &c;
  bool queued = r_.run_job([path, data, result] { *result = write_file_atomic(path, *data, 0600, false); },
                           [this, cp, result] {
                             cp->persist_in_flight = false;
                             if (!*result)
                               log::error("engine", "persist container id={}: {}", cp->id,
                                          result->error().message());
                             if (cp->persist_dirty) return persist(*cp);
                             auto fns = std::move(cp->after_persist);
                             cp->after_persist.clear();
                             for (auto& fn : fns) fn();
                             check_shutdown();
                           });
  if (!queued) {
    // The job queue is full: write inline rather than lose the state.
    c.persist_in_flight = false;
    auto r = write_file_atomic(path, *data, 0600, false);
    if (!r) log::error("engine", "persist container id={}: {}", c.id, r.error().message());
  }
}

void Engine::after_persist(Container& c, std::function<void()> fn) {
  if (!c.persist_in_flight) return fn();
  c.after_persist.push_back(std::move(fn));
}

void Engine::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  warm_drop_all();
  for (auto& [id, c] : containers_) {
    if (!c->proc || c->proc->exited) continue;
    (void)runtime::kill(c->proc->pidfd.get(), SIGKILL);
    if (c->state.status == Status::kPaused) {
      if (c->cgroup) (void)c->cgroup->thaw();  // a frozen task dies only once thawed
      c->state.status = Status::kRunning;
    }
  }
  check_shutdown();
}

void Engine::check_shutdown() {
  if (!shutdown_done_) return;
  for (auto& [id, c] : containers_)
    if (c->proc || c->persist_in_flight) return;
  for (auto& [id, e] : execs_)
    if (e->running || !e->idle()) return;
  if (warm_busy()) return;
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

bool valid_name(std::string_view n) {
  // Docker's pattern needs two characters; one is accepted here, since
  // `docker run --name x` is what users type.
  if (n.empty() || n.size() > 253) return false;
  auto alnum = [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'); };
  if (!alnum(n[0])) return false;
  for (char ch : n.substr(1))
    if (!alnum(ch) && ch != '_' && ch != '.' && ch != '-') return false;
  return true;
}

std::string generate_name(uint64_t seed) {
  static const char* const kLeft[] = {"amber", "brave", "calm", "deft", "eager", "fond", "gentle",
                                      "happy", "keen", "lucid", "merry", "nimble", "proud", "quiet",
                                      "rapid", "steady", "tidy", "vivid", "witty", "zesty"};
  static const char* const kRight[] = {"anchor", "buoy", "cargo", "dock", "ferry", "galley", "harbor",
                                       "jetty", "keel", "lighter", "mooring", "pier", "quay", "rudder",
                                       "schooner", "tug", "wharf", "yawl", "hull", "mast"};
  constexpr size_t nl = sizeof kLeft / sizeof *kLeft, nr = sizeof kRight / sizeof *kRight;
  return fmt::format("{}_{}", kLeft[seed % nl], kRight[(seed / nl) % nr]);
}

}  // namespace berth::engine
