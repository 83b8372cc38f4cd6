// Exit statuses and signals of container processes, through their pidfds.
//
// The pidfd names its process even after it is reaped: no PID-reuse races.
// reap() works only for the caller's own children: a process the keeper
// spawned (keeper.h) is the keeper's, and reap() fails with ECHILD; its
// status then comes from the keeper (engine/keeper_link.h). reap() is the one place
// that turns a wait status into Docker's exit code (code, or 128+signal).
//
// A process berthd does not keep a pidfd for (the keeper's children: see
// engine/process.h) is named by {pid, start time}: identity() reads the start
// time while a pidfd pins the process, and open_pidfd() opens a pidfd again
// and checks that the pid still names the same process (a pid is reused only
// after its process is reaped, and the new one starts later).
//
// Any thread; none of these block (reap uses WNOHANG). The pidfd stays owned
// by the caller.
#pragma once

#include <optional>

#include <sys/types.h>

#include <cstdint>

#include "core/base/result.h"
#include "core/base/unique_fd.h"

namespace berth::runtime {

struct ExitStatus {
  int exit_code = 0;  // Docker's: the exit code, or 128+signal when killed
  int signal = 0;     // the killing signal, 0 on a normal exit
};

// waitid(P_PIDFD, WEXITED|WNOHANG): nullopt while the process runs. Reaps the
// process on success; a second call fails with ECHILD.
Result<std::optional<ExitStatus>> reap(int pidfd);

// pidfd_send_signal(2). Signalling an exited but unreaped process succeeds
// and does nothing; ESRCH means it was already reaped.
Result<void> kill(int pidfd, int sig);

// The start time of `pid` (/proc/<pid>/stat, clock ticks since boot), read
// while `pidfd` (the same process) is open; ESRCH if it has exited since.
Result<uint64_t> identity(pid_t pid, int pidfd);
// A new pidfd for `pid`, if it is still the process that started at
// `start_ticks` (identity()); ESRCH if it is gone.
Result<unique_fd> open_pidfd(pid_t pid, uint64_t start_ticks);

}  // namespace berth::runtime
