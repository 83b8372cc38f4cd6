// The cgroup v1 driver: a container's cgroup is a same-named directory in
// every mounted controller hierarchy; see v1_cgroup.h.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"
#include "core/base/strings.h"

namespace berth::cgroups {
namespace {

bool carries(const V1Hierarchy& h, std::string_view controller) {
  return std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end();
}

// mkdir -p of `rel` below `mount`, component by component, so that a cpuset
// hierarchy can fill each level before the next is made under it.
Result<void> make_cgroup_dirs(const V1Hierarchy& h, const std::string& rel) {
  std::string cur = h.mount;
  for (const std::string& c : split(rel, '/')) {
    if (c.empty()) continue;
    std::string parent = cur;
    cur = join_path(cur, c);
    if (::mkdir(cur.c_str(), 0755) < 0 && errno != EEXIST) return Error::sys(errno, "mkdir {}", cur);
    if (carries(h, "cpuset")) {
      BERTH_TRY_VOID(copy_cpuset_if_empty(cur, parent));
      // Its children (the containers' leaves) are then made with its cpus
      // and mems by the kernel: no write per start, whose validation walks
      // every sibling (thousands at density).
      (void)write_control(cur, "cgroup.clone_children", "1");
    }
  }
  return ok();
}

// A new cpuset leaf takes its parent's cpus and mems; a parent left empty
// (a crash between its mkdir and its fill) is repaired by the whole-path
// walk, or every start would fail with ENOSPC.
Result<void> fill_cpuset(const V1Hierarchy& h, const std::string& rel, const std::string& dir) {
  BERTH_TRY_VOID(copy_cpuset_if_empty(dir, dir.substr(0, dir.rfind('/'))));
  for (std::string_view file : {"cpuset.cpus", "cpuset.mems"}) {
    std::optional<std::string> v = BERTH_TRY(read_control_if_exists(dir, file));
    if (v && trim(*v).empty()) return make_cgroup_dirs(h, rel);
  }
  return ok();
}

// `rel`'s parent, relative to the hierarchy's mount.
std::string parent_rel(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

// Where an on-demand directory's processes go while it is absent: its
// parent, made (and filled) first if a crash or a new --cgroup-parent left
// it missing.
Result<std::string> on_demand_parent(const V1Hierarchy& h, const std::string& rel) {
  std::string parent = join_path(h.mount, parent_rel(rel));
  if (::access(parent.c_str(), F_OK) < 0) BERTH_TRY_VOID(make_cgroup_dirs(h, parent_rel(rel)));
  return parent;
}

// The memory directory `dir` taken from `pool` (renamed to it): true when
// it now exists there from the pool; false (nothing kept there) sends the
// caller to mkdir. A kept one that cannot be renamed is removed.
bool take_pooled(MemcgPool& pool, const std::string& dir) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  for (std::string kept = pool.take(parent); !kept.empty(); kept = pool.take(parent)) {
    if (::rename(kept.c_str(), dir.c_str()) == 0) return true;
    int e = errno;
    (void)::rmdir(kept.c_str());
    if (e != ENOENT) return false;   // EEXIST: the name is taken (a crash left it); the mkdir path handles it
  }
  return false;
}

class V1Driver final : public Driver {
 public:
  V1Driver(std::vector<V1Hierarchy> hs, DriverOptions opts)
      : hs_(std::move(hs)), opts_(opts), pool_(opts.memcg_pool ? std::make_shared<MemcgPool>(opts.memcg_pool) : nullptr) {}

  void drain_pool() override {
    if (pool_) pool_->drain();
  }

  Version version() const override { return Version::kV1; }

  std::vector<std::string> controllers() const override {
    std::vector<std::string> out;
    for (const V1Hierarchy& h : hs_) out.insert(out.end(), h.controllers.begin(), h.controllers.end());
    return out;
  }

