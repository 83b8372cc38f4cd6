// Warm inits (warm.h): made on the job pool after a start, adopted by
// create(), handed over by start(), killed when unused.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/strings.h"
#include "core/engine/process.h"
#include "core/engine/warm.h"
#include "core/runtime/late.h"

namespace berth::engine {

namespace {

// One warm init in the making: the job's input and output, handed from the
// reactor thread to a pool thread and back.
struct WarmBuild {
  std::unique_ptr<WarmInit> w;
  unique_fd netns;                           // from the pool, joined by the child
  cgroups::Driver* cgroups = nullptr;  // create() only: it keeps no state, so any thread
  std::string cgroup_parent;
  Result<void> result = ok();

  // Background lane (nice 10: the init mounts its root at that priority and
  // takes berthd's own with the release). The clone3 happens here, so the
  // init's death signal is tied to this thread, which lives as long as
  // berthd (runtime/spawn.h).
  void run() {
    for (auto [sub, mode] : {std::pair{"", 0700}, {"/upper", 0755}, {"/work", 0700}, {"/rootfs", 0755}})
      if (::mkdir((w->dir + sub).c_str(), mode_t(mode)) < 0) {
        result = Error::sys(errno, "mkdir {}{}", w->dir, sub);
        return undo();
      }
    bool v2 = cgroups && cgroups->version() == cgroups::Version::kV2;
    if (v2 && !(result = make_cgroup())) return undo();
    w->spec.cgroup_fd = w->cgroup ? w->cgroup->clone_into_fd() : -1;
    w->spec.netns_fd = netns.get();
    auto p = runtime::spawn(w->spec);
    netns.reset();
    if (!p) {
      result = std::move(p.error());
      return undo();
    }
    w->proc = std::move(*p);
    if (!v2 && cgroups && (!(result = make_cgroup()) || !(result = w->cgroup->add_process(w->proc.pid))))
      return undo();
  }

  Result<void> make_cgroup() {
    auto cg = cgroups->create(cgroup_parent, w->id);
    if (!cg) return std::move(cg.error());
    w->cgroup = std::move(*cg);
    return ok();
  }

