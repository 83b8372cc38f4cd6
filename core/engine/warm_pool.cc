// Warm inits (warm.h): made on the background lane after a start, adopted
// by create(), handed over by start(), killed when unused.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base/assert.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/engine.h"
#include "core/engine/images.h"
#include "core/engine/process.h"
#include "core/engine/resources.h"
#include "core/engine/log_files.h"
#include "core/engine/networks.h"
#include "core/engine/warm.h"
#include "core/runtime/late.h"
#include "core/engine/container_security.h"
#include "core/runtime/security.h"
#include "core/runtime/exit.h"
#include "core/runtime/spawner.h"
#include "core/engine/keeper_link.h"
#include "netns/netns_pool.h"

namespace berth::engine {

namespace {

// One warm init in the making: the job's input and output, handed from the
// reactor thread to the background lane and back.
struct WarmBuild {
  std::unique_ptr<WarmInit> w;
  unique_fd netns;                               // from the pool, joined by the child
  std::shared_ptr<cgroups::Driver> cgroups;      // keeps no state: any thread
  std::shared_ptr<runtime::Spawner> spawner;     // clone3s for us, if it runs (runtime/spawner.h)
  std::string cgroup_parent;
  Result<void> result = ok();

  // Background lane (nice 10: the init mounts its root at that priority and
  // takes berthd's own with the release). The clone3 happens in the spawner
  // (berthd itself does not fork: spawner.h), or here when it is not
  // running; then the init's death signal is tied to this thread, which
  // lives as long as berthd (runtime/spawn.h).
  void run() {
    // The marker first: a crash from here on leaves a directory that the
    // next start recognises and removes, with the cgroup made below.
    if (::mkdir(w->dir.c_str(), 0700) < 0) {
      result = Error::sys(errno, "mkdir {}", w->dir);
      return;
    }
    unique_fd marker(::open((w->dir + "/" + kWarmMarker).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!marker) {
      result = Error::sys(errno, "create {}/{}", w->dir, kWarmMarker);
      return undo();
    }
    for (auto [sub, mode] : {std::pair{"/upper", 0755}, {"/work", 0700}, {"/rootfs", 0755}})
      if (::mkdir((w->dir + sub).c_str(), mode_t(mode)) < 0) {
        result = Error::sys(errno, "mkdir {}{}", w->dir, sub);
        return undo();
      }
    // /etc/hosts, hostname and resolv.conf: bound now, written at create.
    if (!(result = make_etc_files(w->dir))) return undo();
    // The container's log, made here so that a warm start opens no file.
    auto log = open_fd(w->dir + "/container.log", O_RDWR | O_CREAT, 0600);   // read: see OutputPump
    if (!log) {
      result = std::move(log.error());
      return undo();
    }
    w->log_fd = std::move(*log);
    auto index = open_fd(log_index_path(w->dir + "/container.log"), O_WRONLY | O_CREAT, 0600);
    if (!index) {
      result = std::move(index.error());
      return undo();
    }
    w->index_fd = std::move(*index);
    bool v2 = cgroups && cgroups->version() == cgroups::Version::kV2;
    if (v2 && !(result = make_cgroup())) return undo();
    w->spec.cgroup_fd = w->cgroup ? w->cgroup->clone_into_fd() : -1;
    w->spec.netns_fd = netns.get();
    w->since_ns = now_ns();
    Result<runtime::Process> p = runtime::spawn_with(spawner.get(), w->spec);
    w->netns = std::move(netns);
    w->spec.netns_fd = w->spec.cgroup_fd = -1;  // the child has them; keep no stale numbers
    if (!p) {
      result = std::move(p.error());
      return undo();
    }
    w->proc = std::move(*p);
    // Its start time, for pidfd_of once its pidfd is gone (process.h);
    // here, off the loop: reading /proc/<pid>/stat can wait on the process.
    if (auto t = runtime::identity(w->proc.pid, w->proc.pidfd.get()); t) w->start_ticks = *t;
    if (!v2 && cgroups && (!(result = make_cgroup()) || !(result = w->cgroup->add_process(w->proc.pid))))
      return undo();
  }

  // With Docker's device allowlist (a host without the controller: as at
  // a cold start, where berthd warns).
  Result<void> make_cgroup() {
    auto cg = Resources::make(*cgroups, cgroup_parent, w->id, {}, w->spec.security);
    if (!cg) return std::move(cg.error());
    w->cgroup = std::move(*cg);
    return ok();
  }

  // A failed build leaves nothing: the child killed and reaped (its own
  // error, if it reported one, replaces ours: a deferred child that fails
  // to set up exits at once), the cgroup and the directory removed.
  void undo() {
    if (w->proc.pidfd) {
      (void)runtime::kill(w->proc.pidfd.get(), SIGKILL);
      pollfd pf{w->proc.pidfd.get(), POLLIN, 0};
      ::poll(&pf, 1, -1);  // SIGKILLed: it ends
      runtime::ChildError ce{};
      if (::read(w->proc.error_fd.get(), &ce, sizeof ce) == ssize_t(sizeof ce))
        result = runtime::describe_child_error(ce, w->spec);
      (void)runtime::reap(w->proc.pidfd.get());
      w->proc = {};
    }
    if (w->cgroup) (void)destroy_retrying(*w->cgroup);
    w->cgroup.reset();
    (void)remove_tree(w->dir);
  }
};

bool alive(const WarmInit& w) {
  pollfd pf{w.proc.pidfd.get(), POLLIN, 0};
  return w.proc.pidfd && ::poll(&pf, 1, 0) == 0;
}

}  // namespace

Result<runtime::Spec> WarmPool::spec_for(const std::string& image_id, const std::string& id, const std::string& dir,
                                         bool no_network) {
  Container t;
  t.id = id;
  t.dir = dir;
  t.image_id = image_id;
  if (no_network) t.spec.network_mode = "none";
  t.path_args = {"/"};  // a placeholder: the command comes with the release
  runtime::Spec spec = BERTH_TRY(e_.init_spec(t));
  spec.deferred = true;
  return spec;
}

bool WarmPool::id_taken(const std::string& id) const {
  if (e_.containers_.count(id)) return true;
  for (auto* list : {&ready_, &dying_})
    for (const auto& w : *list)
      if (w->id == id) return true;
  return false;
}

bool WarmPool::parent_ok(const Container& c) const {
  return c.spec.cgroup_parent.empty() || c.spec.cgroup_parent == e_.opts_.cgroup_parent;
}

// After a start: the container is a candidate to make its image want warm
// inits; whether it could have used one is checked, and they are made, in
// the loop's idle moments (warm_top_up), never on a start's path.
void WarmPool::after_start(const Container& c, const runtime::Spec& final) {
  if (target_ == 0 || e_.shutting_down_ || !parent_ok(c)) return;
  uint64_t now = ++clock_;
  for (auto& w : ready_)
    if (w->image_id == c.image_id) w->last_used = now;
  Candidate& cand = candidates_[c.image_id];
  cand.used = now;
  cand.id = c.id;
  cand.dir = c.dir;
  cand.final = final;
  cand.no_network = c.spec.network_mode == "none";
  schedule();
}

void WarmPool::schedule() {
  if (top_up_queued_) return;
  top_up_queued_ = true;
  e_.r_.when_idle([this, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;  // the engine is gone
    top_up_queued_ = false;
    top_up();
  });
}

// Would a warm init of its image have served the container that started?
// Only then does the image want them.
void WarmPool::judge_candidates() {
  auto cands = std::move(candidates_);
  candidates_.clear();
  for (auto& [image, cand] : cands) {
    auto shape = spec_for(image, cand.id, cand.dir, cand.no_network);
    if (!shape) continue;
    runtime::Spec& as_started = cand.final;
    as_started.netns_fd = as_started.cgroup_fd = -1;  // a warm init has its own already
    if (runtime::can_release_as(*shape, as_started)) {
      wanted_[image] = {cand.used, cand.no_network};
    }
  }
}

// One warm init for the most recently started image that has fewer than
// Options::warm_inits, the least recently used image's given up when the
// pool is full; then again at the next idle moment.
void WarmPool::top_up() {
  if (e_.shutting_down_) return;
  judge_candidates();
  auto count = [this](const std::string& image) {
    size_t n = 0;
    for (const auto& w : ready_) n += w->image_id == image;
    auto it = building_.find(image);
    return n + (it == building_.end() ? 0 : it->second);
  };
  std::string image;
  uint64_t used = 0;
  for (const auto& [img, want] : wanted_)
    if (want.used > used && count(img) < target_) image = img, used = want.used;
  if (image.empty()) return;
  size_t total = ready_.size();
  for (const auto& [img, n] : building_) total += n;
  if (total >= target_) {
    auto lru = std::min_element(ready_.begin(), ready_.end(),
                                [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    if (lru == ready_.end() || (*lru)->image_id == image || (*lru)->last_used >= used) return;
    std::unique_ptr<WarmInit> old = std::move(*lru);
    ready_.erase(lru);
    drop(std::move(old), [] {});
  }
  fill(image, used);
  schedule();
}

void WarmPool::fill(const std::string& image_id, uint64_t used) {
  auto b = std::make_shared<WarmBuild>();
  b->w = std::make_unique<WarmInit>();
  WarmInit& w = *b->w;
  do {
    w.id = random_id();
  } while (id_taken(w.id));
  w.image_id = image_id;
  w.generation = generation_[image_id];
  w.dir = e_.opts_.root + "/containers/" + w.id;
  w.last_used = used;
  auto want = wanted_.find(image_id);
  auto spec = spec_for(image_id, w.id, w.dir, want != wanted_.end() && want->second.no_network);
  if (!spec) {
    log::warn("engine", "warm init for image {}: {}", image_id, spec.error().message());
    wanted_.erase(image_id);  // until its next start
    return;
  }
  w.spec = std::move(*spec);
  // A warm init holds a start's descriptors for as long as it waits; it is
  // made only while the budget would still let a cold start through after
  // it, so the pool never eats the room the next start needs.
  if (auto room = e_.fd_budget_.take(FdBudget::kStartFds, FdBudget::kStartFds); !room) {
    log::debug("engine", "warm init for image {} not made: {}", image_id, room.error().message());
    return;
  }
  if (w.spec.new_netns) b->netns = e_.netns_pool_->take();
  b->cgroups = e_.resources_->shared_driver();
  b->spawner = e_.spawner_;
  w.keeper_gen = e_.spawner_ ? e_.keeper_->generation() : 0;
  b->cgroup_parent = e_.opts_.cgroup_parent;
  building_[image_id]++;
  bool queued = e_.r_.run_background([b] { b->run(); }, [this, b, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    built(std::move(b->w), std::move(b->result));
  });
  if (!queued) {
    e_.fd_budget_.give_back(FdBudget::kStartFds);
    if (--building_[image_id] == 0) building_.erase(image_id);
  }
}

void WarmPool::built(std::unique_ptr<WarmInit> w, Result<void> result) {
  std::string image = w->image_id;
  e_.fd_budget_.give_back(FdBudget::kStartFds);  // its descriptors are open now, and counted as such
  if (--building_[image] == 0) building_.erase(image);
  if (!result) {
    log::warn("engine", "warm init for image {}: {}", image, result.error().message());
    wanted_.erase(image);  // no retry until its next start
    return e_.check_shutdown();
  }
  log::debug("engine", "warm init id={} pid={} image={}", w->id, w->proc.pid, image);
  // Its image was removed meanwhile (rmi, prune): never to be used.
  if (e_.shutting_down_ || w->generation != generation_[image] || !e_.images_->store().resolve(image))
    return drop(std::move(w), [] {});
  WarmInit* wp = w.get();
  ready_.push_back(std::move(w));
  wp->exit_c.set_callback([this, wp](int32_t res, uint32_t) { exit_seen(wp, res); });
  e_.r_.poll(wp->proc.pidfd.get(), POLLIN, wp->exit_c);
}

// The end of a warm init's pidfd poll: it died (pooled, adopted or
// killed), or the poll was cancelled when a start took the process.
void WarmPool::exit_seen(WarmInit* wp, int32_t res) {
  if (wp->handed_over) {
    auto it = std::find_if(retired_.begin(), retired_.end(), [wp](const auto& p) { return p.get() == wp; });
    BERTH_ASSERT(it != retired_.end());
    retired_.erase(it);  // the container's own exit watch reaps it
    return;
  }
  if (wp->dying) return dropped(wp);
  if (wp->adopted) {
    // A created container's init died before its start: start() finds it
    // dead and spawns anew.
    log::warn("engine", "id={}: its warm init (pid {}) died ({})", wp->id, wp->proc.pid, res);
    return;
  }
  auto it = std::find_if(ready_.begin(), ready_.end(), [wp](const auto& p) { return p.get() == wp; });
  BERTH_ASSERT(it != ready_.end());
  log::warn("engine", "warm init id={} (pid {}) died; dropped", wp->id, wp->proc.pid);
  std::unique_ptr<WarmInit> w = std::move(*it);
  ready_.erase(it);
  drop(std::move(w), [] {});
}

// create(): the container takes a warm init of its image if its init spec
// can be released from it.
bool WarmPool::adopt(Container& c) {
  if (!parent_ok(c) || !warm_compatible(c.spec.security)) return false;
  auto it = std::find_if(ready_.begin(), ready_.end(), [&](const auto& w) { return w->image_id == c.image_id; });
  if (it == ready_.end()) return false;
  WarmInit& w = **it;
  c.id = w.id;
  c.dir = w.dir;
  auto final = e_.init_spec(c);
  if (!final || !runtime::can_release_as(w.spec, *final)) {
    c.id.clear();
    c.dir.clear();
    return false;  // the others of this image have the same shape
  }
  c.warm = std::move(*it);
  c.warm->adopted = true;
  ready_.erase(it);
  (void)::unlink((c.dir + "/" + kWarmMarker).c_str());
  return true;
}

// start(): the adopted warm init's process, cgroup and log file when it
// is alive. When it died meanwhile, the caller spawns cold, in the same
// cgroup (moved to c.cgroup here).
std::optional<WarmHandover> WarmPool::take(Container& c) {
  std::unique_ptr<WarmInit> w = std::move(c.warm);
  std::optional<WarmHandover> out;
  if (!alive(*w)) {
    log::warn("engine", "id={}: its warm init (pid {}) died before the start; spawning anew", c.id, w->proc.pid);
    (void)runtime::reap(w->proc.pidfd.get());  // dead: no wait
    c.cgroup = std::move(w->cgroup);
  } else {
    out.emplace();
    out->proc = std::move(w->proc);
    out->cgroup = std::move(w->cgroup);
    out->log_fd = std::move(w->log_fd);
    out->index_fd = std::move(w->index_fd);
    out->netns = std::move(w->netns);
    out->keeper_gen = w->keeper_gen;
    out->since_ns = w->since_ns;
    out->start_ticks = w->start_ticks;
  }
  retire(std::move(w));
  return out;
}

// A warm init done with (its process handed over, or found dead) is kept
// until its pidfd poll has ended.
void WarmPool::retire(std::unique_ptr<WarmInit> w) {
  w->handed_over = true;
  if (!w->exit_c.in_flight()) return;  // ended already (it died): nothing to wait for
  e_.r_.cancel(w->exit_c);
  retired_.push_back(std::move(w));
}

// Kills `w` and, once it is gone, removes its cgroup and (unless a
// container has adopted its directory) its directory; then `then`.
void WarmPool::drop(std::unique_ptr<WarmInit> w, std::function<void()> then) {
  WarmInit* wp = w.get();
  wp->after_exit = std::move(then);
  wp->dying = true;
  dying_.push_back(std::move(w));
  if (!wp->proc.pidfd) return dropped(wp);
  (void)runtime::kill(wp->proc.pidfd.get(), SIGKILL);
  if (wp->exit_c.in_flight()) return;  // its poll ends now: warm_exit_seen
  if (alive(*wp)) {
    wp->exit_c.set_callback([this, wp](int32_t, uint32_t) { dropped(wp); });
    e_.r_.poll(wp->proc.pidfd.get(), POLLIN, wp->exit_c);
    return;
  }
  dropped(wp);
}

// Reaps a dropped init and removes what it leaves on the job pool (not the
// background lane: an rm may be waiting). May run inside its exit_c's
// callback: the WarmInit is destroyed last.
void WarmPool::dropped(WarmInit* wp) {
  auto it = std::find_if(dying_.begin(), dying_.end(), [wp](const auto& p) { return p.get() == wp; });
  BERTH_ASSERT(it != dying_.end());
  if (wp->proc.pidfd) (void)runtime::reap(wp->proc.pidfd.get());
  std::shared_ptr<cgroups::Cgroup> cg = std::move(wp->cgroup);
  std::string dir = wp->adopted ? std::string() : wp->dir;
  auto then = std::move(wp->after_exit);
  cleaning_++;
  bool queued = e_.r_.run_job(
      [cg, dir] {
        if (cg) (void)destroy_retrying(*cg);
        if (!dir.empty()) (void)remove_tree(dir);
      },
      [this, then, life = std::weak_ptr<int>(life_)] {
        if (life.expired()) return;
        cleaning_--;
        then();
        e_.check_shutdown();
      });
  if (!queued) {
    log::error("engine", "warm init id={}: the job backlog is full; its cgroup and directory stay until restart", wp->id);
    cleaning_--;
    e_.r_.defer(std::move(then));
  }
  dying_.erase(it);  // last: this may be wp->exit_c's own callback
}

void WarmPool::drop_image(const std::string& image_id) {
  wanted_.erase(image_id);
  candidates_.erase(image_id);
  generation_[image_id]++;  // builds under way are dropped when they land
  for (size_t i = 0; i < ready_.size();) {
    if (ready_[i]->image_id != image_id) {
      i++;
      continue;
    }
    std::unique_ptr<WarmInit> w = std::move(ready_[i]);
    ready_.erase(ready_.begin() + ptrdiff_t(i));
    drop(std::move(w), [] {});
  }
}

void WarmPool::drop_all() {
  auto all = std::move(ready_);
  ready_.clear();
  for (auto& w : all) drop(std::move(w), [] {});
  for (auto& [id, c] : e_.containers_)
    if (c->warm) drop(std::move(c->warm), [] {});
}

WarmPool::WarmPool(Engine& e, size_t target) : e_(e), target_(target) {}

WarmPool::~WarmPool() = default;

bool WarmPool::busy() const {
  return !building_.empty() || !dying_.empty() || !retired_.empty() || cleaning_ > 0;
}

}  // namespace berth::engine
