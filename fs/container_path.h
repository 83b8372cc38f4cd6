// Paths inside a container's root filesystem, for docker cp (GET/HEAD/PUT
// /containers/{id}/archive): in-root resolution, Docker's naming of a copied
// path, Go's os.FileMode bits for the X-Docker-Container-Path-Stat header,
// and a detached overlay mount of a stopped container's root.
//
// Safety: every lookup starts at a directory fd that stands for the
// container's "/" (/proc/<pid>/root of a running container, or the detached
// overlay of a stopped one) and goes through openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) (openat2(2), Linux 5.6): an absolute symlink, or
// any number of "..", is clamped at that root, and /proc/<pid>/... magic
// links inside the container are refused. So nothing a container plants or
// swaps in can make berthd open a host path. The walk below an opened
// directory (fs/path_tar.h) then goes one name at a time with O_NOFOLLOW.
//
// Blocking (stat, readlink, mount): job pool only. Pure functions (split,
// go_file_mode) on any thread. Returned fds belong to the caller.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::fs {

// A cp path split the way Docker splits it (pkg/archive SplitPathDirEntry):
// "/etc/passwd" -> {"/etc", "passwd"}; "/etc/" -> {"/", "etc"} and
// `want_dir` (a trailing slash asserts a directory); "/etc/." -> {"/etc",
// "."} (the directory's contents: the tar's top entry is "."); "/" and ""
// -> {"/", "."}. `base` names the tar's top entry and the stat's name.
struct ContainerPath {
  std::string dir;
  std::string base;
  bool want_dir = false;
  std::string full() const;  // dir + "/" + base, for messages and lookups
};
ContainerPath split_container_path(std::string_view path);

// openat2(root, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS); retried on EAGAIN (a concurrent rename).
Result<unique_fd> open_in_root(int root, std::string_view path, int flags);

// What HEAD /archive reports: lstat of the path's last component (a
// symlink is not followed), with the symlink's target resolved inside the
// root to an absolute container path (Docker's linkTarget; "" otherwise).
struct PathInfo {
  std::string name;
  struct stat st = {};
  std::string link_target;
};
Result<PathInfo> stat_in_root(int root, const ContainerPath& p);

// `path` with every symlink followed inside the root, as an absolute
// container path (Docker's FollowSymlinkInScope). A missing last component
// is fine; too many links are ELOOP.
Result<std::string> follow_in_root(int root, std::string_view path);

// Go's os.FileMode for a stat mode (Go's os/stat_linux.go fillFileStatFromSys):
// permission bits plus ModeDir (1<<31), ModeSymlink (1<<27), ModeDevice
// (1<<26), ModeNamedPipe (1<<25), ModeSocket (1<<24), ModeSetuid (1<<23),
// ModeSetgid (1<<22), ModeCharDevice (1<<21), ModeSticky (1<<20).
uint32_t go_file_mode(mode_t st_mode);

// A read-write overlay of `lowers_top_first` under `upper` (with `work`)
// made with fsopen/fsconfig/fsmount and never attached anywhere: the
// returned mount fd is a root directory no other process can see, and the
// mount goes away when the last fd on it closes, so there is nothing to
// unmount and nothing left behind if berthd dies.
Result<unique_fd> mount_overlay_detached(const std::vector<std::string>& lowers_top_first, const std::string& upper,
                                         const std::string& work);

}  // namespace berth::fs
