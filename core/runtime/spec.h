// Spec: everything core/runtime needs to start a container's init process,
// fully resolved by the caller (core/engine) into plain data: layer
// directories, argv, env, user string, stdio fds. The runtime does no image or
// config lookups of its own, except what only the container can answer: PATH
// lookup of args[0] and the user/group names in the container's /etc/passwd
// and /etc/group, both done inside the container after pivot_root.
//
// A Spec is a plain value; any thread. spawn() copies what it needs, so the
// Spec may be destroyed once spawn() returns. The stdio fds, netns_fd,
// cgroup_fd and the pidfds in Security stay owned by the caller (close them
// after spawn() returns: the child got its own copies at clone3, and no fd
// but 0..2 reaches the container's command). Security's seccomp profile is
// shared and never modified.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/runtime/capabilities.h"
#include "core/runtime/seccomp_profile.h"

namespace berth::runtime {

// A mount the user asked for (bind, volume, tmpfs), resolved by the engine:
// volumes are binds of their host data directory. Targets are absolute,
// clean container paths; they are resolved inside the container root by the
// child (mount_plan.h), missing ones created (parents included).
struct Mount {
  enum class Kind { kBind, kTmpfs };
  Kind kind = Kind::kBind;
  std::string source;       // kBind: absolute host path
  std::string target;       // absolute, clean, not "/"
  bool readonly = false;    // kBind: recursively read-only (mount_setattr); kTmpfs: ro
  bool recursive = true;    // kBind: rbind (Docker's default) or a plain bind
  bool file = false;        // kBind: the source is not a directory (the mount point is a file)
  // kBind of a volume: before mounting, copy what the container has at
  // `target` into `source` when `source` is empty (Docker's volume copy-up).
  bool populate = false;
  // kBind: the engine makes a missing source directory before the spawn
  // (Docker's -v does; --mount refuses). The runtime ignores it.
  bool make_source = false;
  uint64_t attrs = 0;       // kTmpfs: MOUNT_ATTR_* (fsmount(2))
  std::vector<std::pair<std::string, std::string>> options;   // kTmpfs: size, mode, uid, gid, nr_inodes...
};

// A device node made in the container's /dev (--device), resolved on the
// host by resolve_devices() (devices.h): the node's type, numbers, mode
// and owner are the host node's. The devices cgroup must allow it too
// (device_cgroup_rules(), devices.h): that is the caller's cgroup setup.
struct Device {
  std::string path;                 // in the container: absolute, clean, under /dev
  char type = 'c';                  // 'c' or 'b'
  uint32_t major = 0, minor = 0;
  uint32_t file_mode = 0666;        // permission bits of the node
  uint32_t uid = 0, gid = 0;
  std::string host_path;            // bound instead when mknod is not allowed (EPERM)
  std::string permissions = "rwm";  // the cgroup access Docker's --device gives (r, w, m)
  bool operator==(const Device&) const = default;
};

// setrlimit(2) in the container (--ulimit).
struct Rlimit {
  int resource = 0;                 // RLIMIT_*
  uint64_t soft = 0, hard = 0;      // RLIM_INFINITY for unlimited
  bool operator==(const Rlimit&) const = default;
};

// How a container is confined: capabilities, seccomp, no_new_privs, device
// nodes, masked paths, limits, sysctls and namespaces. The defaults are
// Docker's defaults. Resolved by the caller: capability names are a mask
// (container_capabilities(), capabilities.h), a seccomp profile file is a
// parsed SeccompProfile, devices are stat'ed host nodes.
struct Security {
  enum class Seccomp { kDefault, kUnconfined, kProfile };
  // Docker's default set (capabilities.h); ignored when privileged.
  uint64_t capabilities = kDefaultCapabilities;
  // --privileged: every capability, no seccomp filter, /sys and /proc/sys
  // writable, no masked or read-only paths, every host device node made in
  // /dev (the devices cgroup allowing all is the caller's part).
  bool privileged = false;
  bool no_new_privileges = false;         // --security-opt no-new-privileges
  Seccomp seccomp = Seccomp::kDefault;    // kDefault: default_seccomp_profile()
  // The capability set the profile's includes/excludes are judged by:
  // kSameCapabilities is the process's own. `exec --privileged` in an
  // unprivileged container gets every capability but keeps the
  // container's filter, as compiled for the container's set (as runc
  // applies the container's filter to every exec).
  static constexpr uint64_t kSameCapabilities = ~uint64_t(0);
  uint64_t seccomp_capabilities = kSameCapabilities;
  std::shared_ptr<const SeccompProfile> seccomp_profile;   // kProfile
  bool unmasked_paths = false;            // --security-opt systempaths=unconfined
  std::vector<Device> devices;            // --device
  std::vector<Rlimit> rlimits;            // --ulimit
  // --sysctl "net.ipv4.ip_forward" -> "1": namespaced ones only
  // (validate_sysctl(), security.h), written through the container's own
  // procfs before /proc/sys is made read-only for it.
  std::vector<std::pair<std::string, std::string>> sysctls;
  int64_t shm_size = 0;                   // bytes of /dev/shm; 0: 64 MiB
  // --group-add: group names (looked up in the container's /etc/group, as
  // the user is) or numeric gids, added to the user's supplementary groups.
  std::vector<std::string> group_add;
  // Namespaces: --pid/--ipc/--uts host share berthd's; a pidfd >= 0
  // (--pid/--ipc container:X) joins that process's (the caller owns it).
  bool host_pid = false, host_ipc = false, host_uts = false;
  int join_pid_pidfd = -1, join_ipc_pidfd = -1;
  // /dev/shm as a bind of this host directory instead of a tmpfs of its
  // own: an --ipc shareable container's and its joiners' (make_shm(),
  // security.h). --ipc host binds the host's /dev/shm by itself.
  std::string shm_dir;
};

// One cgroup filesystem of the container's /sys/fs/cgroup (Spec::cgroup_view).
struct CgroupMount {
  std::string name;      // directory under /sys/fs/cgroup ("memory", "cpu,cpuacct"); "" for v2's one mount
  std::string fstype;    // "cgroup" (v1) or "cgroup2"
  std::string options;   // v1: the hierarchy's controllers ("memory", "cpu,cpuacct")
  bool operator==(const CgroupMount&) const = default;
};

// --userns-remap: the container's uids and gids 0..size-1 are the host's
// uid..uid+size-1 and gid..gid+size-1 (one range for every remapped
// container, as Docker's). size 0: the host's user namespace.
struct IdMap {
  uint32_t uid = 0, gid = 0, size = 0;
  explicit operator bool() const { return size > 0; }
  bool operator==(const IdMap&) const = default;
};

struct Spec {
  std::string id;                        // container id (64 hex), for naming only
  std::vector<std::string> lower_dirs;   // image layer dirs, LOWEST first (at least one)
  std::string upper_dir, work_dir;       // the container's own overlay upper/work dirs (exist)
  std::string rootfs_dir;                // existing empty dir, absolute: the overlay mount point
  std::vector<std::string> args;         // argv; args[0] looked up in PATH if it has no '/'
  std::vector<std::string> env;          // "K=V"; the caller adds a default PATH if missing
  std::string cwd = "/";                 // absolute; created if missing, like Docker's WorkingDir
  std::string user;                      // "", "uid", "uid:gid", "name", "name:group", "uid:group"...
  std::string hostname;                  // "" means the first 12 characters of `id`
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // child ends; -1: /dev/null in the container
  bool new_netns = true;                 // true: its own netns with only lo (up); false: host network
  int netns_fd = -1;                     // >= 0 (needs new_netns): join this pre-made netns (netns/netns.h)
                                         // instead of cloning a new one; one container per netns
  bool readonly_rootfs = false;
  std::vector<Mount> mounts;             // binds, volumes, tmpfs; in any order (the plan sorts them)
  int cgroup_fd = -1;                    // >= 0: a cgroup v2 dir fd, clone3(CLONE_INTO_CGROUP)
  // The container's /sys/fs/cgroup: these cgroup filesystems are mounted
  // there (read-only but for privileged containers) once it has its own
  // cgroup namespace, so each shows the container's cgroup as its root and
  // the container sees its own limits (memory.limit_in_bytes, memory.max),
  // as in Docker. Empty: /sys/fs/cgroup stays as sysfs has it (empty).
  std::vector<CgroupMount> cgroup_view;
  bool cgroupns_host = false;            // --cgroupns host: berthd's cgroup namespace
  // Host directories berthd keeps read-only and the same for every
  // container, bound where a container would otherwise get a tmpfs of its
  // own that nothing writes: `empty_dir` over Docker's masked directories,
  // `cgroup_skeleton` (one directory per v1 hierarchy of cgroup_view) at
  // /sys/fs/cgroup. Each saves the container a superblock, and every
  // superblock costs every memory cgroup a shrinker slot, which is what
  // limits how many containers a host runs (bench/RESULTS.md). Only for
  // containers that cannot remount them writable (shares_host_dirs(),
  // mount_plan.h); empty: tmpfs, as before.
  std::string empty_dir, cgroup_skeleton;
  // >= 0 (a container of its own netns with nothing but lo: --network
  // none): a network namespace with only lo, up, that berthd keeps. The
  // container's /sys is made while in it (fsopen; then back), and a sysfs
  // superblock belongs to its network namespace, so every such container
  // shares one instead of making its own. What differs from a sysfs of its
  // own is the lo under /sys/class/net, the template's (the same device
  // kind, flags and address; other counters). Only with
  // shares_host_dirs() and no user namespace (mount_plan.h).
  int sysfs_netns_fd = -1;
  // A pseudo-terminal from the container's own devpts: its slave becomes
  // stdin/stdout/stderr and the controlling terminal (the stdio fds above are
  // ignored), and the master comes back with receive_pty() (spawn.h).
  bool tty = false;
  unsigned short tty_rows = 0, tty_cols = 0;   // initial window size; 0: the kernel's (0x0)
  // execve with every signal blocked, for an init that takes them with
  // sigwaitinfo (berth-init, --init) and unblocks them for its command: a
  // signal sent right after the start (stop's TERM) is then pending, not
  // dropped as a namespace's PID 1 drops a signal it has no handler for.
  bool signals_blocked = false;
  // Capabilities, seccomp, devices, limits, namespaces. An exec (join_pidfd)
  // takes the container's (the caller copies them): its capabilities,
  // seccomp, no_new_privs, rlimits and group_add apply; what concerns
  // namespaces and mounts is the init's already.
  Security security;