  // A failed build leaves nothing: the child killed and reaped, the cgroup
  // and the directory removed.
  void undo() {
    if (w->proc.pidfd) {
      (void)runtime::kill(w->proc.pidfd.get(), SIGKILL);
      pollfd pf{w->proc.pidfd.get(), POLLIN, 0};
      ::poll(&pf, 1, -1);
      (void)runtime::reap(w->proc.pidfd.get());
      w->proc = {};
    }
    if (w->cgroup) (void)w->cgroup->destroy();
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

// After a start: if a warm init could have served this container, its
// image wants warm inits; they are made at the loop's next idle moments
// (warm_top_up), never on a start's path.
void Engine::warm_after_start(const Container& c, const runtime::Spec& final) {
  if (opts_.warm_inits == 0 || shutting_down_) return;
  uint64_t now = ++warm_clock_;
  for (auto& w : warm_)
    if (w->image_id == c.image_id) w->last_used = now;
  auto shape = warm_spec(c.image_id, c.id, c.dir);
  if (!shape) return;
  runtime::Spec as_started = final;
  as_started.netns_fd = shape->netns_fd = final.new_netns ? 0 : -1;  // from the pool, or not, alike
  as_started.cgroup_fd = shape->cgroup_fd = -1;
  if (!runtime::can_release_as(*shape, as_started)) return;  // its mounts or root differ: no use
  warm_wanted_[c.image_id] = now;
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

// One warm init for the most recently started image that has fewer than
// Options::warm_inits, the least recently used image's given up when the
// pool is full; then again at the next idle moment.
void Engine::warm_top_up() {
  if (shutting_down_) return;
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
  b->cgroup_parent = opts_.cgroup_parent;
  warm_building_[image_id]++;
  bool queued = r_.run_background([b] { b->run(); }, [this, b] {
    if (--warm_building_[b->w->image_id] == 0) warm_building_.erase(b->w->image_id);
    if (!b->result) {
      log::warn("engine", "warm init for image {}: {}", b->w->image_id, b->result.error().message());
      warm_wanted_.erase(b->w->image_id);  // no retry until its next start
      return check_shutdown();
    }
    log::debug("engine", "warm init id={} pid={} image={}", b->w->id, b->w->proc.pid, b->w->image_id);
    warm_.push_back(std::move(b->w));
    if (shutting_down_) warm_drop_all();
  });
  if (!queued && --warm_building_[image_id] == 0) warm_building_.erase(image_id);
}

// create(): the container takes a warm init of its image if its init spec
// can be released from it. Dead ones met on the way are cleared.
bool Engine::warm_adopt(Container& c) {
  for (size_t i = 0; i < warm_.size();) {
    if (warm_[i]->image_id != c.image_id) {
      i++;
      continue;
    }
    if (!alive(*warm_[i])) {
      std::unique_ptr<WarmInit> dead = std::move(warm_[i]);
      warm_.erase(warm_.begin() + ptrdiff_t(i));
      warm_drop(std::move(dead), [] {});
      continue;
    }
    WarmInit& w = *warm_[i];
    c.id = w.id;
    c.dir = w.dir;
    auto final = init_spec(c);
    if (final) {
      final->netns_fd = w.spec.netns_fd;
      final->cgroup_fd = w.spec.cgroup_fd;
    }
    if (!final || !runtime::can_release_as(w.spec, *final)) {
      c.id.clear();
      c.dir.clear();
      return false;  // the others of this image have the same shape
    }
    c.warm = std::move(warm_[i]);
    c.warm->adopted = true;
    warm_.erase(warm_.begin() + ptrdiff_t(i));
    return true;
  }
  return false;
}

// start(): hands the adopted warm init over as the container's process.
// Returns false (the caller spawns as usual) when it died meanwhile; its
// cgroup and directory stay for the container.
bool Engine::warm_take(Container& c, const runtime::Spec& spec, Process& proc, Result<void>* released) {
  std::unique_ptr<WarmInit> w = std::move(c.warm);
  if (!alive(*w)) {
    log::warn("engine", "id={}: its warm init (pid {}) died before the start; spawning anew", c.id, w->proc.pid);
    (void)runtime::kill(w->proc.pidfd.get(), SIGKILL);
    pollfd pf{w->proc.pidfd.get(), POLLIN, 0};
    ::poll(&pf, 1, -1);  // dead already, or dying from SIGKILL
    (void)runtime::reap(w->proc.pidfd.get());
    return false;
  }
  proc.pid = w->proc.pid;
  proc.pidfd = std::move(w->proc.pidfd);
  proc.error_fd = std::move(w->proc.error_fd);
  c.cgroup = std::move(w->cgroup);
  *released = apply_resources(c);
  hold_mount_namespace(c, proc);
  log::debug("engine", "release id={} pid={} (warm)", c.id, proc.pid);
  if (*released) *released = runtime::release(w->proc, spec);
  if (c.spec.tty) {
    proc.pty_handoff.pid = proc.pid;
    proc.pty_handoff.tty = true;
    proc.pty_handoff.sync_fd = std::move(w->proc.sync_fd);
  }
  return true;
}

// Kills `w` and, once it is gone, removes its cgroup and (unless a
// container has adopted its directory) its directory; then `then`.
void Engine::warm_drop(std::unique_ptr<WarmInit> w, std::function<void()> then) {
  WarmInit* wp = w.get();
  wp->after_exit = std::move(then);
  warm_dying_.push_back(std::move(w));
  if (!wp->proc.pidfd) return warm_dropped(wp);
  (void)runtime::kill(wp->proc.pidfd.get(), SIGKILL);
  wp->exit_c.set_callback([this, wp](int32_t, uint32_t) { warm_dropped(wp); });
  r_.poll(wp->proc.pidfd.get(), POLLIN, wp->exit_c);
}

void Engine::warm_dropped(WarmInit* wp) {
  if (wp->proc.pidfd) (void)runtime::reap(wp->proc.pidfd.get());
  auto it = std::find_if(warm_dying_.begin(), warm_dying_.end(), [wp](const auto& p) { return p.get() == wp; });
  std::shared_ptr<WarmInit> w(std::move(*it));
  warm_dying_.erase(it);
  w->proc = {};
  auto then = std::move(w->after_exit);
  warm_cleaning_++;
  bool queued = r_.run_background(
      [w] {
        if (w->cgroup) (void)w->cgroup->destroy();
        if (!w->adopted) (void)remove_tree(w->dir);
      },
      [this, then] {
        warm_cleaning_--;
        then();
        check_shutdown();
      });
  if (!queued) {
    warm_cleaning_--;
    then();
  }
}

void Engine::warm_drop_image(const std::string& image_id) {
  warm_wanted_.erase(image_id);
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

bool Engine::warm_busy() const { return !warm_building_.empty() || !warm_dying_.empty() || warm_cleaning_ > 0; }

}  // namespace berth::engine
