// The keeper's wire format (core/runtime/keeper.cc, spawner.h): what berthd
// and its keeper say on <exec-root>/keeper.sock, a SOCK_SEQPACKET socket, so
// each message is one datagram and fds ride on it as SCM_RIGHTS.
//
// A message that starts with '{' is a spawn request (the Spec as JSON,
// spawner.h), answered on the same connection. Every other message is one
// fixed KeeperMsg, its `type` saying what it is:
//
//   berthd -> keeper
//     kHello     (ctl)    answered by one kEntry per process the keeper
//                         knows (its held fds attached, at most 3: always
//                         under SCM_MAX_FD), then kEnd
//     kWatch     (events) this connection gets a kExit for every later exit
//     kHold      (events) pid, id, nfds: keep these fds (the read ends of
//                         the container's output pipes or its pty master)
//                         for the container; replaces any held before
//     kRelease   (events) pid: forget it and close what is held for it
//     kKillWarm  (events) SIGKILL every warm init no container took
//     kQuit      (events) exit (a clean shutdown that stopped everything)
//   keeper -> berthd
//     kExit      pid, exit_code (Docker's: code or 128+signal), signal, exit_ns
//     kEntry     pid, id, kind, exited (+exit fields), nfds + fds
//     kEnd
//
// Plain data; any thread.
#pragma once

#include <cstdint>

namespace berth::runtime {

enum class KeeperType : uint8_t {
  kHello = 1, kWatch, kHold, kRelease, kKillWarm, kQuit, kExit, kEntry, kEnd,
};

enum class KeptKind : uint8_t {
  kInit = 1,   // a container's init (cold, or a warm init a container took)
  kWarm,       // a warm init no container took yet (Spec::deferred)
  kExec,       // an exec'd process
};

struct KeeperMsg {
  char tag = 'K';
  KeeperType type = KeeperType::kEnd;
  KeptKind kind = KeptKind::kInit;
  uint8_t exited = 0;
  uint8_t nfds = 0;
  int32_t pid = 0;
  int32_t exit_code = 0;
  int32_t signal = 0;
  int64_t exit_ns = 0;     // CLOCK_REALTIME of the reaping
  char id[72] = {};        // container id (64 hex) + NUL
};

inline constexpr int kKeeperMaxHeld = 3;

}  // namespace berth::runtime
