// v1 cpu (shares, CFS bandwidth), cpuacct (usage) and cpuset controllers.
// Kernel: Documentation/scheduler/sched-bwc.rst, cgroup-v1/cpuacct.rst,
// cgroup-v1/cpusets.rst.
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"

namespace berth::cgroups {
namespace {

// Docker turns NanoCpus into a quota over a fixed 100 ms period.
constexpr int64_t kNanoCpuPeriodUs = 100000;

// The kernel validates period and quota together against the parent's
// bandwidth, so one order can fail (EINVAL) where the other succeeds: try
// the period first and, if refused, the quota first (as runc does).
Result<void> write_cfs(const std::string& dir, std::optional<int64_t> period, std::optional<int64_t> quota) {
  if (period) {
    auto w = write_control(dir, "cpu.cfs_period_us", std::to_string(*period));
    if (!w) {
      if (w.error().sys_errno() != EINVAL || !quota) return w;
      BERTH_TRY_VOID(write_control(dir, "cpu.cfs_quota_us", std::to_string(*quota)));
      return write_control(dir, "cpu.cfs_period_us", std::to_string(*period));
    }
  }
  if (quota) BERTH_TRY_VOID(write_control(dir, "cpu.cfs_quota_us", std::to_string(*quota)));
  return ok();
}

// USER_HZ ticks (cpuacct.stat) to nanoseconds.
uint64_t ticks_to_ns(uint64_t ticks) {
  static const long hz = ::sysconf(_SC_CLK_TCK) > 0 ? ::sysconf(_SC_CLK_TCK) : 100;
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ticks) * 1000000000u / hz);
}

}  // namespace

Result<void> V1Cgroup::check_cpu(const Resources& r) const {
  bool shares = r.cpu_shares.value_or(0) > 0;
  bool cfs = r.nano_cpus.value_or(0) > 0 || r.cpu_period.value_or(0) > 0 || r.cpu_quota.value_or(0) > 0;
  const std::string* cpu = dir_of("cpu");
  if ((shares || cfs) && !cpu) {
    return Error::make(Code::kNotSupported, "set CPU limit on cgroup {}: the cpu controller is not mounted", path_);
  }
  if (cfs && !has_control(*cpu, "cpu.cfs_quota_us")) {
    return Error::make(Code::kNotSupported,
                       "set CPU quota on cgroup {}: the kernel has no CFS bandwidth control (cpu.cfs_quota_us)", path_);
  }
  if (r.sets_cpuset() && !dir_of("cpuset") && !absent_of("cpuset")) {
    return Error::make(Code::kNotSupported, "set cpuset on cgroup {}: the cpuset controller is not mounted", path_);
  }
  return ok();
}

Result<void> V1Cgroup::set_cpu(const Resources& r) {
  if (const std::string* dir = dir_of("cpu")) {
    if (r.cpu_shares.value_or(0) > 0) BERTH_TRY_VOID(write_control(*dir, "cpu.shares", std::to_string(*r.cpu_shares)));
    std::optional<int64_t> period, quota;
    if (r.nano_cpus) {
      if (*r.nano_cpus > 0) period = kNanoCpuPeriodUs;
      quota = *r.nano_cpus > 0 ? *r.nano_cpus * kNanoCpuPeriodUs / 1000000000 : -1;
    } else {
      if (r.cpu_period.value_or(0) > 0) period = *r.cpu_period;
      if (r.cpu_quota) quota = *r.cpu_quota > 0 ? *r.cpu_quota : -1;
    }
    BERTH_TRY_VOID(write_cfs(*dir, period, quota));
  }
  if (r.sets_cpuset() && !dir_of("cpuset")) BERTH_TRY_VOID(materialize("cpuset"));
  if (const std::string* dir = dir_of("cpuset")) {
    if (!r.cpuset_cpus.value_or("").empty()) BERTH_TRY_VOID(write_control(*dir, "cpuset.cpus", *r.cpuset_cpus));
    if (!r.cpuset_mems.value_or("").empty()) BERTH_TRY_VOID(write_control(*dir, "cpuset.mems", *r.cpuset_mems));
  }
  return ok();
}

