// The mount plan: the container's whole filesystem setup as plain data,
// computed by a pure function from the Spec (unit-tested without root) and
// applied step by step by a thin executor in the post-clone child
// (mount_exec.cc). A failing step reports Stage::kMountStep + its index, and
// describe_step() names it for the error message.
//
// Executor semantics, in plan order (all in the child's own mount namespace):
//   - kMakePrivate: mount(NULL, "/", MS_REC|MS_PRIVATE): nothing the child
//     mounts propagates back to the host (the overlay lives and dies with the
//     container's mount namespace) and pivot_root(2) accepts the new root.
//   - kOverlay: the new mount API (fsopen/fsconfig/fsmount/move_mount; Linux
//     5.2), one "lowerdir+" per layer (Linux 6.8) so the layer count is not
//     bound by the one-page option string. With "lowerdir+" the FIRST layer
//     added is the TOPMOST, so `options` lists the layers top first. If the
//     kernel rejects "lowerdir+" with EINVAL, the executor falls back to the
//     classic colon-separated "lowerdir" in `fallback_lowerdir` (escaped).
//     `target` is a host path (rootfs_dir); the new mount becomes the root.
//   - every later step before kPivotRoot: `target` is an absolute path inside
//     the container, resolved under the new root with openat2(RESOLVE_IN_ROOT
//     | RESOLVE_NO_MAGICLINKS), so an image symlink cannot point a mount at
//     the host. Missing mount points are created (dir, or file for a bound
//     device) in the upper layer or in /dev's tmpfs. `source` of binds is a
//     host path. The directory a step creates in is opened once and reused
//     by the steps after it with the same parent (the /dev entries).
//   - kDevice: mknodat(2) of a character or block device, `mode` exact (the
//     child runs the plan with umask 0), owned by `uid`:`gid`. We are root
//     in the initial user namespace, so mknod works and costs one syscall;
//     if it fails with EPERM (a user namespace, a devices cgroup without
//     "m"), the host node `source` is bound onto a new file instead, as runc
//     does in user namespaces. With make_parents (--device nodes such as
//     /dev/net/tun) missing directories are made first.
//   - kHostDevices (--privileged): every character and block device under
//     the host's /dev (`source`), subdirectories included but for pts, shm,
//     mqueue and fd, and not /dev/console, is made the same way at the same
//     path under the container's /dev; entries that exist are kept.
//   - kernel filesystems (/proc, /dev, /sys and those under /dev) and the
//     masked and read-only paths have `no_symlinks`: their targets resolve
//     with RESOLVE_NO_SYMLINKS too, so an image whose /proc is a symlink
//     fails instead of getting procfs (and its masks) somewhere else. A
//     masked or read-only path must also be on the filesystem its prefix
//     says (procfs under /proc, sysfs under /sys; fstatfs on the resolved
//     fd), and the /dev/null that masks files must be the char device 1:3
//     (fstat of the cloned mount, not a path in the container): the checks
//     of runc's fixes for CVE-2025-31133 and CVE-2025-52881.
//   - user mounts (Spec::mounts) come after the kernel filesystems and
//     before masking, shallowest target first (a mount inside another
//     volume lands on top of it); one on /dev/shm or /dev/mqueue replaces
//     the default mount there. Their missing parents are created too
//     (kBind, and kFilesystem with make_parents), one component at a time,
//     each resolved under the root; a dangling symlink on the way fails
//     rather than being followed to create what it names.
//   - kBind: open_tree(OPEN_TREE_CLONE[|AT_RECURSIVE]) of the host path
//     `source`, made read-only by mount_setattr (recursively for a
//     recursive bind) when `attrs` says so, moved onto `target`.
//   - kPopulate: Docker's volume copy-up: when the host directory `source`
//     (a volume's data) is empty, what the container has at `target` is
//     copied into it (copy_up.h), owners, modes and times kept. A missing or
//     non-directory `target` copies nothing.
//   - kMask over a directory: a read-only bind of the empty host directory
//     `source` (Spec::empty_dir) or, with no `source`, an empty read-only
//     tmpfs; the first one is cloned for the others. Over a file: the
//     host's /dev/null.
//   - kFilesystem with template_netns (sysfs): fsopen() runs while in
//     ChildArgs::sysfs_netns_fd's network namespace (setns there and back
//     to the child's own), which decides the superblock: one for all.
//   - kPivotRoot: pivot_root(".", ".") from the new root then
//     umount2(".", MNT_DETACH) (no put_old dir needed; see pivot_root(2)).
//   - after kPivotRoot, paths are plain absolute paths in the container.
//
// Plain values; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/runtime/spec.h"

