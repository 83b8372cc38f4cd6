// The security fields of POST /containers/create, parsed and checked with
// Docker's rules and messages (all 400s) into a plain SecurityRequest:
// HostConfig.Privileged, CapAdd, CapDrop, SecurityOpt, MaskedPaths,
// ReadonlyPaths, Devices, DeviceCgroupRules, DeviceRequests, GroupAdd,
// Ulimits, Sysctls, ShmSize, PidMode, IpcMode, UTSMode, UsernsMode, Runtime
// (only "berth", berthd's own, is known) (and
// Config.Hostname against UTSMode host, NetworkMode host against net.*
// sysctls).
//
// What the docker CLI sends: --security-opt seccomp=FILE arrives as
// "seccomp=<the file's JSON>" (the CLI reads it), and --security-opt
// systempaths=unconfined as empty MaskedPaths and ReadonlyPaths; both
// forms, and "systempaths=unconfined" itself, are understood. AppArmor and
// SELinux options (apparmor=, label=, label:disable) are refused: this
// kernel enforces neither, and berth does not pretend to.
//
// to_runtime_security() gives the runtime::Security for what needs no
// engine state; the engine adds the rest at create/start (see there).
//
// Pure; any thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/result.h"
#include "core/engine/security_request.h"
#include "core/runtime/spec.h"
#include <nlohmann/json.hpp>

namespace berth::engine {

using Json = nlohmann::json;

// `config` is the create body's top level (for Hostname), `host_config`
// its HostConfig (null or absent: all defaults).
Result<SecurityRequest> parse_security_request(const Json& config, const Json& host_config);

// The runtime's view of `r`: capabilities, seccomp, no_new_privs,
// privileged, masked paths, ulimits, sysctls, shm size, groups and the
// host namespaces. The engine still has to add, per container:
//   - devices: runtime::resolve_devices() of each DeviceMapping (stat of
//     the host node, at create), into Security::devices;
//   - the devices cgroup: runtime::device_cgroup_rules(security,
//     r.device_cgroup_rules) given to Cgroup::set_devices() before the
//     init runs in the cgroup;
//   - --pid/--ipc container:X: X's init pidfd in join_pid_pidfd /
//     join_ipc_pidfd (X must be running), and for ipc X's shm directory;
//   - --ipc shareable: a host-side /dev/shm (runtime::make_shm() in the
//     container's directory) in shm_dir, removed with the container;
//   - exec: the container's Security copied into the exec's Spec.
runtime::Security to_runtime_security(const SecurityRequest& r);

}  // namespace berth::engine
