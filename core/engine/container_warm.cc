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
#include "core/engine/process.h"
#include "core/engine/spawner.h"
#include "core/engine/warm.h"
#include "core/runtime/late.h"
#include "core/runtime/security.h"

namespace berth::engine {

namespace {

// One warm init in the making: the job's input and output, handed from the
// reactor thread to the background lane and back.
struct WarmBuild {
  std::unique_ptr<WarmInit> w;
  unique_fd netns;                     // from the pool, joined by the child
  cgroups::Driver* cgroups = nullptr;  // create() only: it keeps no state, so any thread
  Spawner* spawner = nullptr;          // clone3s for us, if it runs (spawner.h)
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
    bool v2 = cgroups && cgroups->version() == cgroups::Version::kV2;
    if (v2 && !(result = make_cgroup())) return undo();
    w->spec.cgroup_fd = w->cgroup ? w->cgroup->clone_into_fd() : -1;
    w->spec.netns_fd = netns.get();
    Result<runtime::Process> p = Error(Code::kNotFound, "no spawner");
    if (spawner) p = spawner->spawn(w->spec);
    if (!p && p.error().code() == Code::kNotFound) p = runtime::spawn(w->spec);  // the spawner is gone
    netns.reset();
    w->spec.netns_fd = w->spec.cgroup_fd = -1;  // the child has them; keep no stale numbers
    if (!p) {
      result = std::move(p.error());
      return undo();
    }
    w->proc = std::move(*p);
    if (!v2 && cgroups && (!(result = make_cgroup()) || !(result = w->cgroup->add_process(w->proc.pid))))
      return undo();
  }