  // One directory per hierarchy, named as on the host ("cpu,cpuacct" where
  // those are co-mounted), with its controllers as the mount options.
  std::vector<ViewMount> container_view() const override {
    std::vector<ViewMount> out;
    for (const V1Hierarchy& h : hs_) {
      std::string opts;
      for (const auto& c : h.controllers) opts += (opts.empty() ? "" : ",") + c;
      std::string name = h.mount.substr(h.mount.rfind('/') + 1);
      out.push_back({name.empty() ? opts : name, "cgroup", opts});
    }
    return out;
  }

  // On the start path of every container: one mkdir per hierarchy when the
  // parent exists (the usual case); the whole path only when it does not.
  Result<std::unique_ptr<Cgroup>> create(std::string_view parent, std::string_view name) override {
    if (hs_.empty()) return Error::make(Code::kNotSupported, "create cgroup {}: no cgroup v1 hierarchy", name);
    std::vector<V1Cgroup::Dir> dirs;
    std::string path;
    Cgroup::CounterBase base{};
    for (const V1Hierarchy& h : hs_) {
      std::string rel = BERTH_TRY(cgroup_path(h.self, parent, name));
      std::string dir = join_path(h.mount, rel);
      if (made_on_demand(h.controllers)) {
        auto up = on_demand_parent(h, rel);
        if (!up) return std::move(up.error()).context("create cgroup {}", rel);
        dirs.push_back({h.controllers, std::move(dir), false, std::move(*up)});
        continue;
      }
      Result<void> made = ok();
      if (pool_ && pooled_hierarchy(h.controllers) && take_pooled(*pool_, dir)) {
        auto counted = read_memcg_counters(dir);
        if (counted) base = *counted;
        else made = std::move(counted.error());
      } else if (::mkdir(dir.c_str(), 0755) == 0) {
        if (carries(h, "cpuset")) made = fill_cpuset(h, rel, dir);
      } else if (errno == ENOENT) {
        made = make_cgroup_dirs(h, rel);
      } else if (errno == EEXIST) {
        if (carries(h, "cpuset")) made = make_cgroup_dirs(h, rel);  // fills a level left empty by a crash
      } else {
        made = Error::sys(errno, "mkdir {}", dir);
      }
      if (!made) return std::move(made.error()).context("create cgroup {}", rel);
      if (path.empty() || carries(h, "memory")) path = rel;
      dirs.push_back({h.controllers, std::move(dir)});
    }
    auto cg = std::make_unique<V1Cgroup>(std::move(dirs), std::move(path), opts_, pool_);
    cg->set_counter_base(base);
    return std::unique_ptr<Cgroup>(std::move(cg));
  }

  // The hierarchies that have the directory: one left half-made (a crash
  // between create()'s mkdirs) opens with what it has, so that it can be
  // destroyed. kNotFound when none has it.
  Result<std::unique_ptr<Cgroup>> open(std::string_view parent, std::string_view name) override {
    return open_with(parent, name, [](size_t, const std::string& dir) -> Result<bool> {
      struct stat st;
      if (::stat(dir.c_str(), &st) == 0) return true;
      if (errno != ENOENT) return Error::sys(errno, "open cgroup {}", dir);
      return false;
    });
  }

  // The same for every name in the parent's directory of any hierarchy,
  // from one readdir of each.
  Result<std::map<std::string, std::unique_ptr<Cgroup>>> open_all(std::string_view parent) override {
    std::map<std::string, std::vector<bool>> listed;   // name -> in which hierarchies
    for (size_t i = 0; i < hs_.size(); i++) {
      std::string dir = join_path(hs_[i].mount, BERTH_TRY(cgroup_parent_path(hs_[i].self, parent)));
      for (std::string& name : BERTH_TRY(child_cgroups(dir))) {
        auto& in = listed[std::move(name)];
        in.resize(hs_.size());
        in[i] = true;
      }
    }
    std::map<std::string, std::unique_ptr<Cgroup>> out;
    for (auto& [name, in] : listed) {
      auto cg = open_with(parent, name, [&in](size_t i, const std::string&) -> Result<bool> { return bool(in[i]); });
      if (cg) out.emplace(name, std::move(*cg));
      else if (cg.error().code() != Code::kNotFound && cg.error().code() != Code::kInvalidArgument) return std::move(cg.error());
    }
    return out;
  }