namespace berth::runtime {

enum class MountKind {
  kMakePrivate,   // "/" rprivate
  kOverlay,       // the root filesystem
  kFilesystem,    // a new superblock: fsopen(fstype) + options, mounted with `attrs`
  kDevice,        // device node `target` (`mode`, `dev_major`:`dev_minor`); fallback: bind `source`
  kBindTree,      // recursive bind of the host dir `source` onto `target`, `attrs` recursive
  kSymlink,       // symlink `target` -> `source` (skipped if `target` exists)
  kMask,          // /dev/null over a file, over a dir the empty host dir `source` bound
                  // read-only or (no `source`) an empty read-only tmpfs, one for all
                  // masked dirs; absent: skip
  kReadonly,      // re-bind `target` onto itself read-only (recursive); absent: skip
  kPivotRoot,     // make the new root "/" and detach the host's
  kMakeDir,       // mkdir -p `target` (the working directory; after pivot_root)
  kReadonlyRoot,  // make the root mount read-only (after kMakeDir, so cwd can be created)
  kBind,          // a user's bind (or volume) of the host path `source` onto `target`
  kPopulate,      // copy `target`'s content into the empty host dir `source` (volumes)
  kHostDevices,   // --privileged: the host's device nodes under `source` made under `target`
};

struct MountOption {
  std::string key;
  std::string value;  // empty: FSCONFIG_SET_FLAG, else FSCONFIG_SET_STRING
  bool operator==(const MountOption&) const = default;
};

struct MountStep {
  MountKind kind;
  std::string target;
  std::string source;
  std::string fstype;
  uint64_t attrs = 0;                 // MOUNT_ATTR_* (fsmount(2), mount_setattr(2))
  uint32_t mode = 0;                  // kDevice: S_IFCHR or S_IFBLK | permissions
  uint32_t dev_major = 0, dev_minor = 0;  // kDevice
  uint32_t uid = 0, gid = 0;          // kDevice: the node's owner
  std::vector<MountOption> options;   // fsconfig(2) key/values, in order
  std::string fallback_lowerdir;      // kOverlay only
  bool make_parents = false;          // kFilesystem: create missing parents of `target` (kBind always does)
  bool recursive = false;             // kBind: AT_RECURSIVE (rbind; read-only applies to the whole tree)
  bool file = false;                  // kBind: the mount point is a file, not a directory
  bool no_symlinks = false;           // resolve `target` without following any symlink
  bool template_netns = false;        // kFilesystem sysfs: opened in Spec::sysfs_netns_fd's netns
  bool operator==(const MountStep&) const = default;
};

struct MountPlan {
  std::vector<MountStep> steps;
};

// Docker's default masked and read-only /proc and /sys paths.
extern const char* const kMaskedPaths[];
extern const size_t kMaskedPathCount;
extern const char* const kReadonlyPaths[];
extern const size_t kReadonlyPathCount;

// Pure: the same Spec always yields the same plan (describe_child_error
// depends on that). Spec::security shapes it: devices, privileged (/sys
// writable, no masks, host devices), systempaths=unconfined (no masks or
// read-only paths), the /dev/shm size and source (--ipc host: the host's).
MountPlan make_mount_plan(const Spec& spec);

// Whether the container gets Spec::empty_dir and Spec::cgroup_skeleton
// bound (read-only) instead of tmpfs of its own: they are set, and it has
// no CAP_SYS_ADMIN, with which it could remount the bind writable and write
// into what every container shares. Privileged containers and those with
// systempaths=unconfined have no masks and a writable cgroup view anyway.
bool shares_host_dirs(const Spec& spec);
// Whether /sys is a sysfs of Spec::sysfs_netns_fd's network namespace
// (shared by every such container) instead of the container's own.
bool shares_sysfs(const Spec& spec);
// Whether /sys/fs/cgroup is the shared skeleton (v1 views: a directory per
// hierarchy; v2's one mount needs none). ChildArgs::cgroup_skeleton.
bool binds_cgroup_skeleton(const Spec& spec);

// "mount proc on /proc", "create device /dev/null", "pivot_root to /x"...
// the verb and object of a step, for error messages.
std::string describe_step(const MountStep& step);

// The classic overlay "lowerdir=" value for layers given top first: paths
// joined with ':', with ':' and '\' escaped by a backslash.
std::string classic_lowerdir(const std::vector<std::string>& top_first);

}  // namespace berth::runtime
