// The mounts of POST /containers/create: HostConfig.Binds ("-v" strings),
// HostConfig.Mounts ("--mount" objects), HostConfig.Tmpfs ("--tmpfs" map)
// and Config.Volumes (anonymous volumes), parsed and validated into
// engine::MountSpec values with Docker's rules and messages (all 400s).
// What needs the disk (a bind source that must exist, volumes created on
// first use) is the engine's, at create.
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/engine/container.h"
#include "ipc/server/json_util.h"

namespace berth::ipc {

// One Binds entry: "/host:/ctr[:opts]", "volume:/ctr[:opts]" or "/ctr"
// (an anonymous volume). opts: ro|rw, nocopy (volumes), z|Z, propagation
// ([r]private; shared and slave are refused: berth's mount namespaces are
// private), consistency (ignored, as on Linux Docker).
Result<engine::MountSpec> parse_bind(const std::string& spec);

// One Mounts object ({Type, Source, Target, ReadOnly, BindOptions,
// VolumeOptions, TmpfsOptions}).
Result<engine::MountSpec> parse_mount(const Json& obj);

// One Tmpfs entry: target and Docker's option string
// ("rw,noexec,nosuid,size=65536k"). Defaults are noexec,nosuid,nodev, as
// Docker's; later options win.
Result<engine::MountSpec> parse_tmpfs(const std::string& target, const std::string& options);

// Every mount of a create body: HostConfig.Binds, Mounts, Tmpfs, then
// Config.Volumes entries not already mounted. Duplicate targets are refused
// ("Duplicate mount point: /x").
Result<std::vector<engine::MountSpec>> parse_mounts(const Json& config, const Json& host_config);

}  // namespace berth::ipc