 private:
  // open() with `present(i, dir)` saying whether hierarchy i has the directory.
  template <class Present>
  Result<std::unique_ptr<Cgroup>> open_with(std::string_view parent, std::string_view name, Present present) {
    if (hs_.empty()) return Error::make(Code::kNotSupported, "open cgroup {}: no cgroup v1 hierarchy", name);
    std::vector<V1Cgroup::Dir> dirs;
    std::string path;
    Error missing(Code::kNotFound, fmt::format("open cgroup {}: no such cgroup", name));
    for (size_t i = 0; i < hs_.size(); i++) {
      const V1Hierarchy& h = hs_[i];
      std::string rel = BERTH_TRY(cgroup_path(h.self, parent, name));
      std::string dir = join_path(h.mount, rel);
      if (!BERTH_TRY(present(i, dir))) {
        missing = Error::sys(ENOENT, "open cgroup {}", dir);
        if (made_on_demand(h.controllers))
          dirs.push_back({h.controllers, std::move(dir), false, join_path(h.mount, parent_rel(rel))});
        continue;
      }
      if (path.empty() || carries(h, "memory")) path = rel;
      dirs.push_back({h.controllers, std::move(dir)});
    }
    if (std::none_of(dirs.begin(), dirs.end(), [](const V1Cgroup::Dir& d) { return d.present; })) return missing;
    return std::unique_ptr<Cgroup>(new V1Cgroup(std::move(dirs), std::move(path), opts_, pool_));
  }

  std::vector<V1Hierarchy> hs_;
  DriverOptions opts_;
  std::shared_ptr<MemcgPool> pool_;
};

}  // namespace

std::unique_ptr<Driver> make_v1(std::vector<V1Hierarchy> hierarchies, DriverOptions opts) {
  return std::make_unique<V1Driver>(std::move(hierarchies), opts);
}

std::string MemcgPool::take(const std::string& parent) {
  std::lock_guard lock(mu_);
  std::vector<std::string>& kept = kept_locked(parent);
  if (kept.empty()) return "";
  std::string dir = std::move(kept.back());
  kept.pop_back();
  count_--;
  return dir;
}

// The first time a parent is asked for, the kept directories a berthd that
// ended without drain() left there are taken up: reset before they were
// kept, and nothing can have joined them since (no process knows their
// names), so they are as good as ours. Past the bound they go.
std::vector<std::string>& MemcgPool::kept_locked(const std::string& parent) {
  std::vector<std::string>& kept = free_[parent];
  if (!adopted_.insert(parent).second) return kept;
  auto names = child_cgroups(parent);
  if (!names) return kept;
  for (const std::string& n : *names) {
    if (n.rfind(kPrefix, 0) != 0) continue;
    std::string dir = join_path(parent, n);
    if (count_ < bound_) {
      kept.push_back(std::move(dir));
      count_++;
    } else {
      (void)::rmdir(dir.c_str());
    }
  }
  return kept;
}

bool MemcgPool::give(const std::string& dir) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  std::string kept;
  {
    std::lock_guard lock(mu_);
    kept_locked(parent);   // what a crashed berthd left counts against the bound
    if (count_ >= bound_) return false;
    count_++;   // reserved while it is reset, off the lock
    kept = join_path(parent, fmt::format("{}{}-{}", kPrefix, ::getpid(), ++seq_));
  }
  auto clean = recycle_memcg(dir);
  bool kept_ok = clean && *clean && ::rename(dir.c_str(), kept.c_str()) == 0;
  std::lock_guard lock(mu_);
  if (!kept_ok) {
    count_--;
    return false;
  }
  free_[parent].push_back(std::move(kept));
  return true;
}

