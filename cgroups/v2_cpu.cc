// v2 cpu (cpu.weight, cpu.max, cpu.stat) and cpuset controllers.
// Kernel: Documentation/admin-guide/cgroup-v2.rst, "CPU" and "Cpuset".
#include <algorithm>
#include <string>

#include "cgroups/control.h"
#include "cgroups/v2_cgroup.h"

namespace berth::cgroups {
namespace {

constexpr int64_t kNanoCpuPeriodUs = 100000;  // Docker: NanoCpus over 100 ms

// v1 shares [2, 262144] onto v2 weight [1, 10000], linearly; the formula
// runc and crun use, so a container gets the same weight under any of them.
int64_t shares_to_weight(int64_t shares) {
  shares = std::clamp<int64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

// cpu.max is "$QUOTA $PERIOD" with "max" for no quota; writing only the
// quota keeps the period.
Result<std::string> cpu_max_value(const std::string& dir, const Resources& r) {
  if (r.nano_cpus) {
    int64_t nano = *r.nano_cpus;
    if (nano <= 0) return std::string("max");
    return std::to_string(nano * kNanoCpuPeriodUs / 1000000000) + " " + std::to_string(kNanoCpuPeriodUs);
  }
  std::string quota;
  if (r.cpu_quota) {
    quota = *r.cpu_quota > 0 ? std::to_string(*r.cpu_quota) : "max";
  } else {  // a period alone keeps the quota in force
    std::vector<std::string> cur = words(BERTH_TRY(read_control(dir, "cpu.max")));
    quota = cur.empty() ? "max" : cur.front();
  }
  if (r.cpu_period.value_or(0) > 0) quota += " " + std::to_string(*r.cpu_period);
  return quota;
}

}  // namespace

Result<void> V2Cgroup::check_cpu(const Resources& r) const {
  if (r.cpu_shares.value_or(0) > 0 && !has_control(dir_, "cpu.weight")) return missing("CPU shares", "cpu.weight");
  bool cfs = r.nano_cpus.value_or(0) > 0 || r.cpu_period.value_or(0) > 0 || r.cpu_quota.value_or(0) > 0;
  if (cfs && !has_control(dir_, "cpu.max")) return missing("CPU quota", "cpu.max");
  if (r.sets_cpuset() && !has_control(dir_, "cpuset.cpus")) return missing("cpuset", "cpuset.cpus");
  return ok();
}

Result<void> V2Cgroup::set_cpu(const Resources& r) {
  if (r.cpu_shares.value_or(0) > 0) {
    BERTH_TRY_VOID(write_control(dir_, "cpu.weight", std::to_string(shares_to_weight(*r.cpu_shares))));
  }
  bool cfs = r.nano_cpus || r.cpu_quota || r.cpu_period.value_or(0) > 0;
  if (cfs && has_control(dir_, "cpu.max")) {
    std::string value = BERTH_TRY(cpu_max_value(dir_, r));
    BERTH_TRY_VOID(write_control(dir_, "cpu.max", value));
  }
  if (!r.cpuset_cpus.value_or("").empty()) BERTH_TRY_VOID(write_control(dir_, "cpuset.cpus", *r.cpuset_cpus));
  if (!r.cpuset_mems.value_or("").empty()) BERTH_TRY_VOID(write_control(dir_, "cpuset.mems", *r.cpuset_mems));
  return ok();
}

// cpu.stat exists with or without the cpu controller (usage since 4.15);
// the nr_* and throttled_usec lines only with it.
Result<void> V2Cgroup::cpu_stats(Stats& s) const {
  std::optional<std::string> st = BERTH_TRY(read_control_if_exists(dir_, "cpu.stat"));
  if (!st) return ok();
  s.cpu_total_ns = keyed_value(*st, "usage_usec").value_or(0) * 1000;
  s.cpu_user_ns = keyed_value(*st, "user_usec").value_or(0) * 1000;
  s.cpu_system_ns = keyed_value(*st, "system_usec").value_or(0) * 1000;
  s.throttling_periods = keyed_value(*st, "nr_periods").value_or(0);
  s.throttled_periods = keyed_value(*st, "nr_throttled").value_or(0);
  s.throttled_time_ns = keyed_value(*st, "throttled_usec").value_or(0) * 1000;
  return ok();
}

}  // namespace berth::cgroups
