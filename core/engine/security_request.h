// What a container asked for to be confined (HostConfig.Privileged,
// CapAdd/CapDrop, SecurityOpt, Devices, DeviceCgroupRules, GroupAdd,
// Ulimits, Sysctls, ShmSize, Pid/Ipc/UTSMode), checked and normalized by
// parse_security_request() (security_options.h). A plain value: part of
// the CreateSpec and the state file (security_state.h); the engine turns
// it into the runtime's Security at each start (to_runtime_security(),
// and the devices, pidfds and /dev/shm it adds itself).
//
// Any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cgroups/devices.h"
#include "core/runtime/spec.h"

namespace berth::engine {

// --device HOST[:CONTAINER][:PERMS] as HostConfig.Devices carries it.
struct DeviceMapping {
  std::string path_on_host;
  std::string path_in_container;   // defaults to path_on_host
  std::string cgroup_permissions;  // defaults to "rwm"
  bool operator==(const DeviceMapping&) const = default;
};

// --pid/--ipc/--uts: the namespace's mode.
struct NamespaceMode {
  enum class Kind { kPrivate, kHost, kContainer, kShareable };
  Kind kind = Kind::kPrivate;
  std::string container;  // kContainer: the name or id after "container:"
  bool operator==(const NamespaceMode&) const = default;
};

struct SecurityRequest {
  bool privileged = false;
  std::vector<std::string> cap_add, cap_drop;   // normalized: "CAP_NET_ADMIN", "ALL"
  uint64_t capabilities = runtime::kDefaultCapabilities;   // the resulting set (runtime/capabilities.h)
  bool no_new_privileges = false;
  runtime::Security::Seccomp seccomp = runtime::Security::Seccomp::kDefault;
  std::shared_ptr<const runtime::SeccompProfile> seccomp_profile;   // kProfile
  std::string seccomp_profile_json;             // kProfile: its text as given (the state file keeps it)
  bool unmasked_paths = false;                  // systempaths=unconfined
  std::vector<DeviceMapping> devices;
  std::vector<cgroups::DeviceRule> device_cgroup_rules;
  std::vector<std::string> group_add;
  std::vector<runtime::Rlimit> ulimits;
  std::vector<std::pair<std::string, std::string>> sysctls;   // sorted by name
  int64_t shm_size = 0;                         // bytes; 0: the default (64 MiB)
  NamespaceMode pid, ipc, uts;                  // ipc kShareable: others may join it
  // UsernsMode "host": the host's user namespace even when berthd remaps
  // (--userns-remap); otherwise a remapped container gets its own.
  bool host_userns = false;
};

}  // namespace berth::engine
