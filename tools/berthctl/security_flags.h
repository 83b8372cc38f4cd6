// The confinement flags of run and create, turned into HostConfig fields
// the way the docker CLI does (docker-cli cli/command/container/opts.go):
//   --privileged                 → Privileged
//   --cap-add/--cap-drop X       → CapAdd / CapDrop (as typed)
//   --security-opt K=V           → SecurityOpt; seccomp=FILE sends the file's
//                                  compacted JSON ("seccomp=<json>");
//                                  systempaths=unconfined becomes empty
//                                  MaskedPaths and ReadonlyPaths instead
//   --device HOST[:CTR][:PERMS]  → Devices [{PathOnHost, PathInContainer,
//                                  CgroupPermissions}] (CTR defaults to HOST,
//                                  PERMS to rwm)
//   --device-cgroup-rule R       → DeviceCgroupRules
//   --group-add G                → GroupAdd
//   --ulimit NAME=SOFT[:HARD]    → Ulimits [{Name, Soft, Hard}]
//   --sysctl K=V                 → Sysctls {K: V}
//   --shm-size SIZE              → ShmSize (bytes; 64m, 1g...)
//   --pid, --ipc, --uts, --userns, --runtime → PidMode, IpcMode, UTSMode,
//                                  UsernsMode, Runtime (as typed)
// The daemon validates the rest (400s with Docker's messages). Reads the
// seccomp profile file; otherwise pure. Single-threaded, like berthctl.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::ctl {

struct SecurityFlags {
  bool privileged = false;
  std::vector<std::string> cap_add, cap_drop, security_opt, devices, device_cgroup_rules, group_add, ulimits, sysctls;
  std::string shm_size, pid, ipc, uts, userns, runtime;
};

void add_security_flags(CLI::App* sub, SecurityFlags& f);

// Sets the HostConfig fields of the flags given in `host`. Errors as the
// docker CLI's: Invalid --security-opt: "x", opening seccomp profile (f)
// failed: ..., invalid ulimit argument: x, invalid device specification:
// x, invalid argument "x" for "--shm-size" flag: ...
Result<void> apply_security_flags(const SecurityFlags& f, nlohmann::json& host);

}  // namespace berth::ctl
