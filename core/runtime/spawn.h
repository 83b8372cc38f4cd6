// spawn: turn a resolved Spec into a container init process.
//
// The handshake (each step a named function on each side):
//   parent                                   child (berth:init)
//   spawn(): prepare arrays, clone3 ──────▶  keep_only_needed_fds(), join_netns() (if
//                                            netns_fd), hostname, lo, mounts,
//   (caller: cgroups, network, at the        pivot_root (meanwhile), wait_for_release()
//    same time on the other core)              ...blocked on the sync socket...
//   release(): one byte on sync_fd ───────▶  (a set-up error is reported now) setsid,
//                                            cgroupns, pty, user, caps, cwd, stdio, execve
//   wait_exec() / a ring read of error_fd ◀── EOF (exec ok) or one ChildError
// If the parent closes sync_fd without release(), the child exits 0 quietly.
// A deferred spawn (Spec::deferred, a warm init) stops before the hostname
// and the working directory, and release(p, spec) sends the rest (late.h).
//
// clone3 flags: CLONE_PIDFD | CLONE_NEW{PID,NS,UTS,IPC} | CLONE_NEWNET (if
// new_netns and no netns_fd), exit_signal SIGCHLD. With netns_fd (a netns
// from netns::create_netns(), netns/netns.h) the child joins that namespace before it
// waits for release(), so between spawn() and release() it already is in its
// final netns, as with CLONE_NEWNET. With cgroup_fd >= 0 also CLONE_INTO_CGROUP
// and CLONE_NEWCGROUP (the cgroup namespace is rooted at the target cgroup);
// without it the child unshares its cgroup namespace only after release(), so
// the namespace is rooted at the cgroup the caller placed it in (runc does the
// same), not at berthd's.
//
// Life: the init gets SIGKILL when the THREAD that called spawn() exits
// (PR_SET_PDEATHSIG, kept through execve and re-armed after the switch to a
// non-root user, whose credential change clears it). So call spawn() from a
// long-lived thread (the reactor's), never from a job-pool thread. berthd
// spawns through its keeper (keeper.h), a one-threaded process that
// outlives berthd: the init dies with the keeper, not with berthd.
//
// Threads: spawn/release/kill/reap are non-blocking and may be called from the
// reactor thread; wait_exec() blocks (tests and simple callers only). spawn()
// forks the caller's address space (no CLONE_VM: the child must block on the
// sync socket, which a vfork-style child cannot do), so its cost grows with
// the caller's page tables.
//
// Ownership: the caller owns the returned Process and must reap the child
// (reap() after the pidfd polls readable), even when spawn's caller gives up
// before release(). The stdio fds, netns_fd and cgroup_fd in the Spec stay
// the caller's.
#pragma once

#include <sys/types.h>

#include <optional>

#include "core/base/result.h"
#include "core/base/unique_fd.h"
#include "core/runtime/child_error.h"
#include "core/runtime/exit.h"
#include "core/runtime/spec.h"

namespace berth::runtime {

// Move-only (unique_fd members).
struct Process {
  pid_t pid = -1;        // in berthd's pid namespace
  unique_fd pidfd;       // from clone3 CLONE_PIDFD (close-on-exec)
  unique_fd sync_fd;     // parent end of the sync socket; release() writes and closes it
                         // (with a tty, receive_pty() closes it)
  bool tty = false;      // Spec::tty: the pty master comes on sync_fd
  bool deferred = false; // Spec::deferred: release(p, spec) only
  unique_fd error_fd;    // read end, O_CLOEXEC: EOF with no data = execve succeeded,
                         // else one ChildError (see child_error.h)
};

// Validates the spec, prepares every array the child needs, and clone3()s.
// The child blocks until release(). Errors: kInvalidArgument for a bad spec
// (netns_fd not a network namespace, or given with new_netns false), kSystem
// (with errno) for pipe/clone3 failures.
Result<Process> spawn(const Spec& spec);

// Lets the child go on (after the caller placed it in cgroups and networks).
// Closes p.sync_fd. Fails if the child already died.
Result<void> release(Process& p);

// Releases an init spawned with Spec::deferred as `late` (late.h): its
// command, env, cwd, user, hostname, tty and the stdio fds (still the
// caller's) go with the release. kInvalidArgument when `late` is bad or too
// big (check can_release_as() first); the child then still waits.
Result<void> release(Process& p, const Spec& late);

// tty: takes the pty master the child queued on the sync socket before
// execve, and closes the socket. Call once the exec status reported success
// (the master is queued by then, so this never waits). The fd is O_CLOEXEC and
// blocking (io_uring polls it).
Result<unique_fd> receive_pty(Process& p);

// Blocks until the exec status arrives on p.error_fd, then closes it. Ok when
// execve succeeded; otherwise describe_child_error(). Only meaningful after
// release().
Result<void> wait_exec(Process& p, const Spec& spec);

}  // namespace berth::runtime
