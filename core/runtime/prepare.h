// The parent's half of spawn: everything the post-clone child will touch,
// resolved up front into plain arrays (DESIGN.md, Spawn). The child reads
// ChildArgs and writes only into the buffers it points at (the user files and
// HOME), which the parent allocated but never touches (no page is faulted in
// the parent, so a big buffer costs nothing until the child reads a file).
//
// The child gets a copy-on-write copy of this memory at clone3, so a Prepared
// only has to outlive the clone3 call. It is neither copyable nor movable:
// ChildArgs points into it.
//
// exec_candidates() is pure, for unit tests.
// Any thread (spawn's caller's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/runtime/capabilities.h"
#include "core/runtime/mount_plan.h"
#include "core/runtime/seccomp.h"
#include "core/runtime/spec.h"
#include "core/runtime/user.h"

namespace berth::runtime {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kUserFileMax = 1 << 20;  // per file: /etc/passwd, /etc/group

// Read-only for the child, except the buffers noted.
struct ChildArgs {
  int sync_fd = -1;                  // child end of the sync socket
  int parent_pidfd = -1;             // pidfd of berthd, to check it outlived PDEATHSIG re-arming
  int error_fd = -1;                 // write end of the error pipe (O_CLOEXEC)
  int stdio[3] = {-1, -1, -1};       // -1: /dev/null inside the container
  int netns_fd = -1;                 // >= 0: setns() into it first, then close it
  int join_pidfd = -1;               // exec: >= 0, setns() into this process's namespaces
  int join_ipc_pidfd = -1;           // >= 0: setns(CLONE_NEWIPC) into this process's, before the mounts
  // Spec::userns (spawn.cc): read one byte once the parent wrote the id
  // maps, then become root of the new user namespace; overlay_fd is the
  // detached overlay the parent mounted, attached by the plan's first step.
  int userns_wait_fd = -1;
  int overlay_fd = -1;
  int sysfs_netns_fd = -1;           // Spec::sysfs_netns_fd when the plan shares sysfs; the plan closes it
  bool join_userns = false;          // exec in a remapped container: its user namespace too
  bool set_hostname = true;          // false with the host's UTS namespace
  bool unshare_cgroupns = false;     // true unless clone3 already made it (or --cgroupns host)
  // Spec::cgroup_view, after the cgroup namespace: target path, fstype,
  // options (v2: one entry at /sys/fs/cgroup itself).
  struct CgroupViewMount {
    const char* path;
    const char* fstype;
    const char* options;
  };
  const CgroupViewMount* cgroup_view = nullptr;
  size_t cgroup_view_count = 0;
  bool cgroup_view_rw = false;       // privileged: writable, as Docker's
  bool cgroup_skeleton = false;      // the plan bound Spec::cgroup_skeleton there: no tmpfs
  bool loopback_up = false;          // netns new from clone3: bring lo up (a pooled one has it up)
  const char* hostname = nullptr;
  size_t hostname_len = 0;
  const MountPlan* plan = nullptr;
  UserQuery user;                    // views into Prepared::user (or, deferred, into late_buf)
  char* passwd_buf = nullptr;        // kUserFileMax bytes, written by the child
  char* group_buf = nullptr;         // kUserFileMax bytes, written by the child
  char* const* argv = nullptr;       // NULL-terminated
  char** envp = nullptr;             // NULL-terminated; envp[home_slot] set by the child
  int home_slot = -1;                // -1 when the env already has HOME
  char* home_buf = nullptr;          // "HOME=" + kMaxHome bytes, written by the child
  const char* const* exec_paths = nullptr;  // candidates for execve, in order (at least one)
  size_t exec_path_count = 0;
  bool path_lookup = false;          // args[0] has no '/': exec_paths come from PATH
  const char* cwd = nullptr;
  uint64_t cap_keep = 0;             // capability bits kept (bounding, and effective for root)
  int cap_last = 0;                  // /proc/sys/kernel/cap_last_cap
  bool no_new_privs = false;         // prctl(PR_SET_NO_NEW_PRIVS) before the user switch
  // The compiled seccomp program (none: unconfined). Loaded before the user
  // switch without no_new_privs (loading then needs CAP_SYS_ADMIN, which
  // root still has), else last before execve; see child.cc.
  const sock_filter* seccomp_filter = nullptr;
  unsigned short seccomp_len = 0;
  const Rlimit* rlimits = nullptr;   // setrlimit each, before the capability drop
  size_t rlimit_count = 0;
  // Sysctls: paths relative to /proc/sys ("net/ipv4/ip_forward") and
  // values, written after release through the procfs the plan mounted.
  const char* const* sysctl_paths = nullptr;
  const char* const* sysctl_values = nullptr;
  size_t sysctl_count = 0;
  bool tty = false;                  // open a pty, send its master on sync_fd (child.cc)
  bool signals_blocked = false;      // Spec::signals_blocked: block all before the seccomp load
  unsigned short tty_rows = 0, tty_cols = 0;
  // Spec::deferred: hostname, cwd, user, argv, envp, exec paths, caps, tty
  // and stdio above are placeholders until the release message (late.h)
  // arrives in late_buf (kLateMax bytes, written by the child), which
  // replaces them; the hostname and the working directory are made after it.
  bool deferred = false;
  char* late_buf = nullptr;
  int32_t mkdir_step = -1;           // deferred: the final plan's kMakeDir index, from the message
  int nice = 0;                      // deferred: the priority to take at release
};

struct Prepared {
  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  ChildArgs args;
  MountPlan plan;
  UserRequest user;
  std::string hostname, cwd;
  std::vector<std::string> argv_strings, env_strings, exec_strings;
  std::vector<char*> argv, envp;
  std::vector<const char*> exec_paths;
  std::unique_ptr<char[]> buffers;   // passwd, group, home, late (uninitialized on purpose)
  std::shared_ptr<const SeccompProgram> seccomp;
  std::vector<Rlimit> rlimits;
  std::vector<std::string> sysctl_path_strings, sysctl_value_strings, group_add_strings;
  std::vector<const char*> sysctl_paths, sysctl_values, group_add;
  std::vector<std::string> cgroup_view_paths;
  std::vector<ChildArgs::CgroupViewMount> cgroup_view;
};

// Validates `spec` and fills `out` (fds in args are left for spawn to set).
// Without `child_buffers`, the child's file and late buffers are not
// allocated (late.h only encodes): a 2 MiB mmap and munmap, the latter with
// a TLB shootdown across berthd's threads, saved on each release.
Result<void> prepare(const Spec& spec, Prepared* out, bool child_buffers = true);

// execvp-style candidates: {arg0} when it contains '/', else "<dir>/<arg0>"
// for each entry of the env's PATH (the last PATH= wins; kDefaultPath when
// absent; an empty entry means the working directory, as in Go's LookPath).
std::vector<std::string> exec_candidates(const std::string& arg0, const std::vector<std::string>& env);

// The capability set a container (or exec) with `s` gets: every one when
// privileged, else s.capabilities, limited to the running kernel's.
uint64_t effective_capabilities(const Security& s);

}  // namespace berth::runtime
