// The security fields of a container's inspect HostConfig, as Docker shows
// them (normalized capability names, defaults filled in: ShmSize 64 MiB,
// IpcMode "private", the masked and read-only path lists). Pure; any thread.
#pragma once

#include "core/engine/container.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

// Sets Privileged, CapAdd, CapDrop, SecurityOpt, Devices, DeviceCgroupRules,
// DeviceRequests, GroupAdd, Ulimits, Sysctls, ShmSize, PidMode, IpcMode,
// UTSMode, UsernsMode, MaskedPaths, ReadonlyPaths and Runtime in `hc` (the
// HostConfig as received, whose SecurityOpt and UsernsMode are kept).
void add_security_fields(const engine::SecurityRequest& r, Json& hc);

}  // namespace berth::ipc