void MemcgPool::drain() {
  std::map<std::string, std::vector<std::string>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(free_);
    count_ = 0;
  }
  for (auto& [parent, dirs] : all)
    for (const std::string& d : dirs) (void)remove_cgroup_dir(d);
}

bool pooled_hierarchy(const std::vector<std::string>& controllers) {
  return controllers.size() == 1 && controllers[0] == "memory";
}

bool made_on_demand(const std::vector<std::string>& controllers) {
  return !controllers.empty() &&
         std::all_of(controllers.begin(), controllers.end(), [](const std::string& c) { return c == "cpuset"; });
}

const std::string* V1Cgroup::dir_of(std::string_view controller) const {
  for (const Dir& d : dirs_) {
    if (d.present && std::find(d.controllers.begin(), d.controllers.end(), controller) != d.controllers.end()) return &d.path;
  }
  return nullptr;
}

const V1Cgroup::Dir* V1Cgroup::absent_of(std::string_view controller) const {
  for (const Dir& d : dirs_) {
    if (!d.present && std::find(d.controllers.begin(), d.controllers.end(), controller) != d.controllers.end()) return &d;
  }
  return nullptr;
}

// An absent directory's hierarchy gets the process in the parent: where
// berthd's spawner sits there may be outside a --cgroup-parent's cpuset.
Result<void> V1Cgroup::add_process(pid_t pid) {
  for (const Dir& d : dirs_) {
    const std::string& dir = d.present ? d.path : d.parent;
    auto r = write_control(dir, "cgroup.procs", std::to_string(pid));
    if (!r && !d.present && r.error().sys_errno() == ENOSPC) {
      // A parent left without cpus or mems (a crash between its mkdir
      // and its fill): fill it from its own parent, then once more.
      auto filled = copy_cpuset_if_empty(dir, dir.substr(0, dir.rfind('/')));
      r = filled ? write_control(dir, "cgroup.procs", std::to_string(pid)) : std::move(filled);
    }
    if (!r) return std::move(r.error()).context("add pid {} to cgroup", pid);
  }
  return ok();
}

const std::string* V1Cgroup::procs_dir() const {
  if (const std::string* d = dir_of("pids")) return d;
  if (const std::string* d = dir_of("memory")) return d;
  for (const Dir& d : dirs_)
    if (d.present) return &d.path;
  return nullptr;
}

Result<std::vector<pid_t>> V1Cgroup::pids() {
  const std::string* dir = procs_dir();
  if (!dir) return std::vector<pid_t>();
  return read_procs(*dir);
}

Result<void> V1Cgroup::set(const Resources& r) {
  BERTH_TRY_VOID(check_memory(r));
  BERTH_TRY_VOID(check_cpu(r));
  BERTH_TRY_VOID(check_pids(r));
  BERTH_TRY_VOID(check_blkio(r));
  BERTH_TRY_VOID(set_memory(r));
  BERTH_TRY_VOID(set_cpu(r));
  BERTH_TRY_VOID(set_pids(r));
  BERTH_TRY_VOID(set_blkio(r));
  return ok();
}

Result<Stats> V1Cgroup::stats() {
  Stats s;
  BERTH_TRY_VOID(memory_stats(s));
  BERTH_TRY_VOID(cpu_stats(s));
  BERTH_TRY_VOID(pids_stats(s));
  BERTH_TRY_VOID(blkio_stats(s));
  return s;
}

Result<void> V1Cgroup::destroy() {
  Result<void> first = ok();
  for (const Dir& d : dirs_) {
    if (!d.present) continue;
    if (pool_ && pooled_hierarchy(d.controllers) && pool_->give(d.path)) continue;
    auto r = remove_cgroup_dir(d.path);
    if (!r && first) first = std::move(r);
  }
  return first;
}

}  // namespace berth::cgroups
