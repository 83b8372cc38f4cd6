// The cgroup v2 driver: one directory per container in the unified
// hierarchy; see v2_cgroup.h. Kernel: Documentation/admin-guide/cgroup-v2.rst.
#include <fcntl.h>
#include <sys/stat.h>

#include "cgroups/control.h"
#include "cgroups/v2_cgroup.h"
#include "core/base/strings.h"

namespace berth::cgroups {
namespace {

bool in(const std::vector<std::string>& v, std::string_view s) {
  for (const std::string& x : v) {
    if (x == s) return true;
  }
  return false;
}

// Enables in `dir`'s cgroup.subtree_control the container controllers its
// cgroup.controllers offers, so that its children get them. Failures the
// kernel uses for "cannot here" are left for set() to report: EBUSY is the
// no-internal-processes rule (a non-root cgroup with processes of its own
// cannot delegate: the case of a relative parent under berthd's own cgroup),
// EINVAL e.g. cpu while realtime tasks are in it. Per controller, so one
// refusal does not cost the others.
//
// The containers' own parent (`leaves`) gets no cpuset: every cpuset
// cgroup's creation and removal walks its siblings, which at thousands of
// containers is most of a start's kernel time; V2Cgroup::set() enables it
// there when a container first asks for a cpuset (from then on, that
// parent's containers all carry one).
Result<void> enable_controllers(const std::string& dir, bool leaves) {
  std::optional<std::string> offered = BERTH_TRY(read_control_if_exists(dir, "cgroup.controllers"));
  std::optional<std::string> enabled = BERTH_TRY(read_control_if_exists(dir, "cgroup.subtree_control"));
  if (!offered || !enabled) return ok();
  std::vector<std::string> have = words(*offered), on = words(*enabled), want;
  for (std::string_view c : kV2Controllers) {
    if (leaves && c == "cpuset") continue;
    if (in(have, c) && !in(on, c)) want.push_back("+" + std::string(c));
  }
  if (want.empty()) return ok();
  std::string all = want.front();
  for (size_t i = 1; i < want.size(); ++i) all += " " + want[i];
  if (write_control(dir, "cgroup.subtree_control", all)) return ok();
  for (const std::string& c : want) {
    auto w = write_control(dir, "cgroup.subtree_control", c);
    int err = w ? 0 : w.error().sys_errno();
    if (err != 0 && err != EBUSY && err != EINVAL && err != ENOENT && err != EOPNOTSUPP) return w;
  }
  return ok();
}

class V2Driver final : public Driver {
 public:
  V2Driver(std::string mount, std::string self, DriverOptions opts)
      : mount_(std::move(mount)), self_(join_path("/", self)), opts_(opts) {}

  Version version() const override { return Version::kV2; }

  std::vector<std::string> controllers() const override {
    auto s = read_control_if_exists(mount_, "cgroup.controllers");
    return s && *s ? words(**s) : std::vector<std::string>();
  }

  std::vector<ViewMount> container_view() const override { return {{"", "cgroup2", ""}}; }

  // Top-down: a level's controllers must be enabled before its child is
  // made, or the child does not get them.
  Result<std::unique_ptr<Cgroup>> create(std::string_view parent, std::string_view name) override {
    std::string rel = BERTH_TRY(cgroup_path(self_, parent, name));
    std::string cur = creation_start(self_, parent);
    std::string_view below = std::string_view(rel).substr(cur == "/" ? 0 : cur.size());
    std::vector<std::string> levels;
    for (const std::string& c : split(below, '/'))
      if (!c.empty()) levels.push_back(c);
    for (size_t i = 0; i < levels.size(); ++i) {
      const std::string& c = levels[i];
      auto en = enable_controllers(join_path(mount_, cur), i + 1 == levels.size());
      if (!en) return std::move(en.error()).context("create cgroup {}", rel);
      cur = join_path(cur, c);
      std::string dir = join_path(mount_, cur);
      if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
        return Error::sys(errno, "mkdir {}", dir).context("create cgroup {}", rel);
      }
    }
    return open(parent, name);
  }

  Result<std::unique_ptr<Cgroup>> open(std::string_view parent, std::string_view name) override {
    std::string rel = BERTH_TRY(cgroup_path(self_, parent, name));
    std::string dir = join_path(mount_, rel);
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Error::sys(errno, "open cgroup {}", dir);
    return std::unique_ptr<Cgroup>(new V2Cgroup(std::move(dir), std::move(rel), std::move(fd), opts_));
  }

  // One tree: the listing only saves looking for names that are not there.
  Result<std::map<std::string, std::unique_ptr<Cgroup>>> open_all(std::string_view parent) override {
    std::map<std::string, std::unique_ptr<Cgroup>> out;
    std::string dir = join_path(mount_, BERTH_TRY(cgroup_parent_path(self_, parent)));
    for (const std::string& n : BERTH_TRY(child_cgroups(dir)))
      if (auto cg = open(parent, n)) out.emplace(n, std::move(*cg));   // a name it refuses is skipped too
    return out;
  }

 private:
  std::string mount_;
  std::string self_;
  DriverOptions opts_;
};

}  // namespace

std::unique_ptr<Driver> make_v2(std::string mount, std::string self, DriverOptions opts) {
  return std::make_unique<V2Driver>(std::move(mount), std::move(self), opts);
}

Error V2Cgroup::missing(std::string_view what, std::string_view file) const {
  return Error::make(Code::kNotSupported,
                     "set {} on cgroup {}: no {} (its controller is not enabled here; cgroup v2 enables "
                     "controllers only below cgroups without processes of their own)",
                     what, path_, file);
}

Result<void> V2Cgroup::add_process(pid_t pid) {
  auto r = write_control(dir_, "cgroup.procs", std::to_string(pid));
  if (!r) return std::move(r.error()).context("add pid {} to cgroup", pid);
  return ok();
}

Result<std::vector<pid_t>> V2Cgroup::pids() { return read_procs(dir_); }

Result<void> V2Cgroup::set(const Resources& r) {
  if (r.sets_cpuset() && !has_control(dir_, "cpuset.cpus")) {
    // Not enabled for the containers' parent until asked for (see
    // enable_controllers); a refusal is reported by check_cpu by name.
    std::string parent = dir_.substr(0, dir_.rfind('/'));
    std::optional<std::string> offered = BERTH_TRY(read_control_if_exists(parent, "cgroup.controllers"));
    if (offered && in(words(*offered), "cpuset")) (void)write_control(parent, "cgroup.subtree_control", "+cpuset");
  }
  BERTH_TRY_VOID(check_memory(r));
  BERTH_TRY_VOID(check_cpu(r));
  BERTH_TRY_VOID(check_pids(r));
  BERTH_TRY_VOID(check_io(r));
  BERTH_TRY_VOID(set_memory(r));
  BERTH_TRY_VOID(set_cpu(r));
  BERTH_TRY_VOID(set_pids(r));
  BERTH_TRY_VOID(set_io(r));
  return ok();
}

Result<Stats> V2Cgroup::stats() {
  Stats s;
  BERTH_TRY_VOID(memory_stats(s));
  BERTH_TRY_VOID(cpu_stats(s));
  BERTH_TRY_VOID(pids_stats(s));
  BERTH_TRY_VOID(io_stats(s));
  return s;
}

Result<void> V2Cgroup::destroy() { return remove_cgroup_dir(dir_); }

}  // namespace berth::cgroups
