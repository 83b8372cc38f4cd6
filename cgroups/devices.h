// The devices a container may use: Docker's default allowlist, --device and
// --device-cgroup-rule entries, as rules the two drivers apply with
// Cgroup::set_devices():
//   - v1: "a" into devices.deny, then each rule into devices.allow
//     (Documentation/admin-guide/cgroup-v1/devices.rst);
//   - v2: a BPF_PROG_TYPE_CGROUP_DEVICE program (device_bpf.h) attached to
//     the cgroup with BPF_CGROUP_DEVICE; v2 has no devices files.
// Everything not allowed is denied: opening a node for reading or writing
// fails with EPERM, and so does mknod (the "m" access) of a node not
// allowed it. Docker's defaults allow mknod of any node ("c *:* m", "b *:*
// m") but no access to nodes other than the few below, so a node made by
// the container (mknod /dev/v c 7 0) cannot be opened.
//
// Pure data and parsing; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::cgroups {

inline constexpr uint8_t kDeviceMknod = 1, kDeviceRead = 2, kDeviceWrite = 4;
inline constexpr uint8_t kDeviceAll = kDeviceMknod | kDeviceRead | kDeviceWrite;

struct DeviceRule {
  char type = 'a';            // 'a' (every device, any type), 'c' or 'b'
  int64_t major = -1;         // -1: any ("*")
  int64_t minor = -1;
  uint8_t access = kDeviceAll;
  bool operator==(const DeviceRule&) const = default;
};

// "c 1:3 rwm", "b *:* m", "a *:* rwm" (the devices.allow syntax and
// Docker's --device-cgroup-rule). kInvalidArgument with Docker's message
// "invalid device cgroup format 'x'" otherwise.
Result<DeviceRule> parse_device_rule(std::string_view s);

// "rwm", "r", "wm"... -> access bits; each letter at most once, at least
// one. nullopt-like false when invalid.
bool parse_device_access(std::string_view s, uint8_t* access);

// "c 1:3 rwm", "a *:* rwm" (as the rule was written).
std::string format_device_rule(const DeviceRule& r);

// The v1 devices.allow lines for `rules`: one each ("c 1:3 rwm"); "a" for
// a rule allowing everything; an 'a' rule that allows less is written as a
// 'c' and a 'b' line (v1 reads "a" as everything, whatever follows it).
std::vector<std::string> v1_allow_lines(const std::vector<DeviceRule>& rules);

// Docker's default allowlist (moby oci/defaults.go): mknod of any node;
// null, zero, full, random, urandom, tty, ptmx, the pseudo-terminal slaves
// (136:*) and /dev/net/tun.
const std::vector<DeviceRule>& default_device_rules();

// What a container's cgroup gets: with `privileged` everything ("a *:*
// rwm"); else the defaults, then `extra` (its --device nodes and
// --device-cgroup-rule entries), in order.
std::vector<DeviceRule> container_device_rules(bool privileged, const std::vector<DeviceRule>& extra);

// Whether `rules` allow everything (one 'a' rule with all access and any
// major and minor).
bool allows_all(const std::vector<DeviceRule>& rules);

}  // namespace berth::cgroups
