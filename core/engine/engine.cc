// Engine (engine.h): open, the container table, persistence, shutdown.
#include "core/engine/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/ranges.h>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/exec.h"
#include "core/engine/files.h"
#include "core/engine/images.h"
#include "core/engine/io.h"
#include "core/engine/keeper_link.h"
#include "core/engine/networks.h"
#include "core/engine/process.h"
#include "core/engine/resources.h"
#include "core/engine/state_store.h"
#include "core/engine/volumes.h"
#include "core/engine/warm.h"
#include "core/runtime/userns.h"
#include "core/runtime/seccomp.h"
#include "core/runtime/spawner.h"
#include "netns/netns.h"
#include "netns/netns_pool.h"

namespace berth::engine {

// Idle containers whose output pumps keep their descriptors (the most
// recently active; log_pump.h): at most 4 descriptors each. The others'
// are in the vault.
constexpr size_t kIdlePumpsOpen = 64;

namespace {

// A directory of mode 0555 that must hold nothing but `names` (made here):
// what is in it shows in every container it is bound into.
Result<void> make_shared_dir(const std::string& dir, const std::vector<std::string>& names) {
  BERTH_TRY_VOID(make_dirs(dir, 0755));
  for (const std::string& n : names) {
    std::string sub = dir + "/" + n;
    if (::mkdir(sub.c_str(), 0555) < 0 && errno != EEXIST) return Error::sys(errno, "mkdir {}", sub);
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename();
    // An empty directory is a hierarchy this host had at an earlier start.
    if (std::find(names.begin(), names.end(), name) == names.end() && ::rmdir(entry.path().c_str()) < 0)
      return Error::invalid("{} holds {}, which berthd did not put there and every container would see; remove it",
                            dir, name);
  }
  if (ec) return Error::sys(ec.value(), "read {}", dir);
  if (::chmod(dir.c_str(), 0555) < 0) return Error::sys(errno, "chmod {}", dir);
  return ok();
}

// The shared stand-ins for a container's masked-path and cgroup-view tmpfs
// (runtime::Spec::empty_dir, cgroup_skeleton).
Result<void> make_shared_dirs(const Options& o, const cgroups::Driver* d) {
  BERTH_TRY_VOID(make_shared_dir(o.empty_dir(), {}));
  std::vector<std::string> names;
  if (d)
    for (const auto& m : d->container_view())
      if (!m.name.empty()) names.push_back(m.name);
  return make_shared_dir(o.cgroup_skeleton_dir(), names);
}

}  // namespace

Container::Container() = default;
Container::~Container() = default;

Engine::Engine(reactor::Reactor& r) : r_(r) {
  unsaved_c_.set_callback([this](int32_t, uint32_t) { retry_unsaved(); });
}

Engine::~Engine() {
  for (auto& [id, c] : containers_)
    BERTH_ASSERT_MSG(!c->proc, "Engine destroyed with a live container process");
}

Result<std::unique_ptr<Engine>> Engine::open(reactor::Reactor& r, const Options& o) {
  std::unique_ptr<Engine> e(new Engine(r));
  e->opts_ = o;
  // Before anything opens many descriptors (networks.h: open_nat).
  e->networks_ = std::make_unique<NetworkService>(*e, o);
  e->networks_->open_nat();
  // Then: every later clone3 happens in the keeper, never in berthd
  // (runtime/spawner.h); a keeper already there is asked what it kept.
  e->keeper_ = std::make_unique<KeeperLink>(r, [ep = e.get()] { ep->keeper_lost(); });
  e->parking_ = std::make_unique<PumpParking>(kIdlePumpsOpen);
  if (auto k = e->open_keeper(); !k)
    log::error("engine", "no keeper process ({}): berthd forks containers itself, and they die with it",
               k.error().message());
  BERTH_TRY_VOID(make_dirs(o.containers_dir(), 0700));
  BERTH_TRY_VOID(make_dirs(o.trash_dir(), 0700));
  // Remapped inits are root of their user namespace only: the root and the
  // containers' and volumes' directories let them through (0711, as
  // Docker's), listing nothing.
  if (o.userns_remap) {
    for (const std::string& d : {o.root, o.containers_dir(), o.root + "/volumes"})
      if (::mkdir(d.c_str(), 0711) < 0 && errno != EEXIST) return Error::sys(errno, "mkdir {}", d);
      else if (::chmod(d.c_str(), 0711) < 0) return Error::sys(errno, "chmod {}", d);
    // Above the root, berthd changes nothing: it says which one to open.
    for (std::string d = o.root; d.size() > 1 && d.rfind('/') != std::string::npos;) {
      size_t slash = d.rfind('/');
      d = slash == 0 ? "/" : d.substr(0, slash);
      struct stat st{};
      if (::stat(d.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
        return Error::invalid(
            "--userns-remap: {} (above --root) is not searchable by others (mode {:o}), so remapped containers "
            "could not reach their root; allow it with chmod o+x {}",
            d, st.st_mode & 07777, d);
    }
  }
  for (const char* d : {"dev", "proc", "sys", "etc"}) BERTH_TRY_VOID(make_dirs(o.init_layer() + "/" + d, 0755));
  // The mount points of /etc/hosts, hostname and resolv.conf (networks.h),
  // above the image's: bound, they need no file made in the upper dir, and
  // an image's symlink there (to a resolver's stub file) is not followed.
  for (const char* f : {"etc/hosts", "etc/hostname", "etc/resolv.conf"})
    BERTH_TRY_VOID(open_fd(o.init_layer() + "/" + f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  std::shared_ptr<fs::ImageStore> images = BERTH_TRY_CTX(fs::ImageStore::open(o.root + "/image"), "open image store");
  e->images_ = std::make_unique<ImageService>(*e, std::move(images));
  std::shared_ptr<VolumeStore> volumes = BERTH_TRY_CTX(VolumeStore::open(o.root + "/volumes"), "open volume store");
  if (o.userns_remap) volumes->set_data_owner(o.userns_remap.uid, o.userns_remap.gid);
  e->volumes_ = std::make_unique<VolumeService>(*e, std::move(volumes));
  std::shared_ptr<cgroups::Driver> driver;
  if (o.cgroups) {
    auto d = cgroups::detect(o.cgroup_detect);
    if (d) {
      driver = std::move(*d);
      log::info("engine", "cgroups v{} controllers={} parent={}", int(driver->version()),
                fmt::join(driver->controllers(), ","), o.cgroup_parent);
    } else {
      log::warn("engine", "running without cgroups (limits, stats and pause refused): {}", d.error().message());
    }
  }
  BERTH_TRY_VOID(make_shared_dirs(o, driver.get()));
  e->resources_ = std::make_unique<Resources>(*e, std::move(driver));
  e->execs_ = std::make_unique<ExecService>(*e);
  e->io_ = std::make_unique<ContainerIo>(*e);
  e->files_ = std::make_unique<ContainerFiles>(*e);
  BERTH_TRY_VOID(e->load_containers());
  e->drop_unclaimed();
  if (auto ns = netns::create_netns())
    e->sysfs_netns_ = std::move(*ns);
  else
    log::warn("engine", "--network none containers get a sysfs each: {}", ns.error().message());
  e->warm_ = std::make_unique<WarmPool>(*e, o.warm_inits);
  e->netns_pool_ = std::make_unique<netns::NetnsPool>(r, o.netns_pool);
  e->netns_pool_->fill();
  // Docker's default seccomp profile compiled once ahead (10-20 ms): a warm
  // init's release carries the program, and its encoding runs on the
  // reactor thread, which must find it cached (runtime/seccomp.h).
  (void)r.run_background(
      [] {
        auto p = runtime::compile_seccomp(runtime::default_seccomp_profile(), runtime::kDefaultCapabilities);
        if (!p) log::warn("engine", "compile the default seccomp profile: {}", p.error().message());
      },
      [] {});
  // Leftovers of removals interrupted by a crash (before the loop runs).
  (void)remove_tree(o.trash_dir());
  BERTH_TRY_VOID(make_dirs(o.trash_dir(), 0700));
  // Last of what may fail: its responders must be stopped before they go.
  BERTH_TRY_VOID(e->networks_->open());
  e->resources_->set_interfaces([n = e->networks_.get()](const std::string& id) { return n->interfaces(id); });
  // AutoRemove containers that ran are removed as their exit would have
  // (Docker does the same when it restores).
  std::vector<std::string> stale;
  for (auto& [id, c] : e->containers_)
    if (c->spec.auto_remove && c->state.status == Status::kExited) stale.push_back(id);
  for (const std::string& id : stale) {
    log::info("engine", "removing AutoRemove container id={} left from before the restart", id);
    e->remove_now(*e->containers_.at(id), [](Result<void>) {}, true);
  }
  e->keeper_->listen();   // last that may fail: nothing above may fail with its recv in flight
  e->start_restartable();  // cannot fail
  return e;
}

Container* Engine::by_id(const std::string& id) {
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second.get();
}

Result<Container*> Engine::find(std::string_view ref) {
  if (ref.empty()) return Error::not_found("No such container: ");
  if (auto it = containers_.find(std::string(ref)); it != containers_.end()) return it->second.get();
  std::string_view name = ref[0] == '/' ? ref.substr(1) : ref;
  if (auto it = names_.find(std::string(name)); it != names_.end())
    if (Container* c = by_id(it->second)) return c;
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

void Engine::emit(const Container& c, std::string action, std::map<std::string, std::string> attrs) {
  attrs["name"] = c.name;
  attrs["image"] = c.image_ref;
  Event e;
  e.action = std::move(action);
  e.id = c.id;
  e.attributes = std::move(attrs);
  events_.publish(std::move(e));
}

// The state file is written on the job lane; a write that lands while
// another change is pending is followed by one more (persist_dirty).
void Engine::persist(Container& c) {
  if (c.persist_in_flight) {
    c.persist_dirty = true;
    return;
  }
  c.persist_in_flight = true;
  c.persist_dirty = false;
  std::string path = c.dir + "/" + kStateFile;
  // Its networks as they are now; one let go at shutdown keeps what it ran with.
  if (networks_ && networks_->opened() && !(c.proc && c.proc->detached)) c.net_state = networks_->runtime_state(c);
  auto data = std::make_shared<std::string>(encode_container(c));
  auto result = std::make_shared<Result<void>>(ok());
  bool queued = r_.run_job([path, data, result] { *result = write_file_atomic(path, *data, 0600, false); },
                           [this, id = c.id, result] { persisted(id, *result); });
  if (!queued) {
    c.persist_in_flight = false;
    log::error("engine", "persist container id={}: the job backlog is full; its state is not saved", c.id);
  }
}

// A state write is done. A failed one (ENOSPC) is logged once and retried
// (retry_unsaved); the callers waiting for it go on either way: what they
// changed is in memory and reaches the disk with the retry.
void Engine::persisted(const std::string& id, const Result<void>& r) {
  Container* cp = by_id(id);
  if (!cp) {
    unsaved_.erase(id);
    return check_shutdown();
  }
  cp->persist_in_flight = false;
  if (!r) {
    if (unsaved_.insert_or_assign(id, r.error()).second)
      log::error("engine", "persist container id={}: {}; retrying every second", id, r.error().message());
    if (!unsaved_c_.in_flight() && !shutting_down_) r_.timeout(&unsaved_ts_, unsaved_c_);
  } else if (unsaved_.erase(id)) {
    log::info("engine", "persist container id={}: saved now", id);
  }
  if (cp->persist_dirty) return persist(*cp);
  auto fns = std::move(cp->after_persist);
  cp->after_persist.clear();
  for (auto& fn : fns) fn();
  check_shutdown();
}

Result<void> Engine::unsaved(const std::string& id, std::string_view change) const {
  auto it = unsaved_.find(id);
  if (it == unsaved_.end()) return ok();
  Error e = it->second;
  return std::move(e.context("container {}: the {} is made but not saved yet (retried every second)", id, change));
}

void Engine::retry_unsaved() {
  if (shutting_down_) return check_shutdown();
  std::vector<std::string> ids;
  for (auto& [id, _] : unsaved_) ids.push_back(id);
  for (const std::string& id : ids) {
    Container* c = by_id(id);
    if (!c) unsaved_.erase(id);
    else if (!c->persist_in_flight) persist(*c);
  }
}

void Engine::when_persisted(Container& c, std::function<void()> fn) {
  if (!c.persist_in_flight) return fn();
  c.after_persist.push_back(std::move(fn));
}

void Engine::shutdown(std::function<void()> done, bool upgrade) {
  if (upgrade && !opts_.live_restore) {
    log::info("engine", "live upgrade: containers are left running despite --no-live-restore");
    opts_.live_restore = true;
  }
  if (upgrade && !keeper_->connected())
    log::error("engine", "live upgrade without a keeper: the running containers are stopped");
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  r_.cancel(unsaved_c_);
  warm_->drop_all();
  if (opts_.live_restore) execs_->kill_running();   // their clients go with berthd
  for (auto& [id, c] : containers_) {
    if (c->state.status == Status::kRestarting) {
      // Not restarted now; stopped but not by the user, so a policy that
      // restarts at daemon start still does (container_restart.cc).
      cancel_restart(*c);
      c->state.status = Status::kExited;
      persist(*c);
    }
    let_go(*c);
  }
  check_shutdown();
}

// With --live-restore a container is left to its keeper (detach), its
// networks in place for the next berthd (NetworkService::let_go);
// without it, killed.
void Engine::let_go(Container& c) {
  if (!c.proc || c.proc->exited || c.proc->detached) return;
  if (opts_.live_restore && keeper_->connected() && c.proc->keeper_gen == keeper_->generation()) return detach(c);
  (void)signal_process(*c.proc, SIGKILL);
  if (c.state.status == Status::kPaused) {
    if (c.cgroup) (void)c.cgroup->thaw();  // a frozen task dies only once thawed
    c.state.status = Status::kRunning;
  }
}

void Engine::check_shutdown() {
  if (!shutdown_done_) return;
  for (auto& [id, c] : containers_) {
    if (!c->starting) let_go(*c);   // a start that ended during the shutdown
    if (c->proc || c->persist_in_flight || c->starting) return;
  }
  if (execs_->busy() || warm_->busy() || unsaved_c_.in_flight() || !timers_.empty()) return;
  if (!keeper_closed_) {
    // Every exit is in: the keeper is heard no more. With nothing left for
    // it to keep (no live restore, or no container running), it goes too.
    keeper_closed_ = true;
    bool kept_any = false;
    for (auto& [id, c] : containers_) kept_any |= is_running(c->state.status);
    if (spawner_ && !kept_any) {
      runtime::KeeperMsg quit;
      quit.type = runtime::KeeperType::kQuit;
      (void)spawner_->notify(quit, {});
    }
    return keeper_->close([this] { check_shutdown(); });
  }
  if (keeper_->busy()) return;
  // Then the networks: their last veths and ports go, then bridges and table.
  if (!networks_->closed()) return networks_->shutdown([this] { check_shutdown(); });
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

Result<void> set_userns_remap(Options& o, std::string_view value) {
  runtime::RemapConfig remap = BERTH_TRY(runtime::resolve_userns_remap(value));
  o.userns_remap = remap.map;
  o.userns_remap_name = remap.name;
  return ok();
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

size_t Engine::warm_ready() const { return warm_ ? warm_->ready() : 0; }

}  // namespace berth::engine