  // With Docker's device allowlist (a host without the controller: as at
  // a cold start, where berthd warns).
  Result<void> make_cgroup() {
    auto cg = cgroups->create(cgroup_parent, w->id);
    if (!cg) return std::move(cg.error());
    w->cgroup = std::move(*cg);
    auto devices = runtime::apply_device_rules(*w->cgroup, w->spec.security);
    if (!devices) return std::move(devices.error()).context("set the device allowlist");
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

Result<runtime::Spec> Engine::warm_spec(const std::string& image_id, const std::string& id, const std::string& dir) {
  Container t;
  t.id = id;
  t.dir = dir;
  t.image_id = image_id;
  t.path_args = {"/"};  // a placeholder: the command comes with the release
  runtime::Spec spec = BERTH_TRY(init_spec(t));
  spec.deferred = true;
  return spec;
}

bool Engine::warm_id_taken(const std::string& id) const {
  if (containers_.count(id)) return true;
  for (auto* list : {&warm_, &warm_dying_})
    for (const auto& w : *list)
      if (w->id == id) return true;
  return false;
}

bool Engine::warm_parent_ok(const Container& c) const {
  return c.spec.cgroup_parent.empty() || c.spec.cgroup_parent == opts_.cgroup_parent;
}

// After a start: the container is a candidate to make its image want warm
// inits; whether it could have used one is checked, and they are made, in
// the loop's idle moments (warm_top_up), never on a start's path.
void Engine::warm_after_start(const Container& c, const runtime::Spec& final) {
  if (opts_.warm_inits == 0 || shutting_down_ || !warm_parent_ok(c)) return;
  uint64_t now = ++warm_clock_;
  for (auto& w : warm_)
    if (w->image_id == c.image_id) w->last_used = now;
  WarmCandidate& cand = warm_candidates_[c.image_id];
  cand.used = now;
  cand.id = c.id;
  cand.dir = c.dir;
  cand.final = final;
  warm_schedule();
}

void Engine::warm_schedule() {
  if (warm_top_up_queued_) return;
  warm_top_up_queued_ = true;
  r_.when_idle([this, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;  // the engine is gone
    warm_top_up_queued_ = false;
    warm_top_up();
  });
}

// Would a warm init of its image have served the container that started?
// Only then does the image want them.
void Engine::warm_judge_candidates() {
  auto cands = std::move(warm_candidates_);
  warm_candidates_.clear();
  for (auto& [image, cand] : cands) {
    auto shape = warm_spec(image, cand.id, cand.dir);
    if (!shape) continue;
    runtime::Spec& as_started = cand.final;
    as_started.netns_fd = as_started.cgroup_fd = -1;  // a warm init has its own already
    if (runtime::can_release_as(*shape, as_started)) warm_wanted_[image] = cand.used;
  }
}

// One warm init for the most recently started image that has fewer than
// Options::warm_inits, the least recently used image's given up when the
// pool is full; then again at the next idle moment.
void Engine::warm_top_up() {
  if (shutting_down_) return;
  warm_judge_candidates();
  auto count = [this](const std::string& image) {
    size_t n = 0;
    for (const auto& w : warm_) n += w->image_id == image;
    auto it = warm_building_.find(image);
    return n + (it == warm_building_.end() ? 0 : it->second);
  };
  std::string image;
  uint64_t used = 0;
  for (const auto& [img, t] : warm_wanted_)
    if (t > used && count(img) < opts_.warm_inits) image = img, used = t;
  if (image.empty()) return;
  size_t total = warm_.size();
  for (const auto& [img, n] : warm_building_) total += n;
  if (total >= opts_.warm_inits) {
    auto lru = std::min_element(warm_.begin(), warm_.end(),
                                [](const auto& a, const auto& b) { return a->last_used < b->last_used; });
    if (lru == warm_.end() || (*lru)->image_id == image || (*lru)->last_used >= used) return;
    std::unique_ptr<WarmInit> old = std::move(*lru);
    warm_.erase(lru);
    warm_drop(std::move(old), [] {});
  }
  warm_fill(image, used);
  warm_schedule();
}

void Engine::warm_fill(const std::string& image_id, uint64_t used) {
  auto b = std::make_shared<WarmBuild>();
  b->w = std::make_unique<WarmInit>();
  WarmInit& w = *b->w;
  do {
    w.id = random_id();
  } while (warm_id_taken(w.id));
  w.image_id = image_id;
  w.generation = warm_generation_[image_id];
  w.dir = opts_.root + "/containers/" + w.id;
  w.last_used = used;
  auto spec = warm_spec(image_id, w.id, w.dir);
  if (!spec) {
    log::warn("engine", "warm init for image {}: {}", image_id, spec.error().message());
    warm_wanted_.erase(image_id);  // until its next start
    return;
  }
  w.spec = std::move(*spec);
  if (w.spec.new_netns) b->netns = netns_pool_->take();
  b->cgroups = cgroups_.get();
  b->spawner = spawner_.get();
  b->cgroup_parent = opts_.cgroup_parent;
  warm_building_[image_id]++;
  bool queued = r_.run_background([b] { b->run(); }, [this, b, life = std::weak_ptr<int>(life_)] {
    if (life.expired()) return;
    warm_built(std::move(b->w), std::move(b->result));
  });
  if (!queued && --warm_building_[image_id] == 0) warm_building_.erase(image_id);
}

void Engine::warm_built(std::unique_ptr<WarmInit> w, Result<void> result) {
  std::string image = w->image_id;
  if (--warm_building_[image] == 0) warm_building_.erase(image);
  if (!result) {
    log::warn("engine", "warm init for image {}: {}", image, result.error().message());
    warm_wanted_.erase(image);  // no retry until its next start
    return check_shutdown();
  }
  log::debug("engine", "warm init id={} pid={} image={}", w->id, w->proc.pid, image);
  // Its image was removed meanwhile (rmi, prune): never to be used.
  if (shutting_down_ || w->generation != warm_generation_[image] || !images_->resolve(image))
    return warm_drop(std::move(w), [] {});
  WarmInit* wp = w.get();
  warm_.push_back(std::move(w));
  wp->exit_c.set_callback([this, wp](int32_t res, uint32_t) { warm_exit_seen(wp, res); });
  r_.poll(wp->proc.pidfd.get(), POLLIN, wp->exit_c);
}

// The end of a warm init's pidfd poll: it died (pooled, adopted or
// killed), or the poll was cancelled when a start took the process.
void Engine::warm_exit_seen(WarmInit* wp, int32_t res) {
  if (wp->handed_over) {
    auto it = std::find_if(warm_retired_.begin(), warm_retired_.end(), [wp](const auto& p) { return p.get() == wp; });
    BERTH_ASSERT(it != warm_retired_.end());
    warm_retired_.erase(it);  // the container's own exit watch reaps it
    return;
  }
  if (wp->dying) return warm_dropped(wp);
  if (wp->adopted) {
    // A created container's init died before its start: start() finds it
    // dead and spawns anew.
    log::warn("engine", "id={}: its warm init (pid {}) died ({})", wp->id, wp->proc.pid, res);
    return;
  }
  auto it = std::find_if(warm_.begin(), warm_.end(), [wp](const auto& p) { return p.get() == wp; });
  BERTH_ASSERT(it != warm_.end());
  log::warn("engine", "warm init id={} (pid {}) died; dropped", wp->id, wp->proc.pid);
  std::unique_ptr<WarmInit> w = std::move(*it);
  warm_.erase(it);
  warm_drop(std::move(w), [] {});
}

// create(): the container takes a warm init of its image if its init spec
// can be released from it.
bool Engine::warm_adopt(Container& c) {
  if (!warm_parent_ok(c)) return false;
  auto it = std::find_if(warm_.begin(), warm_.end(), [&](const auto& w) { return w->image_id == c.image_id; });
  if (it == warm_.end()) return false;
  WarmInit& w = **it;
  c.id = w.id;
  c.dir = w.dir;
  auto final = init_spec(c);
  if (!final || !runtime::can_release_as(w.spec, *final)) {
    c.id.clear();
    c.dir.clear();
    return false;  // the others of this image have the same shape
  }
  c.warm = std::move(*it);
  c.warm->adopted = true;
  warm_.erase(it);
  (void)::unlink((c.dir + "/" + kWarmMarker).c_str());
  return true;
}

// start(): hands the adopted warm init over as the container's process;
// *released says whether its release went out. Returns false when the init
// died meanwhile: the caller spawns as usual, under the same cgroup handle.
bool Engine::warm_take(Container& c, const runtime::Spec& spec, Process& proc, Result<void>* released) {
  WarmInit& w = *c.warm;
  if (!alive(w)) {
    log::warn("engine", "id={}: its warm init (pid {}) died before the start; spawning anew", c.id, w.proc.pid);
    (void)runtime::reap(w.proc.pidfd.get());  // dead: no wait
    c.cgroup = std::move(w.cgroup);           // replaced, or removed on failure, by the spawn
    warm_retire(c);
    return false;
  }
  proc.pid = w.proc.pid;
  proc.pidfd = std::move(w.proc.pidfd);
  proc.error_fd = std::move(w.proc.error_fd);
  c.cgroup = std::move(w.cgroup);
  *released = apply_resources(c);
  hold_mount_namespace(c, proc);
  log::debug("engine", "release id={} pid={} (warm)", c.id, proc.pid);
  if (*released) *released = runtime::release(w.proc, spec);
  if (c.spec.tty) {
    proc.pty_handoff.pid = proc.pid;
    proc.pty_handoff.tty = true;
    proc.pty_handoff.sync_fd = std::move(w.proc.sync_fd);
  }
  warm_retire(c);
  return true;
}

// The container's warm init is done with (its process handed over or
// found dead): it is kept until its pidfd poll has ended.
void Engine::warm_retire(Container& c) {
  std::unique_ptr<WarmInit> w = std::move(c.warm);
  w->handed_over = true;
  if (!w->exit_c.in_flight()) return;  // ended already (it died): nothing to wait for
  r_.cancel(w->exit_c);
  warm_retired_.push_back(std::move(w));
}

// Kills `w` and, once it is gone, removes its cgroup and (unless a
// container has adopted its directory) its directory; then `then`.
void Engine::warm_drop(std::unique_ptr<WarmInit> w, std::function<void()> then) {
  WarmInit* wp = w.get();
  wp->after_exit = std::move(then);
  wp->dying = true;
  warm_dying_.push_back(std::move(w));
  if (!wp->proc.pidfd) return warm_dropped(wp);
  (void)runtime::kill(wp->proc.pidfd.get(), SIGKILL);
  if (wp->exit_c.in_flight()) return;  // its poll ends now: warm_exit_seen
  if (alive(*wp)) {
    wp->exit_c.set_callback([this, wp](int32_t, uint32_t) { warm_dropped(wp); });
    r_.poll(wp->proc.pidfd.get(), POLLIN, wp->exit_c);
    return;
  }
  warm_dropped(wp);
}

// Reaps a dropped init and removes what it leaves on the job pool (not the
// background lane: an rm may be waiting). May run inside its exit_c's
// callback: the WarmInit is destroyed last.
void Engine::warm_dropped(WarmInit* wp) {
  auto it = std::find_if(warm_dying_.begin(), warm_dying_.end(), [wp](const auto& p) { return p.get() == wp; });
  BERTH_ASSERT(it != warm_dying_.end());
  if (wp->proc.pidfd) (void)runtime::reap(wp->proc.pidfd.get());
  std::shared_ptr<cgroups::Cgroup> cg = std::move(wp->cgroup);
  std::string dir = wp->adopted ? std::string() : wp->dir;
  auto then = std::move(wp->after_exit);
  warm_cleaning_++;
  bool queued = r_.run_job(
      [cg, dir] {
        if (cg) (void)destroy_retrying(*cg);
        if (!dir.empty()) (void)remove_tree(dir);
      },
      [this, then, life = std::weak_ptr<int>(life_)] {
        if (life.expired()) return;
        warm_cleaning_--;
        then();
        check_shutdown();
      });
  if (!queued) {
    warm_cleaning_--;
    if (cg) (void)cg->destroy();
    if (!dir.empty()) (void)remove_tree(dir);
    then();
    check_shutdown();
  }
  warm_dying_.erase(it);  // last: this may be wp->exit_c's own callback
}

void Engine::warm_drop_image(const std::string& image_id) {
  warm_wanted_.erase(image_id);
  warm_candidates_.erase(image_id);
  warm_generation_[image_id]++;  // builds under way are dropped when they land
  for (size_t i = 0; i < warm_.size();) {
    if (warm_[i]->image_id != image_id) {
      i++;
      continue;
    }
    std::unique_ptr<WarmInit> w = std::move(warm_[i]);
    warm_.erase(warm_.begin() + ptrdiff_t(i));
    warm_drop(std::move(w), [] {});
  }
}

void Engine::warm_drop_all() {
  auto all = std::move(warm_);
  warm_.clear();
  for (auto& w : all) warm_drop(std::move(w), [] {});
  for (auto& [id, c] : containers_)
    if (c->warm) warm_drop(std::move(c->warm), [] {});
}

bool Engine::warm_busy() const {
  return !warm_building_.empty() || !warm_dying_.empty() || !warm_retired_.empty() || warm_cleaning_ > 0;
}

}  // namespace berth::engine