Result<void> V1Cgroup::cpu_stats(Stats& s) const {
  if (const std::string* dir = dir_of("cpuacct")) {
    s.cpu_total_ns = BERTH_TRY(read_u64(*dir, "cpuacct.usage"));
    for (const std::string& w : words(BERTH_TRY(read_control(*dir, "cpuacct.usage_percpu")))) {
      s.cpu_percpu_ns.push_back(parse_u64(w).value_or(0));
    }
    std::string st = BERTH_TRY(read_control(*dir, "cpuacct.stat"));
    s.cpu_user_ns = ticks_to_ns(keyed_value(st, "user").value_or(0));
    s.cpu_system_ns = ticks_to_ns(keyed_value(st, "system").value_or(0));
  }
  if (const std::string* dir = dir_of("cpu")) {
    std::optional<std::string> st = BERTH_TRY(read_control_if_exists(*dir, "cpu.stat"));
    if (st) {
      s.throttling_periods = keyed_value(*st, "nr_periods").value_or(0);
      s.throttled_periods = keyed_value(*st, "nr_throttled").value_or(0);
      s.throttled_time_ns = keyed_value(*st, "throttled_time").value_or(0);
    }
  }
  return ok();
}

Result<void> V1Cgroup::materialize(std::string_view controller) {
  const Dir* absent = absent_of(controller);
  if (!absent) return ok();
  Dir& d = dirs_[size_t(absent - dirs_.data())];
  if (::mkdir(d.path.c_str(), 0755) < 0 && errno != EEXIST) return Error::sys(errno, "mkdir {}", d.path);
  // The parent first: one left empty by a crash would leave the leaf so.
  Result<void> moved = copy_cpuset_if_empty(d.parent, d.parent.substr(0, d.parent.rfind('/')));
  if (moved) moved = copy_cpuset_if_empty(d.path, d.parent);
  // Frozen, the container's processes cannot fork past the read of its
  // list; one already frozen (paused) stays so.
  bool froze = false;
  if (moved && dir_of("freezer") && !frozen().value_or(true)) {
    moved = freeze();
    froze = bool(moved);
  }
  if (moved) {
    const std::string* procs = procs_dir();
    auto pids = procs ? read_procs(*procs) : Result<std::vector<pid_t>>(std::vector<pid_t>());
    if (!pids) moved = std::move(pids.error());
    for (pid_t pid : pids ? *pids : std::vector<pid_t>()) {
      auto w = write_control(d.path, "cgroup.procs", std::to_string(pid));
      if (!w && w.error().sys_errno() != ESRCH) {
        moved = std::move(w);
        break;
      }
    }
  }
  if (froze) (void)thaw();
  if (!moved) {
    // Its processes back where they were, and the directory gone.
    if (auto left = read_procs(d.path); left)
      for (pid_t pid : *left) (void)write_control(d.parent, "cgroup.procs", std::to_string(pid));
    (void)::rmdir(d.path.c_str());
    return std::move(moved.error()).context("make the {} cgroup of {}", controller, path_);
  }
  d.present = true;
  return ok();
}

Result<void> copy_cpuset_if_empty(const std::string& dir, const std::string& parent) {
  for (std::string_view file : {"cpuset.cpus", "cpuset.mems"}) {
    std::optional<std::string> cur = BERTH_TRY(read_control_if_exists(dir, file));
    if (!cur || !trim(*cur).empty()) continue;
    std::string from = BERTH_TRY(read_control(parent, file));
    if (trim(from).empty()) continue;  // the parent is empty too: nothing to give
    BERTH_TRY_VOID(write_control(dir, file, trim(from)));
  }
  return ok();
}

}  // namespace berth::cgroups
