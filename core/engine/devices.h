// The devices cgroup rules of a container (cgroups/devices.h) from its
// security options (runtime::Security): everything when privileged, else
// Docker's default allowlist, then each --device with its permissions, then
// --device-cgroup-rule. Pure but for apply_device_rules (a cgroup write:
// job lanes).
#pragma once

#include <vector>

#include "cgroups/cgroups.h"
#include "cgroups/devices.h"
#include "core/base/result.h"
#include "core/runtime/spec.h"

namespace berth::engine {

std::vector<cgroups::DeviceRule> device_cgroup_rules(const runtime::Security& s,
                                                     const std::vector<cgroups::DeviceRule>& user_rules);

// Cgroup::set_devices() of device_cgroup_rules(s, user_rules) on `cg`. A
// host without a v1 devices hierarchy (kNotSupported) is an error only
// when the container asked for something (privileged, devices, rules);
// Docker's default allowlist is then skipped and Ok(false) says so (the
// caller warns). Ok(true) when applied.
Result<bool> apply_device_rules(cgroups::Cgroup& cg, const runtime::Security& s,
                                const std::vector<cgroups::DeviceRule>& user_rules = {});

}  // namespace berth::engine
