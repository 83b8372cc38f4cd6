// Exit statuses and signals of container processes, through their pidfds.
//
// The pidfd names its process even after it is reaped: no PID-reuse races.
// reap() works only for the caller's own children: a process the keeper
// spawned (keeper.h) is the keeper's, and reap() fails with ECHILD; its
// status then comes from the keeper (engine/keeper_link.h). reap() is the one place
// that turns a wait status into Docker's exit code (code, or 128+signal).
//
// Any thread; none of these block (reap uses WNOHANG). The pidfd stays owned
// by the caller.
#pragma once

#include <optional>

#include "core/base/result.h"

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

}  // namespace berth::runtime
