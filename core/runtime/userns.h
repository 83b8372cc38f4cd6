// User namespaces for --userns-remap (Spec::userns): the pieces spawn()
// runs in the parent, with the host's privilege, around clone3.
//
// The container's layers are never chowned or copied: each is seen through
// an idmapped mount (mount_setattr(MOUNT_ATTR_IDMAP), Linux 5.12), so a
// file the image owns as 0 shows as the remapped root's. The overlay over
// them is mounted here, in the host's user namespace: the layers' whiteout
// markers (trusted.overlay.* xattrs) are readable only with the host's
// privilege, and overlayfs takes idmapped layers only by fd ("lowerdir+"
// with FSCONFIG_SET_FD, Linux 6.13). The child, root of its new user
// namespace only, attaches the detached mount where it would have mounted.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/base/file.h"
#include "core/base/result.h"
#include "core/runtime/spec.h"

namespace berth::runtime {

// An fd of a user namespace with this mapping, for mount_setattr: made once
// per process and mapping (a child that enters a new user namespace, is
// mapped, and exits) and kept. Any thread. The fd is the cache's.
Result<int> mapping_userns(const IdMap& map);

// Writes /proc/<pid>/uid_map and gid_map ("0 uid size", "0 gid size").
Result<void> write_id_maps(pid_t pid, const IdMap& map);

// The container's overlay (lower_dirs, upper_dir, work_dir of `spec`) as a
// detached mount, its layers idmapped through `userns_fd`.
Result<unique_fd> mount_idmapped_overlay(const Spec& spec, int userns_fd);

// The first range of `name` (or of the numeric id `id`, when not empty) in
// a subordinate id file's text (/etc/subuid, /etc/subgid: "name:start:count"
// per line). Error: no such entry, or a malformed one.
struct SubIdRange {
  uint32_t start = 0, count = 0;
};
Result<SubIdRange> find_subid_range(std::string_view text, std::string_view name, std::string_view id);

// Where a new 65,536-id range can start so that it overlaps none in either
// file's text: 100,000 or above every range there.
uint32_t next_free_subid_start(std::string_view subuid, std::string_view subgid);

// berthd --userns-remap VALUE, as Docker's: "default" (the user berthremap,
// made with its ranges in /etc/subuid and /etc/subgid when missing, as
// Docker makes dockremap), "USER[:GROUP]" (names or ids; the first range
// of each in /etc/subuid, /etc/subgid), or berth's "UID:GID:SIZE" (host
// ids given outright). `name` is what `docker info` shows.
struct RemapConfig {
  IdMap map;
  std::string name;
};
Result<RemapConfig> resolve_userns_remap(std::string_view value);

}  // namespace berth::runtime
