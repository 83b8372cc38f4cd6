// v1 pids controller. Kernel: Documentation/admin-guide/cgroup-v1/pids.rst.
#include <string>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"

namespace berth::cgroups {

Result<void> V1Cgroup::check_pids(const Resources& r) const {
  if (r.pids_limit.value_or(0) > 0 && !dir_of("pids")) {
    return Error::make(Code::kNotSupported, "set PIDs limit on cgroup {}: the pids controller is not mounted", path_);
  }
  return ok();
}

Result<void> V1Cgroup::set_pids(const Resources& r) {
  const std::string* dir = dir_of("pids");
  if (!dir || !r.pids_limit) return ok();
  return write_control(*dir, "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max");
}

Result<void> V1Cgroup::pids_stats(Stats& s) const {
  const std::string* dir = dir_of("pids");
  if (!dir) return ok();
  s.pids_current = BERTH_TRY(read_u64(*dir, "pids.current"));
  s.pids_limit = BERTH_TRY(read_limit(*dir, "pids.max"));
  return ok();
}

}  // namespace berth::cgroups
