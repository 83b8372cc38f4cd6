// v2 device access: cgroup v2 has no devices files; a BPF device program
// attached to the cgroup decides (device_bpf.h). The program stays attached
// (the attachment holds it) until the cgroup is removed.
#include "cgroups/device_bpf.h"
#include "cgroups/v2_cgroup.h"

namespace berth::cgroups {

Result<void> V2Cgroup::set_devices(const std::vector<DeviceRule>& rules) {
  unique_fd prog = BERTH_TRY_CTX(load_device_program(device_program(rules)), "cgroup {}", path_);
  if (auto r = attach_device_program(fd_.get(), prog.get()); !r) return std::move(r.error()).context("cgroup {}", path_);
  if (auto r = detach_other_device_programs(fd_.get(), prog.get()); !r)
    return std::move(r.error()).context("cgroup {}", path_);
  return ok();
}

}  // namespace berth::cgroups
