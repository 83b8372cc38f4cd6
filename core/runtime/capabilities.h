// Linux capabilities by name, and Docker's rules for a container's set:
// the default set, --cap-add / --cap-drop (names with or without "CAP_",
// any case, and "ALL"), --privileged (every capability the kernel has).
//
// A capability set is a bit mask (bit N = capability N, as in
// /proc/<pid>/status and capset(2)). Bits above the running kernel's
// /proc/sys/kernel/cap_last_cap are dropped by the child (it asks the
// kernel), so a mask may name capabilities this kernel lacks.
//
// Pure functions over static tables; any thread.
#pragma once

#include <linux/capability.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace berth::runtime {

// Docker's default set (moby oci/caps/defaults.go): CHOWN, DAC_OVERRIDE,
// FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP,
// NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE (0xa80425fb).
inline constexpr uint64_t kDefaultCapabilities =
    (uint64_t(1) << CAP_CHOWN) | (uint64_t(1) << CAP_DAC_OVERRIDE) | (uint64_t(1) << CAP_FSETID) |
    (uint64_t(1) << CAP_FOWNER) | (uint64_t(1) << CAP_MKNOD) | (uint64_t(1) << CAP_NET_RAW) |
    (uint64_t(1) << CAP_SETGID) | (uint64_t(1) << CAP_SETUID) | (uint64_t(1) << CAP_SETFCAP) |
    (uint64_t(1) << CAP_SETPCAP) | (uint64_t(1) << CAP_NET_BIND_SERVICE) | (uint64_t(1) << CAP_SYS_CHROOT) |
    (uint64_t(1) << CAP_KILL) | (uint64_t(1) << CAP_AUDIT_WRITE);
inline uint64_t default_capabilities() { return kDefaultCapabilities; }

// Every capability this process may hand on: those of the kernel's
// (0..cap_last_cap) in its bounding set (berthd may itself run with a
// reduced one), read once.
uint64_t all_capabilities();

// The highest capability number of the running kernel.
int cap_last_cap();

// "CAP_SYS_ADMIN", "sys_admin", "Sys_Admin" -> 21; nullopt when unknown.
std::optional<int> capability_number(std::string_view name);

// 21 -> "CAP_SYS_ADMIN"; "" when the number is not a capability berth knows.
std::string_view capability_name(int number);

// "CAP_CHOWN", ... of each bit set, lowest first.
std::vector<std::string> capability_names(uint64_t mask);

// Normalizes a --cap-add/--cap-drop entry as Docker does: upper case,
// "CAP_" prefixed, "ALL" kept. kInvalidArgument "unknown capability:
// \"CAP_FOO\"" for a name that is no capability.
Result<std::string> normalize_capability(std::string_view name);

// The container's capability set (moby oci/caps TweakCapabilities):
//   privileged: every capability (adds and drops are not consulted);
//   "ALL" in adds: every capability but the dropped ones;
//   "ALL" in drops: only the added ones;
//   else the default set, minus drops, plus adds.
// Errors as normalize_capability().
Result<uint64_t> container_capabilities(const std::vector<std::string>& add, const std::vector<std::string>& drop,
                                        bool privileged);

}  // namespace berth::runtime
