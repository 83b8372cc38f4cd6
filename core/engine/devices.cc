// Devices cgroup rules of containers (devices.h).
#include "core/engine/devices.h"

namespace berth::engine {

std::vector<cgroups::DeviceRule> device_cgroup_rules(const runtime::Security& s,
                                                     const std::vector<cgroups::DeviceRule>& user_rules) {
  std::vector<cgroups::DeviceRule> extra;
  for (const runtime::Device& d : s.devices) {
    cgroups::DeviceRule r{.type = d.type, .major = d.major, .minor = d.minor};
    (void)cgroups::parse_device_access(d.permissions, &r.access);
    extra.push_back(r);
  }
  extra.insert(extra.end(), user_rules.begin(), user_rules.end());
  return cgroups::container_device_rules(s.privileged, extra);
}

Result<bool> apply_device_rules(cgroups::Cgroup& cg, const runtime::Security& s,
                                const std::vector<cgroups::DeviceRule>& user_rules) {
  auto r = cg.set_devices(device_cgroup_rules(s, user_rules));
  if (r) return true;
  bool asked = s.privileged || !s.devices.empty() || !user_rules.empty();
  if (r.error().code() == Code::kNotSupported && !asked) return false;
  return std::move(r.error());
}

}  // namespace berth::engine