  // Deferred (a warm init, core/engine): spawn() makes the namespaces, runs
  // the mount plan but for the working directory, and stops there; args,
  // env, cwd, user, hostname, tty and stdio above are placeholders that
  // release(p, spec) replaces with the final Spec's (late.h). Not for exec.
  bool deferred = false;
  // clone3(CLONE_PARENT): the init becomes a child of the caller's parent
  // (berthd, when its spawner process calls spawn(): core/engine/spawner.h),
  // which reaps it and whose death it watches.
  bool sibling = false;

  // exec mode (docker exec): >= 0 is the pidfd of a running container's init.
  // The process then joins that init's pid, mount, uts, ipc, network and
  // cgroup namespaces instead of making new ones, and nothing is mounted:
  // lower_dirs, upper/work/rootfs, hostname, netns and readonly_rootfs are
  // ignored. cwd must exist in the container (it is not created).
  int join_pidfd = -1;

  // A user namespace of its own with this mapping (spawn.cc): the image
  // layers are seen through idmapped mounts (no chown copy), the overlay
  // is mounted by the caller before the clone (its layers' trusted.*
  // xattrs need the host's privilege) and attached by the child; a
  // pre-made netns is entered by the caller around clone3 (the child,
  // root of its new namespace only, may not setns into it). exec: the
  // init's user namespace is joined with the rest.
  IdMap userns;
};

}  // namespace berth::runtime
