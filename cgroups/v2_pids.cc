// v2 pids controller. Kernel: Documentation/admin-guide/cgroup-v2.rst, "PID".
#include <string>

#include "cgroups/control.h"
#include "cgroups/v2_cgroup.h"

namespace berth::cgroups {

Result<void> V2Cgroup::check_pids(const Resources& r) const {
  if (r.pids_limit.value_or(0) > 0 && !has_control(dir_, "pids.max")) return missing("PIDs limit", "pids.max");
  return ok();
}

Result<void> V2Cgroup::set_pids(const Resources& r) {
  if (!r.pids_limit || !has_control(dir_, "pids.max")) return ok();
  return write_control(dir_, "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max");
}

Result<void> V2Cgroup::pids_stats(Stats& s) const {
  std::optional<std::string> current = BERTH_TRY(read_control_if_exists(dir_, "pids.current"));
  if (!current) return ok();
  s.pids_current = parse_u64(*current).value_or(0);
  s.pids_limit = BERTH_TRY(read_limit(dir_, "pids.max"));
  return ok();
}

}  // namespace berth::cgroups
