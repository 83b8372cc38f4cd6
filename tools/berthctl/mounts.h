// The mount flags of run and create, turned into the create body the way
// the docker CLI does (docker-cli opts/mount.go, opts/tmpfs, run's -v):
//   -v /h:/c[:opts], -v name:/c  → HostConfig.Binds (as typed; a relative
//                                  source starting with "." made absolute)
//   -v /c                        → Config.Volumes {"/c":{}} (anonymous)
//   --mount type=…,source=…,…    → HostConfig.Mounts [{Type, Source, Target,
//                                  ReadOnly, BindOptions, VolumeOptions,
//                                  TmpfsOptions}]
//   --tmpfs /c[:opts]            → HostConfig.Tmpfs {"/c": "opts"}
//   --read-only                  → HostConfig.ReadonlyRootfs
// The daemon validates the rest (and answers 400 with Docker's messages).
// Pure functions except make_binds (reads the working directory); any
// thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace berth::ctl {

struct MountFlags {
  std::vector<std::string> volumes;   // -v, --volume
  std::vector<std::string> mounts;    // --mount
  std::vector<std::string> tmpfs;     // --tmpfs
  bool read_only = false;             // --read-only
};

// One --mount value (comma-separated key=value fields, CSV quoting) as a
// Mounts object. Errors as the docker CLI's: "unexpected key 'x' in 'x=1'",
// "target is required", "cannot mix 'volume-*' options with mount type
// 'bind'", "invalid value for 'readonly': maybe"...
Result<nlohmann::json> parse_mount_flag(std::string_view value);

// One --tmpfs value: "/run" or "/run:size=64m,mode=1777".
std::pair<std::string, std::string> parse_tmpfs_flag(std::string_view value);

// -v values with a ':' (binds and named volumes, relative "." sources made
// absolute against `cwd`) and without one (anonymous volumes' targets).
struct VolumeFlags {
  std::vector<std::string> binds;
  std::vector<std::string> anonymous;
};
VolumeFlags split_volume_flags(const std::vector<std::string>& values, const std::string& cwd);

// Adds the fields of `f` to the create body's `config` and `host` objects
// (only those given).
Result<void> apply_mount_flags(const MountFlags& f, nlohmann::json& config, nlohmann::json& host);

}  // namespace berth::ctl
