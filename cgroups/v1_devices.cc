// v1 devices controller. Kernel: Documentation/admin-guide/cgroup-v1/devices.rst.
// A new cgroup inherits its parent's list (berthd's: usually "a *:* rwm");
// "a" into devices.deny empties it, then each rule is one devices.allow
// write. The writes cannot grant what the parent lacks (EPERM then).
#include <string>

#include "cgroups/control.h"
#include "cgroups/v1_cgroup.h"

namespace berth::cgroups {

Result<void> V1Cgroup::set_devices(const std::vector<DeviceRule>& rules) {
  const std::string* dir = dir_of("devices");
  if (!dir)
    return Error::make(Code::kNotSupported, "set the device allowlist of cgroup {}: the devices controller is not mounted",
                       path_);
  if (allows_all(rules)) return write_control(*dir, "devices.allow", "a");
  BERTH_TRY_VOID(write_control(*dir, "devices.deny", "a"));
  for (const std::string& line : v1_allow_lines(rules)) {
    auto r = write_control(*dir, "devices.allow", line);
    if (!r) return std::move(r.error()).context("allow devices \"{}\"", line);
  }
  return ok();
}

}  // namespace berth::cgroups
