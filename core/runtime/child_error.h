// The error-pipe protocol between a container's init (between clone3 and
// execve) and its parent, and the human messages built from it.
//
// Format: the child writes at most one ChildError (8 bytes, native endian, so
// the write is atomic on a pipe) to the close-on-exec error pipe and then
// _exit(127)s. The parent reads the pipe until EOF:
//   - EOF with no data: execve succeeded (the pipe closed on exec);
//   - 8 bytes: setup failed at `stage` with `err` (an errno value);
//   - anything else: a bug or a killed child (report as "exec status").
// A child that sees EOF on the sync socket before release() exits 0 quietly
// and writes nothing (the parent gave up on it).
//
// Stage values above kMountStep encode the index of the failing step in the
// mount plan (mount_plan.h), which the parent recomputes from the same Spec;
// likewise kSysctl + i and kGroupAddNotFound + i name the i-th sysctl or
// --group-add entry of Spec::security.
//
// describe_child_error() is pure; any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/base/result.h"
#include "core/runtime/spec.h"

namespace berth::runtime {

struct ChildError {
  int32_t stage;
  int32_t err;
};
static_assert(sizeof(ChildError) == 8);

enum class Stage : int32_t {
  kNone = 0,
  kKeepFds,        // close inherited fds, renumber the kept ones
  kDeathSignal,    // prctl(PR_SET_PDEATHSIG)
  kSignals,        // reset signal dispositions and mask
  kSync,           // read of the sync socket failed
  kSetsid,
  kCgroupns,       // unshare(CLONE_NEWCGROUP) after the parent placed us
  kCgroupView,     // mounting the cgroup filesystems at /sys/fs/cgroup
  kHostname,
  kLoopback,       // bring lo up in the new netns
  kReadPasswd,     // open/read the container's /etc/passwd
  kReadGroup,      // open/read the container's /etc/group
  kUserNotFound,   // user name not in /etc/passwd
  kGroupNotFound,  // group name not in /etc/group
  kBoundingSet,    // prctl(PR_CAPBSET_DROP) / ambient clear
  kNoNewPrivs,
  kSetgroups,
  kSetgid,
  kSetuid,
  kCapset,
  kChdir,          // chdir to the working directory
  kStdio,          // open /dev/null, dup2 onto 0..2
  kExec,
  kJoinNetns,      // setns() into Spec::netns_fd
  kJoinContainer,  // exec: setns() into the container init's namespaces
  kPty,            // open the container's /dev/ptmx, unlock, open the slave
  kPtySend,        // send the pty master to berthd
  kControllingTty, // TIOCSCTTY on the slave
  kPriority,       // deferred: setpriority() back to berthd's nice value
  kJoinIpc,        // setns() into another container's IPC namespace
  kRlimit,         // prlimit64() of a --ulimit
  kSeccomp,        // load the seccomp program
  kUserns,         // wait for the id maps, become root of the user namespace
  kSysctl = 500,   // + index into Security::sysctls (at most kMaxSysctls)
  kGroupAddNotFound = 750,  // + index into Security::group_add (at most kMaxGroupAdd)
  kMountStep = 1000,  // + index into MountPlan::steps
};

// Bounds of the stage ranges above (validate_security() refuses more).
constexpr size_t kMaxSysctls = 250, kMaxGroupAdd = 250;

// A Docker/runc-like message the docker CLI pattern-matches, e.g.
//   exec: "nope": executable file not found in $PATH
//   exec /bin/nope: no such file or directory
//   unable to find user nope: no matching entries in passwd file
//   mount proc on /proc: no such device
// `spec` must be the Spec that was spawned (args and user are read; mount
// stages recompute the plan from it).
Error describe_child_error(const ChildError& ce, const Spec& spec);

}  // namespace berth::runtime
