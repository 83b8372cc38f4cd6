// The keeper: one small process per daemon (not per container) that holds
// what must outlive berthd. berthd forks and execs it (berthd --keeper) the
// first time it finds none on <exec-root>/keeper.sock; a restarted berthd
// connects to the one already there.
//
// What it is: the parent of every container process (it does every clone3,
// without CLONE_PARENT, spawner.h), a PR_SET_CHILD_SUBREAPER, in a session
// of its own and deaf to SIGINT, SIGTERM, SIGHUP and SIGPIPE, with no death
// signal: berthd's death does not touch it. It reaps its children (a
// signalfd for SIGCHLD, then waitid until none is left) and records each
// exit {pid, Docker exit code, time} in a fixed table, pushed to berthd at
// once when it listens (kWatch) and kept for a container's init until
// berthd releases it, so exits during an outage are reported to the next
// berthd (kHello). It holds the read ends of every container's output pipes
// (kHold), so a container writing while berthd is down fills its pipe and
// blocks instead of dying of SIGPIPE. Protocol: keeper_proto.h.
//
// Its containers' inits keep PR_SET_PDEATHSIG tied to it: if the keeper
// dies, they die (berthd reports it, spawner.h); a keeper is the anchor of
// a container's life, berthd is not.
//
// Tables are sized once at start from RLIMIT_NOFILE and never grow; the
// loop is poll(2) over the listening socket, the signalfd and at most
// kKeeperConns connections. Spawn requests run the runtime's spawn (which
// allocates for the child's arrays); nothing else allocates.
//
// Thread: its own process, one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/runtime/keeper_proto.h"

namespace berth::runtime {

// berthd --keeper <exec-root>: listen_fd (fd 3) is bound and listening.
// Writes <exec-root>/keeper.pid. Never returns.
[[noreturn]] void keeper_main(int listen_fd, const char* exec_root);

// In spawner.cc: one spawn request served in this process (the keeper),
// without CLONE_PARENT. On success *pid and *kind say what was made and
// *id the Spec's id.
std::pair<std::string, std::vector<unique_fd>> serve_spawn(const std::string& request, std::vector<unique_fd> fds,
                                                           pid_t* pid, KeptKind* kind, std::string* id);

}  // namespace berth::runtime
